//! Word count end to end: across a driver and two executor processes, and in local
//! mode, compared with a reference count computed here.

use spindle_tests::*;

#[test]
fn wordcount_across_executor_processes_matches_reference() -> anyhow::Result<()> {
    let cluster = Cluster::start(2, 2)?;
    let work = tempfile::tempdir()?;
    let input = work.path().join("input");
    let files = write_text_inputs(&input, 5, 3000, 7);
    let expected = reference_counts(&files);

    // A directory as input.
    let out_dir = work.path().join("out-dir");
    let out = cluster.submit(&example("wordcount"), &[input.to_str().unwrap(), out_dir.to_str().unwrap()])?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(read_counts(&out_dir)?, expected);
    // The job printed its top words through the driver.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("{} distinct words", expected.len())), "{}", describe(&out));

    // A glob as input, over part of the files.
    let out_glob = work.path().join("out-glob");
    let pattern = format!("{}/input-[0-2].txt", input.display());
    let out = cluster.submit(&example("wordcount"), &[&pattern, out_glob.to_str().unwrap()])?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(read_counts(&out_glob)?, reference_counts(&files[..3]));

    // Both executors ran tasks, and the applications' shuffle blocks were freed.
    let status = cluster.status()?;
    for e in status["executors"].as_array().unwrap() {
        assert!(e["tasks_finished"].as_u64().unwrap() > 0, "an idle executor: {status}");
        assert_eq!(e["blocks"].as_u64().unwrap(), 0, "blocks left behind: {status}");
    }
    Ok(())
}

#[test]
fn wordcount_in_local_mode_matches_reference_and_splits_large_files() -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let input = work.path().join("input");
    // One large file and a small one: the large one is split over several tasks.
    let mut files = write_text_inputs(&input, 1, 60_000, 11);
    files.extend(write_text_inputs(&work.path().join("small"), 1, 10, 12));
    std::fs::rename(&files[1], input.join("small.txt"))?;
    files[1] = input.join("small.txt");
    let out_dir = work.path().join("out");
    let cache = work.path().join("cache");
    let out = run_local(&example("wordcount"), 3, &cache, &[input.to_str().unwrap(), out_dir.to_str().unwrap()])?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(read_counts(&out_dir)?, reference_counts(&files));
    // Three slots: the large file is cut into three splits, the small one is one
    // more, so 4 map tasks, 4 reduce partitions and 4 part files.
    assert_eq!(part_files(&out_dir).len(), 4, "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2 stages, 8 tasks"), "{}", describe(&out));
    Ok(())
}

#[test]
fn wordcount_reads_gzip_zstd_and_bzip2_files_across_executor_processes() -> anyhow::Result<()> {
    use std::io::Write;
    let cluster = Cluster::start(2, 2)?;
    let work = tempfile::tempdir()?;
    let plain = work.path().join("plain");
    let files = write_text_inputs(&plain, 4, 4000, 13);
    let expected = reference_counts(&files);
    // The same texts, compressed three ways (one left plain), in one directory.
    let input = work.path().join("input");
    std::fs::create_dir_all(&input)?;
    for (i, f) in files.iter().enumerate() {
        let text = std::fs::read(f)?;
        let (name, bytes) = match i {
            0 => ("0.txt.gz", {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(&text)?;
                e.finish()?
            }),
            1 => ("1.txt.zst", zstd::encode_all(&text[..], 3)?),
            2 => ("2.txt.bz2", {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
                e.write_all(&text)?;
                e.finish()?
            }),
            _ => ("3.txt", text),
        };
        std::fs::write(input.join(name), bytes)?;
    }
    let out_dir = work.path().join("out");
    let out = cluster.submit(&example("wordcount"), &[input.to_str().unwrap(), out_dir.to_str().unwrap()])?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(read_counts(&out_dir)?, expected);

    // A file cut short fails the job with the file's name and where it ends.
    let whole = std::fs::read(input.join("0.txt.gz"))?;
    std::fs::write(input.join("0.txt.gz"), &whole[..whole.len() / 2])?;
    let out = cluster
        .submit(&example("wordcount"), &[input.to_str().unwrap(), work.path().join("out2").to_str().unwrap()])?;
    assert!(!out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("0.txt.gz")
            && stderr.contains("gzip data is corrupt or cut short, at or before compressed byte"),
        "{}",
        describe(&out)
    );
    Ok(())
}

#[test]
fn wordcount_writes_gzip_zstd_and_bzip2_parts_and_reads_them_back_by_name_or_codec() -> anyhow::Result<()> {
    let cluster = Cluster::start(2, 2)?;
    let work = tempfile::tempdir()?;
    let input = work.path().join("input");
    let files = write_text_inputs(&input, 3, 3000, 17);
    let expected = reference_counts(&files);
    for (codec, ext) in [("gzip", "gz"), ("zstd", "zst"), ("bzip2", "bz2")] {
        let out_dir = work.path().join(format!("out-{codec}"));
        let out =
            cluster.submit(&example("wordcount"), &[input.to_str().unwrap(), out_dir.to_str().unwrap(), codec])?;
        assert!(out.status.success(), "{}", describe(&out));
        let parts = part_files(&out_dir);
        assert!(!parts.is_empty() && parts.iter().all(|p| p.extension().unwrap() == ext), "{codec}: {parts:?}");
        // Read back by gzip itself (or the zstd library): the same counts.
        assert_eq!(read_counts(&out_dir)?, expected, "{codec}");
        // And by Spindle's own text input: a word count of the compressed parts
        // counts their words and numbers as one of the decompressed text does.
        let plain = work.path().join(format!("plain-{codec}"));
        std::fs::create_dir_all(&plain)?;
        let mut texts = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let f = plain.join(format!("{i}.txt"));
            std::fs::write(&f, read_part(p)?)?;
            texts.push(f);
        }
        let again = work.path().join(format!("again-{codec}"));
        let out = cluster.submit(&example("wordcount"), &[out_dir.to_str().unwrap(), again.to_str().unwrap()])?;
        assert!(out.status.success(), "{}", describe(&out));
        assert_eq!(read_counts(&again)?, reference_counts(&texts), "{codec}: reading compressed parts back");
    }
    // The input codec overrides the names: gzip files named `.txt` are read as
    // gzip, and with `none` a `.gz` file is read as the bytes it holds.
    let disguised = work.path().join("disguised");
    std::fs::create_dir_all(&disguised)?;
    for (i, p) in part_files(&work.path().join("out-gzip")).iter().enumerate() {
        std::fs::copy(p, disguised.join(format!("{i}.txt")))?;
    }
    let out_dir = work.path().join("from-disguised");
    let args = [disguised.to_str().unwrap(), out_dir.to_str().unwrap(), "none", "gzip"];
    let out = cluster.submit(&example("wordcount"), &args)?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(read_counts(&out_dir)?, read_counts(&work.path().join("again-gzip"))?);
    let plain_gz = work.path().join("plain.gz");
    std::fs::copy(&files[0], &plain_gz)?;
    let out_dir = work.path().join("from-plain-gz");
    let args = [plain_gz.to_str().unwrap(), out_dir.to_str().unwrap(), "none", "none"];
    let out = cluster.submit(&example("wordcount"), &args)?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(read_counts(&out_dir)?, reference_counts(&files[..1]));
    let out = cluster.submit(&example("wordcount"), &[plain_gz.to_str().unwrap(), "/tmp/never", "none", "lzma"])?;
    fails_with(&out, "unknown codec `lzma`");
    Ok(())
}
