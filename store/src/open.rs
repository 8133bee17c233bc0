//! Opening a URL: its store, made once per store and options and shared (a
//! store holds a pool of connections), and its path in it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex, Once};
use std::time::Duration;

use object_store::ObjectStore;
use object_store::path::Path;

use crate::StoreError;

/// Stores made so far, by `scheme://authority` and options.
type Stores = HashMap<(String, BTreeMap<String, String>), Arc<dyn ObjectStore>>;
static STORES: LazyLock<Mutex<Stores>> = LazyLock::new(Default::default);
/// Most stores kept; past it the cache starts again (a store is cheap to make
/// again, and a driver serving many tenants should not grow without bound).
const MAX_STORES: usize = 256;

/// An object (or prefix) in a store.
#[derive(Clone)]
pub struct Object {
    store: Arc<dyn ObjectStore>,
    /// Its path in the store.
    pub path: Path,
    /// `scheme://authority` (and, for a URL whose path names a bucket, the
    /// bucket): what [`Object::url_of`] puts before a path.
    base: String,
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.url())
    }
}

impl PartialEq for Object {
    fn eq(&self, other: &Self) -> bool {
        self.base == other.base && self.path == other.path
    }
}

impl Eq for Object {}

fn install_crypto() {
    static ONCE: Once = Once::new();
    // Another part of the process may have installed one: either serves.
    #[allow(deprecated, reason = "ring is the one crypto library of the build (tonic's TLS uses it too)")]
    ONCE.call_once(|| drop(rustls::crypto::ring::default_provider().install_default()));
}

/// How long a failing request is retried: 3 times, within 30 s (object_store's
/// default, 10 times within 3 minutes, keeps a job waiting on a wrong endpoint).
fn retry() -> object_store::RetryConfig {
    object_store::RetryConfig { max_retries: 3, retry_timeout: Duration::from_secs(30), ..Default::default() }
}

/// The store serving `url` with `options` (as `object_store::parse_url_opts`
/// makes it, with [`retry`]), and the URL's path in it.
fn build(
    url: &url::Url,
    options: &BTreeMap<String, String>,
) -> Result<(Box<dyn ObjectStore>, Path), object_store::Error> {
    use object_store::ObjectStoreScheme as S;
    let (scheme, path) = S::parse(url)?;
    let path = Path::parse(path)?;
    macro_rules! build {
        ($builder:ty, $url:expr) => {{
            let mut builder = <$builder>::new().with_url($url.to_string()).with_retry(retry());
            for (key, value) in options {
                if let Ok(key) = key.to_ascii_lowercase().parse() {
                    builder = builder.with_config(key, value);
                }
            }
            Box::new(builder.build()?) as Box<dyn ObjectStore>
        }};
    }
    let store = match scheme {
        S::AmazonS3 => build!(object_store::aws::AmazonS3Builder, url),
        S::GoogleCloudStorage => build!(object_store::gcp::GoogleCloudStorageBuilder, url),
        S::MicrosoftAzure => build!(object_store::azure::MicrosoftAzureBuilder, url),
        S::Http => build!(object_store::http::HttpBuilder, &url[..url::Position::BeforePath]),
        other => {
            return Err(object_store::Error::Generic {
                store: "spindle",
                source: format!("{other:?} is not an object store").into(),
            });
        }
    };
    Ok((store, path))
}

/// Whether `key` is an option of the store serving `url` (an error: no store
/// serves it).
pub(crate) fn known_option(url: &str, key: &str) -> Result<bool, StoreError> {
    use object_store::ObjectStoreScheme as S;
    let parsed = url::Url::parse(url).map_err(|e| StoreError::url(url, format!("not a valid URL: {e}")))?;
    let (scheme, _) = object_store::ObjectStoreScheme::parse(&parsed)
        .map_err(|e| StoreError::url(url, format!("no store serves this URL: {e}")))?;
    let key = key.to_ascii_lowercase();
    Ok(match scheme {
        S::AmazonS3 => key.parse::<object_store::aws::AmazonS3ConfigKey>().is_ok(),
        S::GoogleCloudStorage => key.parse::<object_store::gcp::GoogleConfigKey>().is_ok(),
        S::MicrosoftAzure => key.parse::<object_store::azure::AzureConfigKey>().is_ok(),
        S::Http => key.parse::<object_store::ClientConfigKey>().is_ok(),
        _ => return Err(StoreError::url(url, "not an object store's URL")),
    })
}

/// Refuses `.` and `..` segments (spelt out or percent-encoded): a URL is
/// checked against grants as written, so it must mean what it says (the URL
/// parser would resolve `a/../b` to `b`).
pub fn check_segments(url: &str) -> Result<(), StoreError> {
    let path = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = path.split(['?', '#']).next().unwrap_or_default();
    if path.split('/').any(|s| s == "." || s == "..") || path.to_ascii_lowercase().contains("%2e") {
        return Err(StoreError::url(url, "a URL may not have `.` or `..` segments"));
    }
    Ok(())
}

impl Object {
    /// Opens `url` with `options`. Refuses an option the URL's store does not
    /// know, so that a misspelt key is not silently ignored.
    pub fn open(url: &str, options: &BTreeMap<String, String>) -> Result<Object, StoreError> {
        install_crypto();
        check_segments(url)?;
        let parsed = url::Url::parse(url).map_err(|e| StoreError::url(url, format!("not a valid URL: {e}")))?;
        for key in options.keys() {
            if !known_option(url, key)? {
                return Err(StoreError::url(url, format!("unknown store option `{key}` for this URL's store")));
            }
        }
        let raw = parsed.as_str();
        let authority = &raw[..parsed[..url::Position::BeforePath].len()];
        let mut cache = STORES.lock().expect("store cache lock");
        let key = (authority.to_string(), options.clone());
        let (store, path) = match cache.get(&key) {
            Some(store) => {
                // The path as `parse_url_opts` finds it, without making a store.
                let (_, path) = object_store::ObjectStoreScheme::parse(&parsed)
                    .map_err(|e| StoreError::url(url, format!("no store serves this URL: {e}")))?;
                let path = Path::parse(path).map_err(|e| StoreError::url(url, e.to_string()))?;
                (store.clone(), path)
            }
            None => {
                let (store, path) =
                    build(&parsed, options).map_err(|source| StoreError::Store { url: url.to_string(), source })?;
                let store: Arc<dyn ObjectStore> = Arc::from(store);
                if cache.len() >= MAX_STORES {
                    cache.clear();
                }
                cache.insert(key, store.clone());
                (store, path)
            }
        };
        // The base is the URL without its object path (for `https://` S3 URLs
        // the bucket is in the path, before the object's).
        let trimmed = raw.trim_end_matches('/');
        let base = match trimmed.strip_suffix(path.as_ref()) {
            Some(b) if !path.as_ref().is_empty() => b.trim_end_matches('/'),
            _ if path.as_ref().is_empty() => trimmed,
            _ => authority,
        };
        Ok(Object { store, path, base: base.to_string() })
    }

    /// The same store at `path`.
    pub fn at(&self, path: Path) -> Object {
        Object { store: self.store.clone(), path, base: self.base.clone() }
    }

    /// The URL of `path` in this object's store.
    pub fn url_of(&self, path: &Path) -> String {
        if path.as_ref().is_empty() { self.base.clone() } else { format!("{}/{}", self.base, path) }
    }

    /// This object's URL.
    pub fn url(&self) -> String {
        self.url_of(&self.path)
    }

    /// Its store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// An error of a request about this object.
    pub(crate) fn error(&self, source: object_store::Error) -> StoreError {
        StoreError::Store { url: self.url(), source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_open_to_a_store_and_path() {
        let opts: BTreeMap<String, String> =
            [("aws_endpoint".to_string(), "http://127.0.0.1:9".to_string())].into_iter().collect();
        let o = Object::open("s3://bucket/dir/part-00000", &opts).unwrap();
        assert_eq!(o.path.as_ref(), "dir/part-00000");
        assert_eq!(o.url(), "s3://bucket/dir/part-00000");
        assert_eq!(o.at(Path::from("x/y")).url(), "s3://bucket/x/y");
        assert_eq!(Object::open("s3://bucket/", &opts).unwrap().url(), "s3://bucket");
        let bad: BTreeMap<String, String> = [("aws_secret_acess_key".to_string(), "x".to_string())].into();
        let e = Object::open("s3://bucket/k", &bad).unwrap_err().to_string();
        assert!(e.contains("unknown store option `aws_secret_acess_key`"), "{e}");
        for up in ["s3://bucket/a/../b", "s3://bucket/a/%2E%2e/b", "s3://bucket/./b"] {
            assert!(Object::open(up, &opts).unwrap_err().to_string().contains("`..`"), "{up}");
        }
        assert!(Object::open("ftp://host/x", &opts).is_err());
        // Other stores open the same way (no request is made until a read).
        let az: BTreeMap<String, String> = [("azure_storage_account_name".to_string(), "acct".to_string())].into();
        for _ in 0..2 {
            assert_eq!(Object::open("az://container/a/b.txt", &az).unwrap().url(), "az://container/a/b.txt");
        }
        let http = Object::open("https://example.com/data/a.txt", &BTreeMap::new()).unwrap();
        assert_eq!(http.url(), "https://example.com/data/a.txt");
    }
}
