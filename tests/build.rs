//! Stops a build of the end-to-end tests at once, with the one command to run,
//! when the guest components they run are not built (a fresh clone): without
//! this, every test would fail on its own with a missing file.

use std::path::Path;

/// The components under `target/examples/` the tests run (scripts/build-examples.sh).
const GUESTS: &[&str] = &[
    "wordcount",
    "datasets",
    "aggregate",
    "tour",
    "pagerank",
    "kmeans",
    "join",
    "sort",
    "bench-jobs",
    "attack",
    "paced-wordcount",
    "cache-check",
    "fuzz-job",
];

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the repository root");
    let examples = root.join("target").join("examples");
    // The directory changes when build-examples.sh copies components into it.
    println!("cargo::rerun-if-changed={}", examples.display());
    let missing: Vec<&str> = GUESTS.iter().copied().filter(|g| !examples.join(format!("{g}.wasm")).exists()).collect();
    if !missing.is_empty() {
        eprintln!(
            "\nThe end-to-end tests run guest components that are not built yet ({} under {}).\n\
             Run `scripts/test.sh`: it builds them (scripts/build-examples.sh) and the host crates, then runs every test.\n",
            missing.join(", "),
            examples.display()
        );
        std::process::exit(1);
    }
}
