//! Bad input gets a clear error and a non-zero exit, and the driver keeps serving
//! other applications.

use std::process::Command;

use spindle_tests::*;

/// The smallest valid core module: magic + version 1.
const CORE_MODULE: &[u8] = b"\0asm\x01\0\0\0";
/// The smallest valid component: magic + component layer; it exports nothing.
const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

fn assert_fails_with(out: &std::process::Output, needle: &str) {
    assert!(!out.status.success(), "expected failure: {}", describe(out));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(needle), "expected {needle:?} in the output: {}", describe(out));
}

#[test]
fn bad_submissions_fail_clearly_and_the_driver_keeps_serving() -> anyhow::Result<()> {
    let mut cluster = Cluster::start(1, 2)?;
    let work = tempfile::tempdir()?;
    let input = work.path().join("in");
    let files = write_text_inputs(&input, 2, 200, 5);
    let inp = input.to_str().unwrap();
    let wc = example("wordcount");

    // Not wasm at all.
    let text_file = work.path().join("job.wasm");
    std::fs::write(&text_file, "this is not wasm")?;
    assert_fails_with(&cluster.submit(&text_file, &[])?, "is not a WebAssembly file");

    // A core module, not a component.
    let core = work.path().join("core.wasm");
    std::fs::write(&core, CORE_MODULE)?;
    assert_fails_with(&cluster.submit(&core, &[])?, "is a core WebAssembly module, not a component");

    // A component that does not implement the job world.
    let empty = work.path().join("empty.wasm");
    std::fs::write(&empty, EMPTY_COMPONENT)?;
    let out = cluster.submit(&empty, &[])?;
    assert_fails_with(&out, "does not implement the spindle:job/job world");
    assert_fails_with(&out, "it exports no spindle:job/app interface");

    // A component importing an interface Spindle does not provide.
    let http = work.path().join("http.wasm");
    std::fs::write(&http, wat::parse_str(r#"(component (import "wasi:http/outgoing-handler@0.2.0" (instance)))"#)?)?;
    assert_fails_with(
        &cluster.submit(&http, &[])?,
        "imports wasi:http/outgoing-handler@0.2.0, which Spindle does not provide to guests",
    );

    // A job component file that does not exist.
    assert_fails_with(&cluster.submit(&work.path().join("missing.wasm"), &[])?, "reading job component");

    // A missing input path.
    let missing = work.path().join("no-such-input");
    let out_a = work.path().join("out-a");
    let out = cluster.submit(&wc, &[missing.to_str().unwrap(), out_a.to_str().unwrap()])?;
    assert_fails_with(&out, "does not exist");
    assert!(!out_a.exists(), "a failed input left an output directory behind");

    // An output directory that already exists is refused, and left untouched.
    let existing = work.path().join("existing");
    std::fs::create_dir(&existing)?;
    std::fs::write(existing.join("keep.txt"), "precious")?;
    let out = cluster.submit(&wc, &[inp, existing.to_str().unwrap()])?;
    assert_fails_with(&out, "already exists");
    assert_eq!(std::fs::read_to_string(existing.join("keep.txt"))?, "precious");
    assert_eq!(std::fs::read_dir(&existing)?.count(), 1);

    // The wrong number of arguments reaches the job's own usage message.
    assert_fails_with(&cluster.submit(&wc, &[inp])?, "usage: wordcount INPUT OUTPUT_DIR");

    // Text that is not UTF-8 (the host reports it unchecked, and the job's own
    // check refuses it) fails the job with a clear error.
    let latin1 = work.path().join("latin1.txt");
    std::fs::write(&latin1, b"plain words here\ncaf\xe9 au lait\nmore words\n")?;
    let out_b = work.path().join("out-b");
    let out = cluster.submit(&wc, &[latin1.to_str().unwrap(), out_b.to_str().unwrap()])?;
    assert_fails_with(&out, "not valid UTF-8");
    // The error names the file and the offset of the first bad byte (é in Latin-1).
    assert_fails_with(
        &out,
        &format!("input file {} holds bytes that are not valid UTF-8, the first at byte offset 20", latin1.display()),
    );

    // After all that, the same driver still runs a good job exactly.
    assert!(cluster.driver_alive());
    let good = work.path().join("good");
    let out = cluster.submit(&wc, &[inp, good.to_str().unwrap()])?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(read_counts(&good)?, reference_counts(&files));

    // Every failed application is listed with its reason.
    let status = cluster.status()?;
    let failed: Vec<_> = status["applications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["state"] == "failed")
        .map(|a| a["error"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(failed.len(), 4, "{status}");
    assert!(failed.iter().any(|e| e.contains("not valid UTF-8")), "{status}");
    Ok(())
}

#[test]
fn unreachable_driver_is_a_clear_error() -> anyhow::Result<()> {
    // Bind a port, then free it: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let url = format!("http://127.0.0.1:{port}");
    let out =
        Command::new(spindle_bin()).args(["submit", "--driver", &url]).arg(example("wordcount")).arg("--").output()?;
    assert_fails_with(&out, "cannot reach the driver");
    // An executor keeps trying (the driver may start later), up to its register timeout.
    let out = Command::new(spindle_bin())
        .args(["executor", "--driver", &url, "--slots", "1", "--register-timeout", "1s"])
        .output()?;
    assert_fails_with(&out, "could not register within 1s (--register-timeout); is `spindle driver` running there?");
    let out = Command::new(spindle_bin()).args(["status", "--driver", "not a url"]).output()?;
    assert_fails_with(&out, "is not a driver URL");
    Ok(())
}

#[test]
fn bad_input_in_local_mode() -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let cache = work.path().join("cache");
    let not_wasm = work.path().join("x.wasm");
    std::fs::write(&not_wasm, "nope")?;
    assert_fails_with(&run_local(&not_wasm, 1, &cache, &[])?, "is not a WebAssembly file");
    let out = run_local(
        &example("wordcount"),
        1,
        &cache,
        &["/definitely/not/here", work.path().join("o").to_str().unwrap()],
    )?;
    assert_fails_with(&out, "does not exist");
    Ok(())
}
