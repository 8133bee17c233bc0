//! Grants: the URL prefixes an application may use, each with the options that
//! reach its store.

use std::collections::BTreeMap;

/// A URL prefix an application may read and write, and the store options
/// (`object_store` configuration keys: `aws_endpoint`, `aws_access_key_id`,
/// `google_service_account`, `azure_storage_account_name`, ...) that reach it.
/// A prefix covers the URLs under it at a `/` boundary; a bare `SCHEME://`
/// covers every URL of the scheme (an open driver's grant).
#[derive(Clone, PartialEq, Eq)]
pub struct Grant {
    /// The prefix, such as `s3://bucket/team/`.
    pub url: String,
    /// The options, credentials among them: never logged or shown.
    pub options: BTreeMap<String, String>,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The keys only: values may be secrets.
        f.debug_struct("Grant").field("url", &self.url).field("options", &self.options.keys()).finish()
    }
}

/// Whether the prefix `grant` covers `url`.
pub fn covers(grant: &str, url: &str) -> bool {
    if grant.ends_with("://") || grant.ends_with('/') {
        return url.starts_with(grant);
    }
    url.strip_prefix(grant).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The grant with the longest prefix covering `url`, if any.
pub fn pick<'g>(grants: impl IntoIterator<Item = &'g Grant>, url: &str) -> Option<&'g Grant> {
    grants.into_iter().filter(|g| covers(&g.url, url)).max_by_key(|g| g.url.len())
}

/// Store options for URLs of `scheme` (`s3`, `gs`, `az`...) from this process's
/// environment, as the stores' own tools read them: the `AWS_*`, `GOOGLE_*` or
/// `AZURE_*` variables that are options of that store, lowercased
/// (`AWS_ACCESS_KEY_ID` is `aws_access_key_id`).
pub fn env_options(scheme: &str) -> BTreeMap<String, String> {
    let url = format!("{scheme}://bucket");
    std::env::vars()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .filter(|(k, _)| ["aws_", "google_", "azure_"].iter().any(|p| k.starts_with(p)))
        .filter(|(k, _)| crate::open::known_option(&url, k).unwrap_or(false))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_cover_at_slash_boundaries() {
        assert!(covers("s3://b", "s3://b/x") && covers("s3://b", "s3://b"));
        assert!(!covers("s3://b", "s3://bb/x"));
        assert!(covers("s3://b/team/", "s3://b/team/x") && !covers("s3://b/team/", "s3://b/teams"));
        assert!(covers("s3://", "s3://any/thing") && !covers("s3://", "gs://any"));
        let grant = |url: &str| Grant { url: url.into(), options: BTreeMap::new() };
        let grants = [grant("s3://"), grant("s3://b"), grant("s3://b/x")];
        assert_eq!(pick(&grants, "s3://b/x/y").unwrap().url, "s3://b/x");
        assert_eq!(pick(&grants, "s3://c/y").unwrap().url, "s3://");
        assert!(pick(&grants, "gs://c/y").is_none());
    }

    #[test]
    fn debug_hides_option_values() {
        let g = Grant { url: "s3://b".into(), options: [("aws_secret_access_key".into(), "hunter2".into())].into() };
        let shown = format!("{g:?}");
        assert!(shown.contains("aws_secret_access_key") && !shown.contains("hunter2"), "{shown}");
    }
}
