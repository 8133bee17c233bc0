//! Object stores in the driver's config: options per URL prefix for every
//! application (`[[stores]]`), and each tenant's `locations`, the only URL
//! prefixes its jobs may read and write. What a location's store needs comes
//! from the location itself, else from the `[[stores]]` entry covering it, else
//! from the driver's environment (`AWS_*`, `GOOGLE_*`, `AZURE_*`), in that order
//! of precedence, key by key.

use std::collections::BTreeMap;

use serde::Deserialize;
use spindle_store::{Grant, Object};

use crate::config::ConfigError;

/// Schemes an open driver grants whole, with the driver's environment.
const OPEN_SCHEMES: [&str; 7] = ["s3", "s3a", "gs", "az", "abfs", "abfss", "https"];

/// `[[stores]]`: options for the URLs under `url`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoreFile {
    url: String,
    #[serde(default)]
    options: BTreeMap<String, String>,
}

/// A tenant's location: a URL prefix, with options of its own or not.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum LocationFile {
    Url(String),
    Full {
        url: String,
        #[serde(default)]
        options: BTreeMap<String, String>,
    },
}

fn invalid(key: &str, reason: String) -> ConfigError {
    ConfigError::Invalid { path: None, key: key.to_string(), reason }
}

fn scheme_of(url: &str) -> &str {
    url.split_once("://").map_or("", |(s, _)| s)
}

/// A grant of `url` with `options` over the environment's, checked by opening it
/// (a bad URL or an unknown option is refused here, not at the first job).
fn grant(key: &str, url: &str, options: &BTreeMap<String, String>) -> Result<Grant, ConfigError> {
    if !spindle_store::is_url(url) {
        return Err(invalid(key, format!("{url} is not an object store's URL (host paths go in `roots`)")));
    }
    let mut all = spindle_store::env_options(scheme_of(url));
    all.extend(options.iter().map(|(k, v)| (k.clone(), v.clone())));
    Object::open(url, &all).map_err(|e| invalid(key, e.to_string()))?;
    Ok(Grant { url: url.trim_end_matches('/').to_string(), options: all })
}

/// The `[[stores]]` entries, checked.
pub(crate) fn stores(files: &[StoreFile]) -> Result<Vec<Grant>, ConfigError> {
    files.iter().map(|f| grant("stores", &f.url, &f.options)).collect()
}

/// A tenant's locations, each with its options over those of the store entry
/// covering it.
pub(crate) fn locations(key: &str, files: &[LocationFile], stores: &[Grant]) -> Result<Vec<Grant>, ConfigError> {
    files
        .iter()
        .map(|f| {
            let (url, own) = match f {
                LocationFile::Url(url) => (url, None),
                LocationFile::Full { url, options } => (url, Some(options)),
            };
            let mut options = spindle_store::pick(stores, url).map(|s| s.options.clone()).unwrap_or_default();
            options.extend(own.into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())));
            grant(key, url, &options)
        })
        .collect()
}

/// What an open driver grants every application: the configured stores, and
/// every other URL of a store with the driver's environment.
pub(crate) fn open_grants(stores: &[Grant]) -> Vec<Grant> {
    let mut grants: Vec<Grant> =
        OPEN_SCHEMES.iter().map(|s| Grant { url: format!("{s}://"), options: spindle_store::env_options(s) }).collect();
    // Plain HTTP, for reading from servers on a trusted network.
    grants.push(Grant { url: "http://".into(), options: [("allow_http".into(), "true".into())].into() });
    grants.extend(stores.iter().cloned());
    grants
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_take_their_store_options_and_refuse_bad_ones() {
        let s: Vec<StoreFile> = toml::from_str::<BTreeMap<String, Vec<StoreFile>>>(
            "s = [{ url = \"s3://data\", options = { aws_endpoint = \"http://127.0.0.1:9\", aws_region = \"eu\" } }]",
        )
        .unwrap()
        .remove("s")
        .unwrap();
        let stores = stores(&s).unwrap();
        let locs = [
            LocationFile::Url("s3://data/alice/".into()),
            LocationFile::Full { url: "s3://data/shared".into(), options: [("aws_region".into(), "us".into())].into() },
        ];
        let grants = locations("tenants.alice.locations", &locs, &stores).unwrap();
        assert_eq!(grants[0].url, "s3://data/alice");
        assert_eq!(grants[0].options["aws_endpoint"], "http://127.0.0.1:9");
        assert_eq!(grants[1].options["aws_region"], "us");
        let bad = [LocationFile::Full { url: "s3://x".into(), options: [("aws_secret".into(), "k".into())].into() }];
        let e = locations("tenants.alice.locations", &bad, &stores).unwrap_err().to_string();
        assert!(e.contains("tenants.alice.locations") && e.contains("unknown store option `aws_secret`"), "{e}");
        let host = [LocationFile::Url("/data/alice".into())];
        assert!(locations("k", &host, &stores).unwrap_err().to_string().contains("roots"));
    }
}
