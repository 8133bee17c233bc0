//! Where a tenant's jobs may read and write on the host. With tenants
//! configured, each lists its `roots`: the only directories its inputs and
//! outputs may be under, checked here on the driver after `..`, symlinks,
//! relative paths and globs are resolved, and again by the executor before it
//! opens anything (the roots travel in each task's spec). A tenant without
//! roots may use no host path at all. The engine's own files (the driver's
//! config file, which holds every token, and its compiled cache) are refused
//! whatever the roots say. An open driver (no tenants) is one user's: no rule.

use std::path::{Component, Path, PathBuf};

use crate::DriverError;

/// The host paths an application may use.
#[derive(Debug, Clone, Default)]
pub enum DataAccess {
    /// An open driver: any path the driver and executors can reach.
    #[default]
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

impl DataAccess {
    /// The rule for `tenant` with `roots` (resolved), the engine's files aside.
    pub fn roots(tenant: &str, roots: &[PathBuf], engine: &[PathBuf]) -> DataAccess {
        // Engine paths that do not exist (yet) cannot be resolved: keep them as given.
        let engine = engine.iter().map(|p| p.canonicalize().unwrap_or_else(|_| p.clone())).collect();
        DataAccess::Roots { tenant: tenant.to_string(), roots: roots.to_vec(), engine }
    }

    /// The resolved directories, for task specs (`None`: no rule).
    pub fn root_list(&self) -> Option<Vec<String>> {
        match self {
            DataAccess::Open => None,
            DataAccess::Roots { roots, .. } => Some(roots.iter().map(|r| r.display().to_string()).collect()),
        }
    }

    fn refuse(&self, path: &Path, why: &str) -> DriverError {
        let (tenant, roots) = match self {
            DataAccess::Open => ("", String::new()),
            DataAccess::Roots { tenant, roots, .. } => {
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
        let DataAccess::Roots { roots, engine, .. } = self else { return Ok(()) };
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
        let access = DataAccess::roots("alice", std::slice::from_ref(&mine), std::slice::from_ref(&engine));
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
        let none = DataAccess::roots("bob", &[], &[]);
        assert!(none.readable(&mine.join("in.txt")).unwrap_err().to_string().contains("its roots: none"));
        assert!(DataAccess::Open.readable(&theirs.join("secret.txt")).is_ok());
    }
}
