//! The SDK's error type.

use std::fmt;

/// An error in a job: a failed action, a bad input, a record that did not decode.
/// Any `std::error::Error` converts into it, so `?` works in `main`.
pub struct Error(String);

/// `Result` with the SDK's [`Error`].
pub type Result<T> = core::result::Result<T, Error>;

impl Error {
    /// An error with this message.
    pub fn msg(msg: impl fmt::Display) -> Self {
        Error(msg.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({:?})", self.0)
    }
}

impl<E: std::error::Error> From<E> for Error {
    fn from(e: E) -> Self {
        Error(e.to_string())
    }
}
