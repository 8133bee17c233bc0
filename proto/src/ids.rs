//! Newtype identifiers: the compiler refuses to mix them.

use std::fmt;

macro_rules! string_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub String);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

macro_rules! number_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

string_id!(
    /// One submitted application (`app-NNNN`).
    AppId
);
/// One executor process, as the driver numbered it when it registered: the key
/// of its registry. Shown, logged and sent on the wire as `exec-N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExecutorId(pub u64);

impl ExecutorId {
    /// The id an `exec-N` string names (as a message or status carries it), or
    /// `None` if it names none.
    pub fn parse(s: &str) -> Option<Self> {
        s.strip_prefix("exec-")?.parse().ok().map(ExecutorId)
    }
}

impl fmt::Display for ExecutorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exec-{}", self.0)
    }
}
number_id!(
    /// One action's job within the driver.
    JobId
);
number_id!(
    /// One stage within the driver.
    StageId
);
number_id!(
    /// One shuffle (the output of one `reduce-by-key`) within an application.
    ShuffleId
);
