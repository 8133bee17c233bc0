//! Text inputs: a path (file, directory or glob) or an object store's URL
//! (object, prefix or glob) resolved to files with their sizes, and files cut
//! into splits. Executors read each split's lines (see the executor's text
//! reader for the line-ownership rule), so splits may cut anywhere; an object
//! store's are read with ranged GETs. A compressed file (`.gz`, `.zst`, `.bz2`)
//! is one split, decompressed as it is read.

use std::path::{Path, PathBuf};

use spindle_proto::{Compression, TextSplit};

use crate::DriverError;
use crate::access::DataAccess;

fn input_err(path: &str, reason: impl Into<String>) -> DriverError {
    DriverError::Input { path: path.to_string(), reason: reason.into() }
}

fn is_hidden(p: &Path) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.') || n.starts_with('_'))
}

/// A file of an input: its host path or URL, and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// The resolved host path, or the object's URL.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The files `path` names: the file itself, a directory's visible files (sorted), or
/// the files a glob matches (sorted). A glob that matches nothing is an error; an
/// empty directory is an empty input (as in Spark).
pub fn resolve(path: &str) -> Result<Vec<PathBuf>, DriverError> {
    let has_glob = path.contains(['*', '?', '[']);
    let mut files = Vec::new();
    if has_glob {
        let paths = glob::glob(path).map_err(|e| input_err(path, format!("bad glob pattern: {e}")))?;
        for p in paths {
            let p = p.map_err(|e| input_err(path, e.to_string()))?;
            if p.is_file() && !is_hidden(&p) {
                files.push(p);
            }
        }
        if files.is_empty() {
            return Err(input_err(path, "the pattern matches no files"));
        }
    } else {
        let p = Path::new(path);
        let meta = std::fs::metadata(p).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => input_err(path, "does not exist"),
            _ => input_err(path, e.to_string()),
        })?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(p).map_err(|e| input_err(path, e.to_string()))? {
                let entry = entry.map_err(|e| input_err(path, e.to_string()))?;
                let f = entry.path();
                if f.is_file() && !is_hidden(&f) {
                    files.push(f);
                }
            }
        } else {
            files.push(p.to_path_buf());
        }
    }
    files.sort();
    Ok(files)
}

/// The files `path` names, each allowed by `access`, with their sizes. A host
/// path is resolved as [`resolve`] finds it (no symlinks, no `..`), the path
/// itself checked first, so that a directory the application may not use is
/// not even listed; a store's URL is listed under the grant that covers it.
pub async fn resolve_for(path: &str, access: &DataAccess) -> Result<Vec<InputFile>, DriverError> {
    let Some(host) = spindle_store::host_path(path) else {
        let object = access.object(path)?;
        let listed = spindle_store::list(path, &object).await.map_err(|e| input_err(path, e.to_string()))?;
        return Ok(listed.into_iter().map(|l| InputFile { name: l.url, size: l.size }).collect());
    };
    if !host.contains(['*', '?', '[']) && Path::new(host).exists() {
        access.readable(Path::new(host))?;
    }
    resolve(host)?
        .iter()
        .map(|f| {
            let f = access.readable(f)?;
            let name = f.display().to_string();
            let size = std::fs::metadata(&f).map_err(|e| input_err(&name, e.to_string()))?.len();
            Ok(InputFile { name, size })
        })
        .collect()
}

/// How a file is compressed, from its extension: `.gz`, `.zst` or `.zstd`, `.bz2`
/// (as Hadoop's codecs are chosen).
pub fn compression_of(name: &str) -> Compression {
    match Path::new(name).extension().and_then(|e| e.to_str()) {
        Some("gz") => Compression::Gzip,
        Some("zst" | "zstd") => Compression::Zstd,
        Some("bz2") => Compression::Bzip2,
        _ => Compression::None,
    }
}

/// Cuts files into splits (each compressed as `codec` says, else as its
/// extension says): at least `min_partitions` overall when the data allows,
/// none larger than `max_split`. A compressed file cannot be split (a decoder must
/// start at its beginning): it is one split, read whole, as is a file served
/// over HTTP. Empty files contribute no
/// split, unless every file is empty: then the first one is one empty split, so
/// that an empty file is a dataset of one empty partition (as in Spark: saved, it
/// writes an empty part).
pub fn split(files: &[InputFile], min_partitions: u32, max_split: u64, codec: Option<Compression>) -> Vec<TextSplit> {
    let codecs: Vec<Compression> = files.iter().map(|f| codec.unwrap_or_else(|| compression_of(&f.name))).collect();
    // Web servers need not serve byte ranges: what they serve is read whole too.
    let whole = |f: &InputFile, c: Compression| c != Compression::None || f.name.starts_with("http");
    let total: u64 = files.iter().zip(&codecs).filter(|(f, c)| !whole(f, **c)).map(|(f, _)| f.size).sum();
    // As many splits as the size cap needs, rounded up to a multiple of
    // `min_partitions` (the slots), so no wave of tasks leaves slots idle.
    let min = u64::from(min_partitions.max(1));
    let splits = total.div_ceil(max_split.max(1)).max(min).div_ceil(min) * min;
    let goal = total.div_ceil(splits).max(1);
    let mut splits = Vec::new();
    for (f, &compression) in files.iter().zip(&codecs) {
        let len = f.size;
        if whole(f, compression) {
            if len > 0 {
                splits.push(TextSplit {
                    path: f.name.clone(),
                    start: 0,
                    end: len,
                    compression: compression.into(),
                    ..Default::default()
                });
            }
            continue;
        }
        let mut start = 0;
        while start < len {
            // Avoid a tiny tail split: the last one may be up to 10% over the goal.
            let end = if len - start <= goal + goal / 10 { len } else { start + goal };
            splits.push(TextSplit { path: f.name.clone(), start, end, ..Default::default() });
            start = end;
        }
    }
    if splits.is_empty()
        && let Some(first) = files.first()
    {
        splits.push(TextSplit {
            path: first.name.clone(),
            start: 0,
            end: 0,
            compression: codecs[0].into(),
            ..Default::default()
        });
    }
    splits
}

/// One split per file, whole (for whole-file records): empty files too.
pub fn whole(files: &[InputFile], codec: Option<Compression>) -> Vec<TextSplit> {
    files
        .iter()
        .map(|f| TextSplit {
            compression: codec.unwrap_or_else(|| compression_of(&f.name)).into(),
            path: f.name.clone(),
            start: 0,
            end: f.size,
            ..Default::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(paths: &[PathBuf]) -> Vec<InputFile> {
        paths
            .iter()
            .map(|p| InputFile { name: p.display().to_string(), size: std::fs::metadata(p).unwrap().len() })
            .collect()
    }

    #[test]
    fn resolves_files_directories_and_globs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("b.txt"), "x").unwrap();
        std::fs::write(d.join("a.txt"), "y").unwrap();
        std::fs::write(d.join("_SUCCESS"), "").unwrap();
        std::fs::write(d.join(".hidden"), "z").unwrap();
        let names = |v: Vec<PathBuf>| {
            v.iter().map(|p| p.file_name().unwrap().to_str().unwrap().to_string()).collect::<Vec<_>>()
        };
        assert_eq!(names(resolve(d.to_str().unwrap()).unwrap()), ["a.txt", "b.txt"]);
        assert_eq!(names(resolve(&format!("{}/b*", d.display())).unwrap()), ["b.txt"]);
        assert_eq!(names(resolve(d.join("a.txt").to_str().unwrap()).unwrap()), ["a.txt"]);
        let missing = resolve(d.join("nope").to_str().unwrap()).unwrap_err().to_string();
        assert!(missing.contains("does not exist"), "{missing}");
        assert!(resolve(&format!("{}/*.csv", d.display())).is_err());
        let empty = d.join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(resolve(empty.to_str().unwrap()).unwrap().is_empty(), "an empty directory is an empty input");
    }

    #[test]
    fn splits_cover_files_and_respect_min_partitions() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        let small = dir.path().join("small");
        let empty = dir.path().join("empty");
        std::fs::write(&big, vec![b'a'; 1000]).unwrap();
        std::fs::write(&small, vec![b'a'; 10]).unwrap();
        std::fs::write(&empty, b"").unwrap();
        let s = split(&files(&[big.clone(), small.clone(), empty.clone()]), 4, 1 << 20, None);
        // goal = ceil(1010 / 4) = 253: big -> 253, 253, 253, 241; small -> 10
        let big_splits: Vec<_> = s.iter().filter(|x| x.path == big.display().to_string()).collect();
        assert_eq!(big_splits.len(), 4);
        assert_eq!(big_splits.last().unwrap().end, 1000);
        for w in big_splits.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        assert_eq!(s.len(), 5);
        let capped = split(&files(std::slice::from_ref(&big)), 1, 100, None);
        assert_eq!(capped.len(), 10);
        // 1000 bytes capped at 300 would be 4 splits: rounded up to a multiple of 3.
        assert_eq!(split(&files(&[big]), 3, 300, None).len(), 6);
        let only_empty = split(&files(&[empty.clone(), empty.clone()]), 2, 100, None);
        assert_eq!(
            only_empty,
            [TextSplit { path: empty.display().to_string(), start: 0, end: 0, ..Default::default() }]
        );
        assert!(split(&files(&[]), 2, 100, None).is_empty());
    }

    #[test]
    fn a_compressed_file_is_one_split() {
        let dir = tempfile::tempdir().unwrap();
        let (gz, zst, plain) = (dir.path().join("a.txt.gz"), dir.path().join("b.zst"), dir.path().join("c.txt"));
        for f in [&gz, &zst, &plain] {
            std::fs::write(f, vec![b'x'; 1000]).unwrap();
        }
        let s = split(&files(&[gz.clone(), zst.clone(), plain.clone()]), 4, 1 << 20, None);
        let of = |f: &PathBuf| s.iter().filter(|x| x.path == f.display().to_string()).cloned().collect::<Vec<_>>();
        assert_eq!(of(&gz).len(), 1);
        assert_eq!((of(&gz)[0].start, of(&gz)[0].end, of(&gz)[0].compression()), (0, 1000, Compression::Gzip));
        assert_eq!(of(&zst)[0].compression(), Compression::Zstd);
        // The plain file alone is cut for the 4 slots.
        assert_eq!(of(&plain).len(), 4);
        assert!(of(&plain).iter().all(|x| x.compression() == Compression::None));
        assert_eq!(compression_of("x.bz2"), Compression::Bzip2);
        // A codec given overrides the names: the `.gz` file read as it is is cut
        // like any plain file, and every file read as zstd is one split.
        let as_is = split(&files(std::slice::from_ref(&gz)), 4, 1 << 20, Some(Compression::None));
        assert_eq!(as_is.len(), 4);
        assert!(as_is.iter().all(|x| x.compression() == Compression::None));
        let all_zstd = split(&files(&[gz.clone(), plain.clone()]), 4, 1 << 20, Some(Compression::Zstd));
        assert_eq!(all_zstd.iter().map(|x| x.compression()).collect::<Vec<_>>(), [Compression::Zstd; 2]);
        assert_eq!(
            whole(&files(std::slice::from_ref(&plain)), Some(Compression::Gzip))[0].compression(),
            Compression::Gzip
        );
    }
}
