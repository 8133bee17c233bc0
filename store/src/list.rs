//! What an input URL names: one object, the objects of a "directory" (a prefix
//! followed by `/`, not descending into deeper prefixes), or the objects a glob
//! in the path matches, each with its size. An `http(s)://` URL names one
//! object (web servers have no listing). Names starting with `_` or `.` are
//! skipped, as in Spark (`_SUCCESS`, `_temporary/`).

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;

use crate::{Object, StoreError};

/// An object found, with its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its URL.
    pub url: String,
    /// Its size in bytes.
    pub size: u64,
}

fn hidden(path: &Path) -> bool {
    path.filename().is_some_and(|n| n.starts_with('.') || n.starts_with('_'))
}

/// The objects `url` names, sorted by URL. A glob that matches nothing, and a
/// URL that is neither an object nor a prefix with objects under it, are errors.
pub async fn list(url: &str, object: &Object) -> Result<Vec<Listed>, StoreError> {
    let path = object.path.as_ref();
    let mut found = Vec::new();
    if url.starts_with("http://") || url.starts_with("https://") {
        // A web server lists nothing: the URL names one object.
        let meta = object.store().head(&object.path).await.map_err(|e| object.error(e))?;
        return Ok(vec![Listed { url: object.url(), size: meta.size }]);
    }
    if path.contains(['*', '?', '[']) {
        let pattern = glob::Pattern::new(path).map_err(|e| StoreError::url(url, format!("bad glob pattern: {e}")))?;
        // List from the deepest prefix without a glob character.
        let fixed: Vec<&str> = path.split('/').take_while(|s| !s.contains(['*', '?', '['])).collect();
        let prefix = Path::from_iter(fixed);
        let options = glob::MatchOptions { require_literal_separator: true, ..Default::default() };
        let all: Vec<_> =
            object.store().list(Some(&prefix)).try_collect().await.map_err(|e| object.at(prefix.clone()).error(e))?;
        for meta in all {
            if pattern.matches_with(meta.location.as_ref(), options) && !hidden(&meta.location) {
                found.push(Listed { url: object.url_of(&meta.location), size: meta.size });
            }
        }
        if found.is_empty() {
            return Err(StoreError::url(url, "the pattern matches no objects"));
        }
    } else {
        // A prefix with objects under it first (some servers fail a HEAD of a
        // "directory" instead of answering that no such object exists), then
        // the object itself.
        let listed = object.store().list_with_delimiter(Some(&object.path)).await.map_err(|e| object.error(e))?;
        if listed.objects.is_empty() && listed.common_prefixes.is_empty() {
            if path.is_empty() {
                return Err(StoreError::url(url, "the bucket has no objects"));
            }
            return match object.store().head(&object.path).await {
                Ok(meta) => Ok(vec![Listed { url: object.url(), size: meta.size }]),
                Err(object_store::Error::NotFound { .. }) => {
                    Err(StoreError::url(url, "does not exist (no object, and no objects under it)"))
                }
                Err(e) => Err(object.error(e)),
            };
        }
        for meta in listed.objects {
            if !hidden(&meta.location) {
                found.push(Listed { url: object.url_of(&meta.location), size: meta.size });
            }
        }
    }
    found.sort_by(|a, b| a.url.cmp(&b.url));
    Ok(found)
}
