//! Word count written in other languages against the WIT contract directly
//! (`examples/<lang>`), checked against the Rust word count on the same input:
//! the same printed summary and the same counts. A language whose component was
//! not built (its toolchain is missing) is skipped, except in CI, which installs
//! every toolchain.

use std::collections::BTreeMap;
use std::path::Path;

use spindle_tests::*;

fn component(lang: &str) -> Option<std::path::PathBuf> {
    let path = root().join("target/examples").join(format!("wordcount-{lang}.wasm"));
    if path.exists() {
        return Some(path);
    }
    assert!(std::env::var("CI").is_err(), "CI builds every language, but {} is missing", path.display());
    eprintln!("skipping {lang}: {} was not built (its toolchain is missing)", path.display());
    None
}

fn sorted_lines(dir: &Path) -> Vec<String> {
    let mut lines = part_lines(dir);
    lines.sort();
    lines
}

fn same_as_rust(lang: &str, run: impl Fn(&Path, &Path) -> anyhow::Result<std::process::Output>) -> anyhow::Result<()> {
    same_as_rust_on(lang, 3, 4000, run)
}

/// [`same_as_rust`] over `files` generated files of `lines` lines each.
fn same_as_rust_on(
    lang: &str,
    files: usize,
    lines: usize,
    run: impl Fn(&Path, &Path) -> anyhow::Result<std::process::Output>,
) -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let input = work.path().join("input");
    let files = write_text_inputs(&input, files, lines, 17);
    let (rust_out, lang_out) = (work.path().join("rust"), work.path().join(lang));
    let rust = run(&example("wordcount"), &rust_out)?;
    assert!(rust.status.success(), "{}", describe(&rust));
    let Some(job) = component(lang) else { return Ok(()) };
    let theirs = run(&job, &lang_out)?;
    assert!(theirs.status.success(), "{lang}: {}", describe(&theirs));
    assert_eq!(
        String::from_utf8_lossy(&theirs.stdout),
        String::from_utf8_lossy(&rust.stdout),
        "{lang}: printed summary"
    );
    assert_eq!(sorted_lines(&lang_out), sorted_lines(&rust_out), "{lang}: word counts");
    let counts: BTreeMap<String, u64> = read_counts(&lang_out)?;
    assert_eq!(counts, reference_counts(&files), "{lang}: counts against a count made here");
    Ok(())
}

fn in_local_mode(lang: &str) -> anyhow::Result<()> {
    in_local_mode_on(lang, 3, 4000)
}

fn in_local_mode_on(lang: &str, files: usize, lines: usize) -> anyhow::Result<()> {
    let cache = tempfile::tempdir()?;
    same_as_rust_on(lang, files, lines, |job, out| {
        let input = out.parent().unwrap().join("input");
        run_local(job, 2, cache.path(), &[input.to_str().unwrap(), out.to_str().unwrap()])
    })
}

fn on_a_cluster(lang: &str) -> anyhow::Result<()> {
    let cluster = Cluster::start(2, 1)?;
    same_as_rust(lang, |job, out| {
        let input = out.parent().unwrap().join("input");
        cluster.submit(job, &[input.to_str().unwrap(), out.to_str().unwrap()])
    })
}

#[test]
fn c_word_count_matches_rust_in_local_mode() -> anyhow::Result<()> {
    in_local_mode("c")
}

#[test]
fn c_word_count_matches_rust_on_a_cluster() -> anyhow::Result<()> {
    on_a_cluster("c")
}

#[test]
fn python_word_count_matches_rust_in_local_mode() -> anyhow::Result<()> {
    in_local_mode("py")
}

#[test]
fn python_word_count_matches_rust_on_a_cluster() -> anyhow::Result<()> {
    on_a_cluster("py")
}

#[test]
fn javascript_word_count_matches_rust_in_local_mode() -> anyhow::Result<()> {
    in_local_mode("js")
}

#[test]
fn javascript_word_count_matches_rust_on_a_cluster() -> anyhow::Result<()> {
    on_a_cluster("js")
}

#[test]
fn go_word_count_matches_rust_in_local_mode() -> anyhow::Result<()> {
    in_local_mode("go")
}

#[test]
fn go_word_count_matches_rust_on_a_cluster() -> anyhow::Result<()> {
    on_a_cluster("go")
}

/// Enough input that Go's heap grows well past the pages the WASI adapter took
/// (an unpatched Go runtime overwrites the adapter's state here).
#[test]
fn go_word_count_matches_rust_when_its_heap_grows() -> anyhow::Result<()> {
    in_local_mode_on("go", 2, 150_000)
}
