//! `spindle new NAME`: writes a job crate that builds on its own, outside this
//! repository: the SDK as a path or git dependency, the release profile and the
//! wasm flags a job wants, a word count to start from, and a README.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Where the job's `spindle-sdk` dependency comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sdk {
    /// A directory holding the SDK crate (`guest-sdk` of a Spindle checkout).
    Path(PathBuf),
    /// A git repository holding Spindle.
    Git(String),
}

impl Sdk {
    /// `--sdk` as given: a URL (with `://`, or `git@...`) is a git repository,
    /// anything else a directory; none: the SDK of the checkout this binary was
    /// built from, if it is still there.
    pub fn from_arg(arg: Option<&str>) -> Result<Sdk> {
        match arg {
            Some(a) if a.contains("://") || a.starts_with("git@") => Ok(Sdk::Git(a.to_string())),
            Some(a) => {
                let dir = std::path::absolute(a).with_context(|| format!("--sdk {a}"))?;
                if !dir.join("Cargo.toml").is_file() {
                    bail!(
                        "--sdk {a}: no Cargo.toml there; give the SDK's directory (guest-sdk in a Spindle checkout) or a git URL"
                    );
                }
                Ok(Sdk::Path(dir))
            }
            None => {
                let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk");
                match built_from.canonicalize() {
                    Ok(dir) if dir.join("Cargo.toml").is_file() => Ok(Sdk::Path(dir)),
                    _ => bail!(
                        "this spindle was built from a checkout that is gone ({}); pass --sdk with the SDK's \
                         directory (guest-sdk in a Spindle checkout) or a git URL of Spindle",
                        built_from.display()
                    ),
                }
            }
        }
    }

    fn dependency(&self) -> String {
        match self {
            Sdk::Path(p) => format!("spindle-sdk = {{ path = {:?} }}", p.display().to_string()),
            Sdk::Git(url) => format!("spindle-sdk = {{ git = {url:?} }}"),
        }
    }
}

/// A crate name from the directory name: what Cargo accepts.
fn crate_name(dir: &Path) -> Result<String> {
    let name = dir.file_name().and_then(|n| n.to_str()).context("the job's directory has no name")?;
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if !ok {
        bail!("`{name}` is not a crate name: use letters, digits, `-` and `_`, starting with a letter");
    }
    Ok(name.to_string())
}

/// Writes the job crate into `dir`, which must not exist yet; returns the files written.
pub fn new_job(dir: &Path, sdk: &Sdk) -> Result<Vec<PathBuf>> {
    let name = crate_name(dir)?;
    if dir.exists() {
        bail!("{} already exists; choose a new directory", dir.display());
    }
    let files = [
        ("Cargo.toml", cargo_toml(&name, sdk)),
        (".cargo/config.toml", CONFIG_TOML.to_string()),
        ("src/lib.rs", LIB_RS.to_string()),
        ("README.md", readme(&name)),
        (".gitignore", "/target\n".to_string()),
    ];
    let mut written = Vec::new();
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("files live in directories"))
            .with_context(|| format!("creating {}", path.display()))?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

fn cargo_toml(name: &str, sdk: &Sdk) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

# A job is one WebAssembly component: `cargo build --release --target wasm32-wasip2`
# makes target/wasm32-wasip2/release/{lib}.wasm, which `spindle run` and
# `spindle submit` take.
[lib]
crate-type = ["cdylib"]

[dependencies]
{dep}
serde = {{ version = "1", features = ["derive"] }}

# Its own workspace, wherever the directory is.
[workspace]

[profile.release]
# One codegen unit across crates: the SDK's op chain and the job's closures
# inline into each other.
lto = "fat"
codegen-units = 1
strip = true
"#,
        lib = name.replace('-', "_"),
        dep = sdk.dependency(),
    )
}

const CONFIG_TOML: &str = r#"# Jobs run best with WebAssembly SIMD (wasmtime makes native vector code of it)
# and 4 MiB of initial memory (a short task then never grows its memory).
[target.wasm32-wasip2]
rustflags = ["-C", "target-feature=+simd128", "-C", "link-arg=--initial-memory=4194304"]
"#;

const LIB_RS: &str = r#"//! A Spindle job: counts the words of INPUT (a file, directory or glob) and
//! writes `word<TAB>count` lines into OUTPUT_DIR, then prints the ten most
//! frequent words.

fn run(args: Vec<String>) -> spindle::Result<()> {
    let [input, output] = args.as_slice() else {
        return Err(spindle::Error::msg("usage: INPUT OUTPUT_DIR"));
    };
    let counts = spindle::text_file(input)?
        .flat_map(spindle::words)
        .map(|word: String| (word, 1u64))
        .reduce_by_key(|a, b| a + b);
    counts.save_as_text_file(output)?;
    let top = counts.map(|(word, n): (String, u64)| (n, word)).top(10)?;
    for (n, word) in top {
        println!("{n}\t{word}");
    }
    Ok(())
}

spindle::main!(run);
"#;

fn readme(name: &str) -> String {
    format!(
        r#"# {name}

A Spindle job: word count, to start from.

```sh
rustup target add wasm32-wasip2                      # once
cargo build --release --target wasm32-wasip2
spindle run target/wasm32-wasip2/release/{lib}.wasm -- INPUT OUTPUT_DIR
spindle submit --driver http://HOST:7077 target/wasm32-wasip2/release/{lib}.wasm -- INPUT OUTPUT_DIR
```

`src/lib.rs` is the job: `main` builds datasets and runs actions on the
cluster; closures must not capture variables (pass values with the `_with`
variants, such as `map_with`). `cargo doc --open` documents the API.
"#,
        lib = name.replace('-', "_"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_crate_once_and_checks_names() {
        let dir = tempfile::tempdir().unwrap();
        let job = dir.path().join("my-job");
        let sdk = Sdk::Git("https://example.invalid/spindle.git".into());
        let files = new_job(&job, &sdk).unwrap();
        assert_eq!(files.len(), 5);
        let toml = std::fs::read_to_string(job.join("Cargo.toml")).unwrap();
        assert!(toml.contains(r#"spindle-sdk = { git = "https://example.invalid/spindle.git" }"#), "{toml}");
        assert!(toml.contains("my_job.wasm"));
        assert!(new_job(&job, &sdk).unwrap_err().to_string().contains("already exists"));
        assert!(new_job(&dir.path().join("9lives"), &sdk).is_err());
        assert!(new_job(&dir.path().join("has space"), &sdk).is_err());
        assert_eq!(Sdk::from_arg(Some("git@host:spindle.git")).unwrap(), Sdk::Git("git@host:spindle.git".into()));
        assert!(Sdk::from_arg(Some(dir.path().to_str().unwrap())).unwrap_err().to_string().contains("no Cargo.toml"));
    }
}
