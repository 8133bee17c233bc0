fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A vendored protoc: a fresh machine has none.
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded.
    unsafe { std::env::set_var("PROTOC", protoc) };
    // A grant's options hold credentials: its Debug is written by hand (lib.rs).
    tonic_prost_build::configure()
        .skip_debug([".spindle.v1.StoreGrant"])
        .compile_protos(&["proto/spindle.proto"], &["proto"])?;
    println!("cargo:rerun-if-changed=proto/spindle.proto");
    Ok(())
}
