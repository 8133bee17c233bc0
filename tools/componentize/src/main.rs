//! Build helpers for job components written in languages other than Rust.
//!
//! - `spindle-componentize c-bindings WIT_DIR OUT_DIR`: C bindings of the
//!   `spindle:job/job` world (`job.h`, `job.c`, and `job_component_type.o`, which
//!   carries the world's type into the linked module).
//! - `spindle-componentize new CORE.wasm OUT.wasm [--realloc-via-memory-grow]`:
//!   makes a core module (wasm32-wasip1, reactor) that embeds the world's type
//!   into a component, adapting its WASI preview 1 imports to WASI 0.2 with the
//!   preview 1 adapter (the one wasmtime releases).

use std::path::Path;

use anyhow::{Context, Result, bail};
use wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER;
use wit_component::ComponentEncoder;
use wit_parser::Resolve;

fn c_bindings(wit: &Path, out: &Path) -> Result<()> {
    let mut resolve = Resolve::default();
    let (package, _) = resolve.push_path(wit).with_context(|| format!("reading {}", wit.display()))?;
    let world = resolve.select_world(&[package], Some("job"))?;
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_c::Opts::default().build().generate(&mut resolve, world, &mut files)?;
    std::fs::create_dir_all(out)?;
    for (name, bytes) in files.iter() {
        std::fs::write(out.join(name), bytes).with_context(|| format!("writing {name}"))?;
    }
    Ok(())
}

fn new_component(core: &Path, out: &Path, realloc_via_memory_grow: bool) -> Result<()> {
    let module = std::fs::read(core).with_context(|| format!("reading {}", core.display()))?;
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
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["c-bindings", wit, out] => c_bindings(Path::new(wit), Path::new(out)),
        ["new", core, out] => new_component(Path::new(core), Path::new(out), false),
        ["new", core, out, "--realloc-via-memory-grow"] => new_component(Path::new(core), Path::new(out), true),
        _ => bail!(
            "usage: spindle-componentize c-bindings WIT_DIR OUT_DIR\n       \
             spindle-componentize new CORE.wasm OUT.wasm [--realloc-via-memory-grow]"
        ),
    }
}
