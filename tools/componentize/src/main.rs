//! Build helpers for job components written in languages other than Rust.
//!
//! - `spindle-componentize c-bindings WIT_DIR OUT_DIR`: C bindings of the
//!   `spindle:job/job` world (`job.h`, `job.c`, and `job_component_type.o`, which
//!   carries the world's type into the linked module).
//! - `spindle-componentize new CORE.wasm OUT.wasm [--realloc-via-memory-grow] [--wit WIT_DIR]`:
//!   makes a core module (wasm32-wasip1, reactor) into a component, adapting its
//!   WASI preview 1 imports to WASI 0.2 with the preview 1 adapter (the one
//!   wasmtime releases). The module must carry the world's type (C links it in
//!   from the bindings), or `--wit` embeds the `job` world of WIT_DIR first (for
//!   modules whose language has no bindings generator, such as Go's).

use std::path::Path;

use anyhow::{Context, Result, bail};
use wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER;
use wit_component::ComponentEncoder;
use wit_parser::Resolve;

/// The `job` world of the WIT package in `wit`.
fn job_world(wit: &Path) -> Result<(Resolve, wit_parser::WorldId)> {
    let mut resolve = Resolve::default();
    let (package, _) = resolve.push_path(wit).with_context(|| format!("reading {}", wit.display()))?;
    let world = resolve.select_world(&[package], Some("job"))?;
    Ok((resolve, world))
}

fn c_bindings(wit: &Path, out: &Path) -> Result<()> {
    let (mut resolve, world) = job_world(wit)?;
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_c::Opts::default().build().generate(&mut resolve, world, &mut files)?;
    std::fs::create_dir_all(out)?;
    for (name, bytes) in files.iter() {
        std::fs::write(out.join(name), bytes).with_context(|| format!("writing {name}"))?;
    }
    Ok(())
}

fn new_component(core: &Path, out: &Path, realloc_via_memory_grow: bool, wit: Option<&Path>) -> Result<()> {
    let mut module = std::fs::read(core).with_context(|| format!("reading {}", core.display()))?;
    if let Some(wit) = wit {
        let (resolve, world) = job_world(wit)?;
        wit_component::embed_component_metadata(&mut module, &resolve, world, wit_component::StringEncoding::UTF8)?;
    }
    let component = ComponentEncoder::default()
        .module(&module)?
        .adapter("wasi_snapshot_preview1", WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER)?
        .realloc_via_memory_grow(realloc_via_memory_grow)
        .validate(true)
        .encode()
        .with_context(|| format!("making a component of {}", core.display()))?;
    std::fs::write(out, component).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: spindle-componentize c-bindings WIT_DIR OUT_DIR\n       \
                 spindle-componentize new CORE.wasm OUT.wasm [--realloc-via-memory-grow] [--wit WIT_DIR]";
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["c-bindings", wit, out] => c_bindings(Path::new(wit), Path::new(out)),
        ["new", core, out, flags @ ..] => {
            let (mut grow, mut wit) = (false, None);
            let mut rest = flags.iter();
            while let Some(flag) = rest.next() {
                match *flag {
                    "--realloc-via-memory-grow" => grow = true,
                    "--wit" => wit = Some(Path::new(*rest.next().context("--wit needs a directory")?)),
                    other => bail!("unknown flag {other}\n{usage}"),
                }
            }
            new_component(Path::new(core), Path::new(out), grow, wit)
        }
        _ => bail!("{usage}"),
    }
}
