//! The error of this layer: connection settings (credentials, TLS files, peer
//! URLs) that cannot be used, each naming the setting and what to do.

use std::path::PathBuf;

/// Why credentials, TLS settings or a peer's URL cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A credential that cannot travel in a gRPC header.
    #[error("the {what} must be printable ASCII")]
    NotAscii {
        /// Which credential: `cluster secret`, `tenant name`, `tenant token`.
        what: &'static str,
    },
    /// A TLS file that could not be read.
    #[error("reading the TLS {what} {}: {error}", path.display())]
    Read {
        /// Which file: `certificate`, `key`, `CA certificate`.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
    /// TLS flags given in a combination that does not work.
    #[error("{0}")]
    Flags(&'static str),
    /// A URL that is malformed or does not match the TLS settings.
    #[error("`{url}`: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong, and what to give instead.
        reason: String,
    },
}
