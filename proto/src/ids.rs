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
string_id!(
    /// One executor process, as assigned by the driver (`exec-N`).
    ExecutorId
);
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
