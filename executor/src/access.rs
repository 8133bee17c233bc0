//! The executor's own check of where a task may read and write host files,
//! made before it opens anything: the roots its spec carries (the driver's
//! resolved list for the application's tenant; none in the spec: an open
//! driver), and never this executor's own directories (compiled components,
//! spilled partitions), whatever the roots say. An object store's URL is
//! opened only under one of the task's store grants, with that grant's options.

use std::path::{Path, PathBuf};

use spindle_proto::TaskSpec;
use spindle_store::Object;

use crate::{Executor, ExecutorError};

/// The directories no task may touch on this executor.
pub(crate) fn engine_dirs(exec: &Executor) -> Vec<PathBuf> {
    let dirs = exec.config.compiled_cache_dir.iter().cloned().chain([exec.cache.dir().to_path_buf()]);
    dirs.map(|d| d.canonicalize().unwrap_or(d)).collect()
}

/// Whether the task may use `path`: for reading, the file; for writing, a file
/// whose directory exists. Resolved first (symlinks, `..`).
pub(crate) fn check(exec: &Executor, spec: &TaskSpec, path: &str, writing: bool) -> Result<(), ExecutorError> {
    let Some(allowed) = &spec.data_roots else { return Ok(()) };
    let refuse = |reason: String| ExecutorError::Access { path: path.to_string(), reason };
    let p = Path::new(path);
    let resolved = if writing {
        let (dir, name) = (p.parent().unwrap_or(Path::new("/")), p.file_name().unwrap_or_default());
        dir.canonicalize().map_err(|e| refuse(e.to_string()))?.join(name)
    } else {
        p.canonicalize().map_err(|e| refuse(e.to_string()))?
    };
    if engine_dirs(exec).iter().any(|d| resolved.starts_with(d)) {
        return Err(refuse("it is one of the executor's own files".into()));
    }
    if !allowed.roots.iter().any(|r| resolved.starts_with(r)) {
        return Err(refuse(format!("{} is under none of the application's roots", resolved.display())));
    }
    Ok(())
}

/// `url`, opened with the options of the task's grant that covers it (the
/// longest); refused when none does.
pub(crate) fn object(spec: &TaskSpec, url: &str) -> Result<Object, ExecutorError> {
    let refuse = |reason: String| ExecutorError::Access { path: url.to_string(), reason };
    spindle_store::check_segments(url).map_err(|e| refuse(e.to_string()))?;
    let grant = spec
        .stores
        .iter()
        .filter(|g| spindle_store::covers(&g.url, url))
        .max_by_key(|g| g.url.len())
        .ok_or_else(|| refuse("it is under none of the application's store locations".into()))?;
    let options = grant.options.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    Object::open(url, &options).map_err(|e| refuse(e.to_string()))
}
