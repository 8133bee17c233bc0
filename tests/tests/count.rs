//! `count` on a cluster: the guest counts its output records and reports the
//! number, so a count's tasks copy no record out of their sandboxes (the
//! executors' output-bytes counters say so), and the counts stay exact, with
//! ops (words of lines) and without (lines of a text file, raw records).

use spindle_tests::*;

/// Bytes the alive executors' tasks wrote to their outputs, summed.
fn output_bytes(c: &Cluster) -> anyhow::Result<u64> {
    let status = c.status()?;
    Ok(status["executors"].as_array().unwrap().iter().map(|e| e["output_bytes"].as_u64().unwrap_or(0)).sum::<u64>())
}

/// The `count N` a bench-jobs probe printed.
fn printed_count(out: &std::process::Output) -> Option<u64> {
    String::from_utf8_lossy(&out.stdout).split_whitespace().skip_while(|w| *w != "count").nth(1)?.parse().ok()
}

#[test]
fn counts_are_exact_and_copy_no_records_out_of_the_sandbox() -> anyhow::Result<()> {
    let c = Cluster::start(2, 2)?;
    let work = tempfile::tempdir()?;
    let input = work.path().join("input");
    let files = write_text_inputs(&input, 3, 2000, 21);
    let text: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    let lines = text.lines().count() as u64;
    let words = text.split_whitespace().count() as u64;

    let before = output_bytes(&c)?;
    // Lines of a text file: tasks with no ops.
    let out = c.submit(&example("bench-jobs"), &["scan", input.to_str().unwrap()])?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(printed_count(&out), Some(lines), "{}", describe(&out));
    // Words of lines: a chain of ops ending in the count.
    let out = c.submit(&example("bench-jobs"), &["split", input.to_str().unwrap()])?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(printed_count(&out), Some(words), "{}", describe(&out));
    assert_eq!(output_bytes(&c)?, before, "a count's tasks wrote records");

    // Other actions write their records (the counter moves).
    let out_dir = work.path().join("out");
    let out = c.submit(&example("wordcount"), &[input.to_str().unwrap(), out_dir.to_str().unwrap()])?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(read_counts(&out_dir)?, reference_counts(&files));
    assert!(output_bytes(&c)? > before, "word count's tasks wrote no records: {}", c.status()?);
    Ok(())
}
