//! Where data lives: inputs and outputs named by URL, on Apache Arrow's
//! `object_store`. A plain path or a `file://` URL is a host path (read and
//! written by the driver and executors directly, as before); `s3://` (and any
//! S3-compatible endpoint), `gs://`, `az://` (`abfs://`, `abfss://`) and, for
//! reading, `http(s)://` name objects in a store.
//!
//! - [`Grant`]: a URL prefix an application may use, with the options
//!   (endpoint, region, credentials: `object_store`'s configuration keys, such
//!   as `aws_access_key_id`) to reach it. The driver grants, executors open only
//!   what a grant covers. A grant's options are never shown: its `Debug` hides them.
//! - [`Object`]: an opened URL: its store (shared by every URL with the same
//!   store and options) and its path in it.
//! - [`list`]: the objects an input URL names (one object, a "directory"'s
//!   objects, or a glob's matches), with their sizes.
//! - [`Object::reader`] and [`Object::writer`]: streamed reads from an offset,
//!   decompressed when asked, and writes uploaded in parts as they grow.

mod grant;
mod io;
mod list;
mod open;

pub use grant::{Grant, covers, env_options, pick};
pub use io::{Codec, decoder};
pub use list::{Listed, list};
pub use open::{Object, check_segments};

/// Why a URL could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is malformed, of a scheme with no store, or names no object.
    #[error("{url}: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store refused or failed a request.
    #[error("{url}: {source}")]
    Store {
        /// The object or prefix the request was about.
        url: String,
        /// The store's error.
        source: object_store::Error,
    },
}

impl StoreError {
    fn url(url: &str, reason: impl Into<String>) -> Self {
        StoreError::Url { url: url.to_string(), reason: reason.into() }
    }

    /// Whether the object asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::Store { source: object_store::Error::NotFound { .. }, .. })
    }
}

/// Whether `name` is a URL of an object store (not a host path: a plain path or `file://`).
pub fn is_url(name: &str) -> bool {
    scheme(name).is_some_and(|s| s != "file")
}

/// The host path a plain path or a `file://` URL names (`None` for a store's URL).
pub fn host_path(name: &str) -> Option<&str> {
    match scheme(name) {
        None => Some(name),
        Some("file") => Some(&name["file://".len()..]),
        Some(_) => None,
    }
}

/// The scheme of `name` if it is `SCHEME://...`.
fn scheme(name: &str) -> Option<&str> {
    let (scheme, _) = name.split_once("://")?;
    (!scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .then_some(scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_paths_and_urls() {
        assert!(is_url("s3://bucket/key") && is_url("https://example.com/a.txt"));
        assert!(!is_url("/data/in.txt") && !is_url("file:///data/in.txt") && !is_url("rel/path"));
        assert_eq!(host_path("file:///data/in.txt"), Some("/data/in.txt"));
        assert_eq!(host_path("/data/a://b"), Some("/data/a://b"));
        assert_eq!(host_path("gs://b/k"), None);
    }
}
