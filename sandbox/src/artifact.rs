//! Artifacts: component bytes named by their blake3 hash, validated at submit,
//! compiled once per process and kept compiled on disk for the next start.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use crate::SandboxError;
use crate::bindings::JobPre;

/// Largest component accepted by default, in bytes (interpreter-based guests,
/// JavaScript or Python, are 12-18 MB).
pub const MAX_COMPONENT_BYTES: usize = 128 << 20;

/// The interfaces a component may import, by prefix: the job world's own, and the
/// WASI interfaces Spindle links. Each WASI interface is denied by policy at run
/// time where it could reach outside the sandbox (no preopened directories, no
/// network, no environment); anything else is refused at submit.
pub const ALLOWED_IMPORTS: &[&str] =
    &["spindle:job/", "wasi:cli/", "wasi:io/", "wasi:clocks/", "wasi:random/", "wasi:filesystem/", "wasi:sockets/"];

/// The blake3 hash of a component's bytes: its name everywhere in the cluster.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArtifactHash(pub [u8; 32]);

impl ArtifactHash {
    /// Hashes component bytes.
    pub fn of(bytes: &[u8]) -> Self {
        ArtifactHash(*blake3::hash(bytes).as_bytes())
    }

    /// Fails unless `bytes` hash to `self`.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), SandboxError> {
        let actual = ArtifactHash::of(bytes);
        if actual == *self { Ok(()) } else { Err(SandboxError::HashMismatch { hash: *self, actual }) }
    }
}

impl fmt::Display for ArtifactHash {
    /// 64 lowercase hex digits, written at once: every task spec names its
    /// artifact this way.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(blake3::Hash::from_bytes(self.0).to_hex().as_str())
    }
}

impl fmt::Debug for ArtifactHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ArtifactHash({self})")
    }
}

impl FromStr for ArtifactHash {
    type Err = SandboxError;

    fn from_str(s: &str) -> Result<Self, SandboxError> {
        let bad = || SandboxError::NotAHash(s.to_string());
        if s.len() != 64 || !s.is_ascii() {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(ArtifactHash(out))
    }
}

/// Cheap checks before compiling: the magic, the component layer, the size (at
/// most `max_bytes`).
pub fn check_header(what: &str, bytes: &[u8], max_bytes: usize) -> Result<(), SandboxError> {
    if bytes.len() > max_bytes {
        return Err(SandboxError::TooLarge { what: what.to_string(), size: bytes.len(), limit: max_bytes });
    }
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(SandboxError::NotWasm { what: what.to_string() });
    }
    // Core modules have layer 0 (version 1); components have layer 1.
    if bytes[6..8] == [0, 0] {
        return Err(SandboxError::CoreModule { what: what.to_string() });
    }
    Ok(())
}

/// How a process obtained a compiled artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompileSource {
    /// Compiled with Cranelift now.
    Compiled,
    /// Loaded from the on-disk compiled cache.
    Disk,
}

/// A compiled, linked component ready to instantiate many times.
pub struct CompiledArtifact<T: 'static> {
    /// The artifact's name.
    pub hash: ArtifactHash,
    /// Pre-instantiated against the process's linker: instantiation is cheap.
    pub pre: JobPre<T>,
    /// Whether it was compiled or loaded.
    pub source: CompileSource,
}

impl<T> fmt::Debug for CompiledArtifact<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledArtifact").field("hash", &self.hash).field("source", &self.source).finish()
    }
}

impl<T: 'static> CompiledArtifact<T> {
    /// Validates, compiles (or loads from `cache_dir`) and links a component.
    ///
    /// Fails with a clear error when the bytes are not a component, or when the
    /// component does not implement the `job` world or needs imports the linker
    /// does not provide.
    pub fn prepare(
        engine: &Engine,
        linker: &Linker<T>,
        what: &str,
        hash: ArtifactHash,
        bytes: &[u8],
        cache_dir: Option<&Path>,
    ) -> Result<Self, SandboxError> {
        // The size was checked where the bytes entered the cluster (the driver, at submit).
        check_header(what, bytes, usize::MAX)?;
        check_world(what, bytes)?;
        let (component, source) = load_or_compile(engine, what, hash, bytes, cache_dir)?;
        check_imports(engine, &component, what)?;
        let instance_pre = linker
            .instantiate_pre(&component)
            .map_err(|e| SandboxError::WrongWorld { what: what.to_string(), reason: format!("{e:#}") })?;
        let pre = JobPre::new(instance_pre)
            .map_err(|e| SandboxError::WrongWorld { what: what.to_string(), reason: format!("{e:#}") })?;
        Ok(CompiledArtifact { hash, pre, source })
    }
}

/// Refuses, before anything is compiled (a large component takes Cranelift
/// seconds and gigabytes), a component whose own imports go outside
/// [`ALLOWED_IMPORTS`] or that does not export the job world's `app` and
/// `task`: its top-level sections are read, nested modules skipped.
pub fn check_world(what: &str, bytes: &[u8]) -> Result<(), SandboxError> {
    use wasmparser::{Parser, Payload};
    let invalid =
        |e: wasmparser::BinaryReaderError| SandboxError::Invalid { what: what.to_string(), reason: e.to_string() };
    let (mut depth, mut imports, mut exports) = (0usize, Vec::new(), Vec::new());
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(invalid)? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section {
                    imports.push(import.map_err(invalid)?.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(section) if depth == 0 => {
                for export in section {
                    exports.push(export.map_err(invalid)?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    let refused: Vec<&str> =
        imports.iter().map(String::as_str).filter(|n| !ALLOWED_IMPORTS.iter().any(|p| n.starts_with(p))).collect();
    if !refused.is_empty() {
        return Err(SandboxError::ForbiddenImports { what: what.to_string(), imports: refused.join(", ") });
    }
    for needed in ["spindle:job/app@", "spindle:job/task@"] {
        if !exports.iter().any(|e| e.starts_with(needed)) {
            let has = if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") };
            return Err(SandboxError::WrongWorld {
                what: what.to_string(),
                reason: format!("it exports no {} interface (it exports {has})", needed.trim_end_matches('@')),
            });
        }
    }
    Ok(())
}

/// Refuses a component that imports anything outside [`ALLOWED_IMPORTS`], naming
/// every such import.
pub fn check_imports(engine: &Engine, component: &Component, what: &str) -> Result<(), SandboxError> {
    let ty = component.component_type();
    let refused: Vec<&str> = ty
        .imports(engine)
        .map(|(name, _)| name)
        .filter(|n| !ALLOWED_IMPORTS.iter().any(|p| n.starts_with(p)))
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(SandboxError::ForbiddenImports { what: what.to_string(), imports: refused.join(", ") })
}

fn compile(engine: &Engine, what: &str, bytes: &[u8]) -> Result<Component, SandboxError> {
    let _span = tracing::info_span!("sandbox.compile", bytes = bytes.len()).entered();
    Component::new(engine, bytes)
        .map_err(|e| SandboxError::Invalid { what: what.to_string(), reason: format!("{e:#}") })
}

/// The file a compiled artifact is cached in: keyed by the artifact hash and the
/// engine's compatibility hash, so an upgraded engine never loads stale code.
pub fn cache_path(engine: &Engine, dir: &Path, hash: ArtifactHash) -> PathBuf {
    let mut h = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    dir.join(format!("{hash}-{:016x}.cwasm", h.finish()))
}

fn load_or_compile(
    engine: &Engine,
    what: &str,
    hash: ArtifactHash,
    bytes: &[u8],
    cache_dir: Option<&Path>,
) -> Result<(Component, CompileSource), SandboxError> {
    let Some(dir) = cache_dir else {
        return Ok((compile(engine, what, bytes)?, CompileSource::Compiled));
    };
    let path = cache_path(engine, dir, hash);
    if path.exists() {
        match load_compiled(engine, &path) {
            Ok(c) => return Ok((c, CompileSource::Disk)),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "discarding unusable compiled artifact"),
        }
    }
    let component = compile(engine, what, bytes)?;
    // The disk cache only saves time: failing to write it never fails the caller.
    if let Err(e) = store_compiled(&component, dir, &path) {
        tracing::warn!(path = %path.display(), error = %e, "could not keep the compiled artifact on disk");
    }
    Ok((component, CompileSource::Compiled))
}

/// Loads a compiled component kept by [`store_compiled`]: native code, so it is
/// run only if its bytes are the ones written (their blake3 leads the file).
fn load_compiled(engine: &Engine, path: &Path) -> Result<Component, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let Some((digest, code)) = bytes.split_first_chunk::<32>() else { return Err("shorter than its digest".into()) };
    if blake3::hash(code).as_bytes() != digest {
        return Err("its bytes do not match the digest they were written with (changed on disk?)".into());
    }
    // SAFETY: these are the bytes `Component::serialize` gave this cache (checked
    // above), in a file named by the engine's compatibility hash; wasmtime checks
    // their header again.
    unsafe { Component::deserialize(engine, code) }.map_err(|e| format!("{e:#}"))
}

/// Writes a compiled component into the cache, its blake3 first: to a file of
/// its own, then renamed into place, so a concurrent reader never sees half a
/// file and two writers (in this process or others) never share a temporary
/// file. The directory is the owner's only (0700): what is in it runs as native code.
fn store_compiled(component: &Component, dir: &Path, path: &Path) -> Result<(), SandboxError> {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let cache_err = |source| SandboxError::Cache { path: path.display().to_string(), source };
    std::fs::create_dir_all(dir).map_err(cache_err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(cache_err)?;
    }
    let serialized =
        component.serialize().map_err(|e| SandboxError::Engine(format!("serializing compiled component: {e:#}")))?;
    let mut file = Vec::with_capacity(32 + serialized.len());
    file.extend_from_slice(blake3::hash(&serialized).as_bytes());
    file.extend_from_slice(&serialized);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    std::fs::write(&tmp, file).map_err(cache_err)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        cache_err(e)
    })
}

/// Where compiled components are cached by default, for the driver and executors
/// alike: `$XDG_CACHE_HOME/spindle/compiled` or `~/.cache/spindle/compiled`.
pub fn default_compiled_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("spindle").join("compiled"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_round_trips_through_hex() {
        let h = ArtifactHash::of(b"component bytes");
        assert_eq!(h.to_string().parse::<ArtifactHash>().unwrap(), h);
        let digits: String = h.0.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(h.to_string(), digits);
        assert!("xyz".parse::<ArtifactHash>().is_err());
        assert!(h.verify(b"component bytes").is_ok());
        assert!(matches!(h.verify(b"other"), Err(SandboxError::HashMismatch { .. })));
    }

    #[test]
    fn a_compiled_file_changed_on_disk_is_not_loaded() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let bytes = b"\0asm\x0d\0\x01\0".to_vec();
        let hash = ArtifactHash::of(&bytes);
        let (_, source) = load_or_compile(&engine, "x", hash, &bytes, Some(&cache)).unwrap();
        assert!(matches!(source, CompileSource::Compiled));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777, 0o700);
        }
        let (_, source) = load_or_compile(&engine, "x", hash, &bytes, Some(&cache)).unwrap();
        assert!(matches!(source, CompileSource::Disk), "kept and loaded");
        let path = cache_path(&engine, &cache, hash);
        let mut file = std::fs::read(&path).unwrap();
        let last = file.len() - 1;
        file[last] ^= 1;
        std::fs::write(&path, &file).unwrap();
        assert!(load_compiled(&engine, &path).unwrap_err().contains("do not match"));
        let (_, source) = load_or_compile(&engine, "x", hash, &bytes, Some(&cache)).unwrap();
        assert!(matches!(source, CompileSource::Compiled), "a changed file is compiled again, not run");
    }

    #[test]
    fn header_checks_name_the_problem() {
        let max = MAX_COMPONENT_BYTES;
        assert!(matches!(check_header("x", b"hello world", max), Err(SandboxError::NotWasm { .. })));
        let core = b"\0asm\x01\0\0\0";
        assert!(matches!(check_header("x", core, max), Err(SandboxError::CoreModule { .. })));
        let component = b"\0asm\x0d\0\x01\0";
        assert!(check_header("x", component, max).is_ok());
        assert!(matches!(check_header("x", component, 4), Err(SandboxError::TooLarge { size: 8, limit: 4, .. })));
    }
}
