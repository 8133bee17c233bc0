//! Where a tenant's jobs may read and write on the host. With tenants
//! configured, each lists its `roots`: the only directories its inputs and
//! outputs may be under, checked here on the driver after `..`, symlinks,
//! relative paths and globs are resolved, and again by the executor before it
//! opens anything (the roots travel in each task's spec). A tenant without
//! roots may use no host path at all. The engine's own files (the driver's
//! config file, which holds every token, and its compiled cache) are refused
//! whatever the roots say. An open driver (no tenants) is one user's: no rule.
//!
//! Object stores are reached through grants (`stores.rs`): a tenant's
//! `locations`, or on an open driver every store URL. A URL no grant covers is
//! refused here, and by executors, which open only what the task's grants
//! cover, with the grant's options.

use std::path::{Component, Path, PathBuf};

use spindle_store::{Grant, Object};

use crate::DriverError;

/// The host paths and store URLs an application may use.
#[derive(Debug, Clone)]
pub struct DataAccess {
    host: HostAccess,
    /// The store URL prefixes it may use, with their stores' options.
    stores: Vec<Grant>,
}

/// The host paths an application may use.
#[derive(Debug, Clone)]
enum HostAccess {
    /// An open driver: any path the driver and executors can reach.
    Open,
    /// Only under these directories (resolved), never under `engine`.
    Roots {
        /// The tenant, for messages.
        tenant: String,
        /// The directories it may use.
        roots: Vec<PathBuf>,
        /// Directories of the engine's own (the config file's, caches): never.
        engine: Vec<PathBuf>,
    },
}

impl Default for DataAccess {
    /// An open driver's, with no stores configured.
    fn default() -> Self {
        DataAccess::open(crate::stores::open_grants(&[]))
    }
}

impl DataAccess {
    /// An open driver's rule: any host path, and the store URLs `stores` grants.
    pub fn open(stores: Vec<Grant>) -> DataAccess {
        DataAccess { host: HostAccess::Open, stores }
    }

    /// The rule for `tenant` with `roots` (resolved), the engine's files aside,
    /// and its store `locations`.
    pub fn roots(tenant: &str, roots: &[PathBuf], engine: &[PathBuf], locations: Vec<Grant>) -> DataAccess {
        // Engine paths that do not exist (yet) cannot be resolved: keep them as given.
        let engine = engine.iter().map(|p| p.canonicalize().unwrap_or_else(|_| p.clone())).collect();
        DataAccess {
            host: HostAccess::Roots { tenant: tenant.to_string(), roots: roots.to_vec(), engine },
            stores: locations,
        }
    }

    /// The resolved directories, for task specs (`None`: no rule).
    pub fn root_list(&self) -> Option<Vec<String>> {
        match &self.host {
            HostAccess::Open => None,
            HostAccess::Roots { roots, .. } => Some(roots.iter().map(|r| r.display().to_string()).collect()),
        }
    }

    /// The store grants, for task specs.
    pub fn store_grants(&self) -> Vec<spindle_proto::StoreGrant> {
        let grant = |g: &Grant| spindle_proto::StoreGrant {
            url: g.url.clone(),
            options: g.options.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        };
        self.stores.iter().map(grant).collect()
    }

    /// `url` opened with the options of the grant covering it, if the
    /// application may use it.
    pub fn object(&self, url: &str) -> Result<Object, DriverError> {
        let refused = |reason: String| DriverError::Access { path: url.to_string(), reason };
        spindle_store::check_segments(url).map_err(|e| refused(e.to_string()))?;
        let Some(grant) = spindle_store::pick(&self.stores, url) else {
            let who = match &self.host {
                HostAccess::Open => "this driver".to_string(),
                HostAccess::Roots { tenant, .. } => format!("tenant `{tenant}`"),
            };
            let list = self.stores.iter().map(|g| g.url.as_str()).collect::<Vec<_>>().join(", ");
            let list = if list.is_empty() { "none".to_string() } else { list };
            return Err(refused(format!(
                "{who} may not use it: it is under none of its locations (its locations: {list})"
            )));
        };
        Object::open(url, &grant.options).map_err(|e| refused(e.to_string()))
    }

    fn refuse(&self, path: &Path, why: &str) -> DriverError {
        let (tenant, roots) = match &self.host {
            HostAccess::Open => ("", String::new()),
            HostAccess::Roots { tenant, roots, .. } => {
                let list = roots.iter().map(|r| r.display().to_string()).collect::<Vec<_>>().join(", ");
                (tenant.as_str(), if list.is_empty() { "none".to_string() } else { list })
            }
        };
        DriverError::Access {
            path: path.display().to_string(),
            reason: format!("tenant `{tenant}` may not use it: {why} (its roots: {roots})"),
        }
    }

    /// `resolved` (absolute, no symlinks) is allowed.
    fn check(&self, shown: &Path, resolved: &Path) -> Result<(), DriverError> {
        let HostAccess::Roots { roots, engine, .. } = &self.host else { return Ok(()) };
        if engine.iter().any(|e| resolved.starts_with(e)) {
            return Err(self.refuse(shown, "it is one of the engine's own files"));
        }
        if !roots.iter().any(|r| resolved.starts_with(r)) {
            return Err(self.refuse(shown, &format!("{} is under none of its roots", resolved.display())));
        }
        Ok(())
    }

    /// The resolved path of an input file or directory, if the application may read it.
    pub fn readable(&self, path: &Path) -> Result<PathBuf, DriverError> {
        let resolved = path
            .canonicalize()
            .map_err(|e| DriverError::Input { path: path.display().to_string(), reason: e.to_string() })?;
        self.check(path, &resolved)?;
        Ok(resolved)
    }

    /// The resolved path of an output directory (that need not exist yet), if
    /// the application may write it: its deepest existing ancestor resolved,
    /// and the rest plain names.
    pub fn writable(&self, path: &Path) -> Result<PathBuf, DriverError> {
        let abs = std::path::absolute(path)
            .map_err(|e| DriverError::Output { path: path.display().to_string(), reason: e.to_string() })?;
        let mut existing = abs.as_path();
        let mut rest = Vec::new();
        while !existing.exists() {
            rest.push(existing.file_name().map(PathBuf::from));
            existing = match existing.parent() {
                Some(p) => p,
                None => break,
            };
        }
        let mut resolved = existing
            .canonicalize()
            .map_err(|e| DriverError::Output { path: path.display().to_string(), reason: e.to_string() })?;
        for part in rest.into_iter().rev() {
            // `..` or `.` after a missing directory cannot be resolved: refuse it.
            let Some(name) = part.filter(|p| matches!(p.components().next(), Some(Component::Normal(_)))) else {
                return Err(self.refuse(path, "it goes up (`..`) from a directory that does not exist"));
            };
            resolved.push(name);
        }
        self.check(path, &resolved)?;
        Ok(resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_under_roots_and_never_engine_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().canonicalize().unwrap();
        let (mine, theirs, engine) = (d.join("mine"), d.join("theirs"), d.join("mine/engine"));
        for p in [&mine, &theirs, &engine] {
            std::fs::create_dir_all(p).unwrap();
        }
        std::fs::write(mine.join("in.txt"), "x").unwrap();
        std::fs::write(theirs.join("secret.txt"), "y").unwrap();
        std::fs::write(engine.join("driver.toml"), "z").unwrap();
        std::os::unix::fs::symlink(theirs.join("secret.txt"), mine.join("link.txt")).unwrap();
        let access = DataAccess::roots("alice", std::slice::from_ref(&mine), std::slice::from_ref(&engine), vec![]);
        assert_eq!(access.readable(&mine.join("in.txt")).unwrap(), mine.join("in.txt"));
        for bad in [
            theirs.join("secret.txt"),
            mine.join("../theirs/secret.txt"),
            mine.join("link.txt"),
            engine.join("driver.toml"),
        ] {
            let e = access.readable(&bad).unwrap_err().to_string();
            assert!(e.contains("tenant `alice` may not use it") && e.contains(&bad.display().to_string()), "{e}");
        }
        assert_eq!(access.writable(&mine.join("out/new")).unwrap(), mine.join("out/new"));
        assert!(access.writable(&mine.join("../theirs/out")).is_err());
        assert!(access.writable(&mine.join("missing/../../theirs")).is_err());
        assert!(access.writable(Path::new("/etc/out")).is_err());
        let none = DataAccess::roots("bob", &[], &[], vec![]);
        assert!(none.readable(&mine.join("in.txt")).unwrap_err().to_string().contains("its roots: none"));
        assert!(DataAccess::default().readable(&theirs.join("secret.txt")).is_ok());
    }

    #[test]
    fn store_urls_only_under_granted_locations() {
        let grant = |url: &str| Grant { url: url.into(), options: Default::default() };
        let access = DataAccess::roots("alice", &[], &[], vec![grant("s3://shared/alice")]);
        assert_eq!(access.object("s3://shared/alice/in/a.txt").unwrap().url(), "s3://shared/alice/in/a.txt");
        for bad in ["s3://shared/bob/a.txt", "s3://shared/alice2/a", "s3://shared/alice/../bob/a.txt", "gs://x/y"] {
            let e = access.object(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
        let e = access.object("s3://shared/bob/a.txt").unwrap_err().to_string();
        assert!(e.contains("tenant `alice` may not use it") && e.contains("its locations: s3://shared/alice"), "{e}");
        assert!(DataAccess::default().object("s3://any/thing").is_ok());
        assert_eq!(access.store_grants()[0].url, "s3://shared/alice");
    }
}
