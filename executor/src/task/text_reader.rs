//! Reading a split of a text file: the lines whose first byte lies in the split
//! (or the file whole, or lines keyed by the file's name), in batches, checked
//! for UTF-8 as they are read. A host file is read on the task's thread; an
//! object in a store is streamed by one ranged GET from the split's start.

use std::io::{Read, SeekFrom};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use spindle_store::Object;
use tokio::io::{AsyncRead, AsyncReadExt};

use spindle_frame::BatchWriter;
use spindle_proto::{Compression, TextRecords, TextSplit};

use crate::ExecutorError;

const READ_CHUNK: usize = 1 << 20;

/// Reads the lines whose first byte lies in `[start, end)`: a split skips the line
/// its start falls inside (the previous split owns it) and finishes the line its end
/// falls inside, so every line is read exactly once.
pub struct TextReader {
    /// The file read.
    pub path: String,
    start: u64,
    end: u64,
    batch_bytes: usize,
    /// The file, read straight into `buf` (a tokio file reads into a buffer of
    /// its own and copies: one more pass over the input), through a decoder when
    /// it is compressed.
    file: Option<Source>,
    /// The object read, when the input is in an object store.
    object: Option<Object>,
    /// How the file is compressed. A compressed file is read whole: offsets
    /// (`start`, `end`, `buf_offset`) count decompressed bytes.
    compression: Compression,
    /// Compressed bytes the decoder has taken from the file, for errors.
    compressed_read: Arc<AtomicU64>,
    /// Absolute file offset of `buf[0]`.
    buf_offset: u64,
    /// Read bytes in `buf[..filled]`; the rest is room for the next read, zeroed
    /// once when `buf` grows.
    buf: Vec<u8>,
    filled: usize,
    /// Where the unread part of `buf` starts. Batches advance it; the read part is
    /// dropped only when `buf` is refilled, so a batch moves no bytes.
    pos: usize,
    eof: bool,
    done: bool,
    /// Records read so far.
    pub records: u64,
    /// Whether the lines of the last batch are valid UTF-8.
    pub utf8: bool,
    /// Bytes that are not UTF-8 become U+FFFD.
    lossy: bool,
    /// What a record is: a line, a line keyed by the file's path, a whole file.
    records_are: TextRecords,
    /// The file offset of the first byte seen that is not UTF-8.
    pub bad_utf8: Option<u64>,
    /// The (decompressed) file offset of the last run `next_lines` returned.
    pub run_offset: u64,
}

/// Where the bytes come from.
enum Source {
    /// A host file (or its decoder), read on the task's thread.
    Host(Box<dyn Read + Send>),
    /// An object's bytes as they arrive (through its decoder).
    Store(Pin<Box<dyn AsyncRead + Send>>),
}

impl Source {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Source::Host(r) => r.read(buf),
            Source::Store(r) => r.read(buf).await,
        }
    }
}

/// A file that counts the bytes read from it (a decoder's input), so that an
/// error in compressed data can say where it is.
struct Counted {
    file: std::fs::File,
    read: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl TextReader {
    pub fn new(path: String, start: u64, end: u64, batch_bytes: usize) -> Self {
        TextReader {
            path,
            start,
            end,
            batch_bytes,
            file: None,
            object: None,
            compression: Compression::None,
            compressed_read: Arc::new(AtomicU64::new(0)),
            buf_offset: 0,
            buf: Vec::new(),
            filled: 0,
            pos: 0,
            eof: false,
            done: false,
            records: 0,
            utf8: false,
            lossy: false,
            records_are: TextRecords::Lines,
            bad_utf8: None,
            run_offset: 0,
        }
    }

    /// A reader of `split`, with its options.
    pub fn with_options(split: &TextSplit, batch_bytes: usize) -> Self {
        let mut r = TextReader::new(split.path.clone(), split.start, split.end, batch_bytes);
        r.lossy = split.lossy_utf8;
        r.records_are = split.records();
        r.compression = split.compression();
        if r.compression != Compression::None {
            // The whole file, however long it is once decompressed.
            (r.start, r.end) = (0, u64::MAX);
        }
        r
    }

    /// Reads `object` (the split's URL, opened under the task's grant) instead
    /// of a host file.
    pub fn in_store(mut self, object: Object) -> Self {
        self.object = Some(object);
        self
    }

    /// Whether the file is read through a decoder (offsets count its text).
    pub fn is_compressed(&self) -> bool {
        self.compression != Compression::None
    }

    /// Whether the guest may read runs of lines ([`TextReader::next_lines`]):
    /// unkeyed lines only.
    pub fn runs_of_lines(&self) -> bool {
        self.records_are == TextRecords::Lines
    }

    /// Notes the first byte of `buf[range]` (at file offset `at`) that is not
    /// UTF-8 (unless the file is read lossily: then there is none).
    fn note_bad_utf8(&mut self, range: std::ops::Range<usize>, at: u64) {
        if !self.lossy && self.bad_utf8.is_none() {
            self.bad_utf8 = first_bad_byte(&self.buf[range], at);
        }
    }

    /// The whole file as one record: its path as key, its content as value.
    async fn whole_file(&mut self) -> Result<Option<Vec<u8>>, ExecutorError> {
        if self.done {
            return Ok(None);
        }
        self.done = true;
        let mut bytes = Vec::new();
        let read = match self.open_file(0).await? {
            Source::Host(mut file) => file.read_to_end(&mut bytes),
            Source::Store(mut object) => object.read_to_end(&mut bytes).await,
        };
        read.map_err(|e| self.read_error(e, bytes.len() as u64))?;
        self.utf8 = is_utf8(&bytes);
        let text = if !self.utf8 && self.lossy {
            self.utf8 = true;
            String::from_utf8_lossy(&bytes).into_owned().into_bytes()
        } else {
            if !self.utf8 && self.bad_utf8.is_none() {
                self.bad_utf8 = first_bad_byte(&bytes, 0);
            }
            bytes
        };
        let mut out = BatchWriter::with_capacity(text.len() + self.path.len() + 16);
        out.push(Some(self.path.as_bytes()), &text);
        self.records += 1;
        Ok(Some(out.finish()))
    }

    fn io(&self, source: std::io::Error) -> ExecutorError {
        ExecutorError::Input { path: self.path.clone(), source }
    }

    /// A read that failed after `text_offset` bytes of text: for a compressed
    /// file, most likely corrupt data, located in both the file and its text.
    fn read_error(&self, e: std::io::Error, text_offset: u64) -> ExecutorError {
        if self.compression == Compression::None {
            return self.io(e);
        }
        let compressed = self.compressed_read.load(Ordering::Relaxed);
        self.io(std::io::Error::new(
            e.kind(),
            format!(
                "{} data is corrupt or cut short, at or before compressed byte {compressed} (after {text_offset} \
                 bytes of text): {e}",
                self.compression.label()
            ),
        ))
    }

    /// The file from `offset` (a compressed file: from its start), through its
    /// decoder when it is compressed.
    async fn open_file(&mut self, offset: u64) -> Result<Source, ExecutorError> {
        if let Some(object) = &self.object {
            let bytes = object.reader(offset, self.compressed_read.clone()).await.map_err(|e| self.store_error(e))?;
            let codec = match self.compression {
                Compression::None => spindle_store::Codec::None,
                Compression::Gzip => spindle_store::Codec::Gzip,
                Compression::Zstd => spindle_store::Codec::Zstd,
                Compression::Bzip2 => spindle_store::Codec::Bzip2,
            };
            return Ok(Source::Store(spindle_store::decoder(bytes, codec)));
        }
        let mut file = std::fs::File::open(&self.path).map_err(|e| self.io(e))?;
        if offset > 0 {
            std::io::Seek::seek(&mut file, SeekFrom::Start(offset)).map_err(|e| self.io(e))?;
        }
        let counted = Counted { file, read: self.compressed_read.clone() };
        Ok(Source::Host(match self.compression {
            Compression::None => Box::new(counted.file),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(counted)),
            Compression::Zstd => {
                Box::new(zstd::stream::read::Decoder::new(counted).map_err(|e| self.read_error(e, 0))?)
            }
            Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(counted)),
        }))
    }

    fn store_error(&self, e: spindle_store::StoreError) -> ExecutorError {
        let kind = if e.is_not_found() { std::io::ErrorKind::NotFound } else { std::io::ErrorKind::Other };
        self.io(std::io::Error::new(kind, e.to_string()))
    }

    /// Drops the first `n` read bytes.
    fn consume(&mut self, n: usize) {
        self.buf.copy_within(n..self.filled, 0);
        self.filled -= n;
        self.buf_offset += n as u64;
    }

    /// Reads the next chunk after the read bytes, on this thread. The thread runs
    /// this task's slot, whose guest waits for the read anyway; a read on a
    /// blocking thread woke the task from another thread, which often moved it to
    /// another worker, away from the caches holding its data (word count on
    /// 200 MB: 0.47 s against 0.43 s).
    async fn fill(&mut self) -> Result<(), ExecutorError> {
        let filled = self.filled;
        if self.buf.len() < filled + READ_CHUNK {
            self.buf.resize(filled + READ_CHUNK, 0);
        }
        let file = self.file.as_mut().expect("opened");
        let n = match file.read(&mut self.buf[filled..filled + READ_CHUNK]).await {
            Ok(n) => n,
            Err(e) => return Err(self.read_error(e, self.buf_offset + filled as u64)),
        };
        self.filled += n;
        self.eof = n == 0;
        Ok(())
    }

    /// Opens the file (on this thread, as [`TextReader::fill`] reads it) and skips
    /// to the first line of the split.
    async fn open(&mut self) -> Result<(), ExecutorError> {
        // Start one byte early: if that byte is '\n', a line starts exactly at `start`.
        // (A decoder starts at the file's beginning; compressed splits are whole.)
        let seek_to = self.start.saturating_sub(1);
        self.file = Some(self.open_file(seek_to).await?);
        self.buf_offset = seek_to;
        if self.start > 0 {
            // Skip through the first '\n' at or after `start - 1`.
            loop {
                if let Some(i) = memchr::memchr(b'\n', &self.buf[..self.filled]) {
                    self.consume(i + 1);
                    break;
                }
                let all = self.filled;
                self.consume(all);
                if self.eof {
                    self.done = true;
                    break;
                }
                self.fill().await?;
            }
        }
        Ok(())
    }

    pub async fn next_batch(&mut self) -> Result<Option<Vec<u8>>, ExecutorError> {
        if self.records_are == TextRecords::WholeFiles {
            return self.whole_file().await;
        }
        let batch = self.next_lines_batch().await?;
        let keyed = self.records_are == TextRecords::LinesWithFileName;
        let repair = self.lossy && !self.utf8;
        let Some(batch) = batch else { return Ok(None) };
        if !keyed && !repair {
            return Ok(Some(batch));
        }
        // Lines keyed by their file's path, or made valid UTF-8.
        let key = keyed.then_some(self.path.as_bytes());
        let mut out = BatchWriter::with_capacity(batch.len() + 1024);
        for rec in spindle_frame::BatchReader::new(&batch) {
            let rec = rec.map_err(|e| ExecutorError::BadSpec(format!("text batch: {e}")))?;
            let repaired;
            let value = if repair {
                repaired = String::from_utf8_lossy(rec.value);
                repaired.as_bytes()
            } else {
                rec.value
            };
            out.push(key, value);
        }
        self.utf8 |= repair;
        Ok(Some(out.finish()))
    }

    /// The next batch of lines, unkeyed and as the file holds them.
    async fn next_lines_batch(&mut self) -> Result<Option<Vec<u8>>, ExecutorError> {
        if self.file.is_none() {
            self.open().await?;
        }
        let mut out = BatchWriter::with_capacity(self.batch_bytes + 1024);
        let mut cursor = self.pos;
        // The batch's lines are checked as UTF-8 together, newlines and all (a
        // newline is ASCII, so the lines are valid if the text is): `checked`
        // is where the text not yet checked starts.
        let mut checked = cursor;
        let mut utf8 = true;
        while !self.done && out.len() < self.batch_bytes {
            // The whole lines in the buffer, up to the batch's size or the split's
            // end (a line starting at `first_past_end` or later is the next
            // split's); one search over the buffer finds their ends.
            let (from, first_past_end) = (cursor, self.end.saturating_sub(self.buf_offset));
            let mut exhausted = true;
            for i in memchr::memchr_iter(b'\n', &self.buf[from..self.filled]) {
                if cursor as u64 >= first_past_end {
                    self.done = true;
                    exhausted = false;
                    break;
                }
                push_line(&mut out, &self.buf[cursor..from + i]);
                cursor = from + i + 1;
                if out.len() >= self.batch_bytes {
                    exhausted = false;
                    break;
                }
            }
            if !exhausted {
                continue;
            }
            // No '\n' after `cursor`: the last line, or a refill.
            if self.eof {
                if cursor < self.filled && (cursor as u64) < first_past_end {
                    push_line(&mut out, &self.buf[cursor..self.filled]);
                    cursor = self.filled;
                }
                self.done = true;
            } else {
                if !is_utf8(&self.buf[checked..cursor]) {
                    utf8 = false;
                    let at = self.buf_offset + checked as u64;
                    self.note_bad_utf8(checked..cursor, at);
                }
                self.consume(cursor);
                (cursor, checked) = (0, 0);
                self.fill().await?;
            }
        }
        self.utf8 = utf8 && is_utf8(&self.buf[checked..cursor]);
        if !self.utf8 && self.bad_utf8.is_none() {
            let at = self.buf_offset + checked as u64;
            self.note_bad_utf8(checked..cursor, at);
        }
        self.pos = cursor;
        self.records += out.records() as u64;
        if out.is_empty() && self.done { Ok(None) } else { Ok(Some(out.finish())) }
    }

    /// The next run of whole lines, each with its `\n` (the file's last line
    /// perhaps without), of about `batch_bytes` (or one line, if longer); `None`
    /// at the end. The lines are [`TextReader::next_batch`]'s, `\r` and all.
    pub async fn next_lines(&mut self) -> Result<Option<Vec<u8>>, ExecutorError> {
        if self.file.is_none() {
            self.open().await?;
        }
        loop {
            let from = self.pos;
            // Lines starting at `limit` or later are the next split's.
            let limit = usize::try_from(self.end.saturating_sub(self.buf_offset)).unwrap_or(usize::MAX);
            if self.done || from >= limit {
                self.done = true;
                return Ok(None);
            }
            let buf = &self.buf[..self.filled];
            let window = self.filled.min(from + self.batch_bytes);
            // Where the run ends, and whether it ends the split.
            let stop = if window >= limit {
                // The split's last line (the one holding byte `limit - 1`) ends in
                // or after the window.
                memchr::memchr(b'\n', &buf[limit - 1..]).map(|i| (limit + i, true))
            } else {
                memchr::memrchr(b'\n', &buf[from..window])
                    .map(|i| (from + i + 1, false))
                    // A line longer than the window.
                    .or_else(|| {
                        memchr::memchr(b'\n', &buf[window..]).map(|i| (window + i + 1, window + i + 1 >= limit))
                    })
            };
            let stop = match stop {
                Some(s) => s,
                // The file's last line, without a newline.
                None if self.eof => (self.filled, true),
                None => {
                    self.consume(from);
                    self.pos = 0;
                    self.fill().await?;
                    continue;
                }
            };
            let (stop, last) = stop;
            self.done = last;
            let mut run = self.buf[from..stop].to_vec();
            let at = self.buf_offset + from as u64;
            self.run_offset = at;
            self.pos = stop;
            if run.is_empty() {
                continue;
            }
            self.utf8 = is_utf8(&run);
            if !self.utf8 {
                if self.lossy {
                    run = String::from_utf8_lossy(&run).into_owned().into_bytes();
                    self.utf8 = true;
                } else if self.bad_utf8.is_none() {
                    self.bad_utf8 = first_bad_byte(&run, at);
                }
            }
            let newlines = memchr::memchr_iter(b'\n', &run).count();
            self.records += (newlines + usize::from(run.last() != Some(&b'\n'))) as u64;
            return Ok(Some(run));
        }
    }
}

/// The offset of the first byte of `text` that is not UTF-8, `text` starting at `at`.
fn first_bad_byte(text: &[u8], at: u64) -> Option<u64> {
    simdutf8::compat::from_utf8(text).err().map(|e| at + e.valid_up_to() as u64)
}

fn is_utf8(text: &[u8]) -> bool {
    simdutf8::basic::from_utf8(text).is_ok()
}

#[inline]
fn push_line(out: &mut BatchWriter, line: &[u8]) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    out.push(None, line);
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use spindle_frame::BatchReader;

    fn lines(path: &str, start: u64, end: u64, batch: usize) -> Vec<String> {
        let mut r = TextReader::new(path.into(), start, end, batch);
        let mut out = vec![];
        while let Some(b) = block_on(r.next_batch()).unwrap() {
            for rec in BatchReader::new(&b) {
                out.push(String::from_utf8(rec.unwrap().value.to_vec()).unwrap());
            }
        }
        out
    }

    /// The lines of `[start, end)` as `next_lines` reads them, split as a guest
    /// does (a `\r` before a line's end dropped); checks the runs and the count.
    fn lines_in_runs(path: &str, start: u64, end: u64, batch: usize) -> Vec<String> {
        let mut r = TextReader::new(path.into(), start, end, batch);
        let mut out = vec![];
        while let Some(run) = block_on(r.next_lines()).unwrap() {
            assert!(!run.is_empty());
            let text = String::from_utf8(run).unwrap();
            assert!(r.utf8);
            let body = text.strip_suffix('\n').unwrap_or(&text);
            out.extend(body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned()));
        }
        assert_eq!(r.records, out.len() as u64, "records counted");
        assert!(block_on(r.next_lines()).unwrap().is_none(), "stays at the end");
        out
    }

    #[test]
    fn splits_cover_every_line_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.txt");
        let text = "alpha beta\r\n\ngamma\nδέλτα epsilon\nlast-no-newline";
        std::fs::write(&path, text).unwrap();
        let p = path.to_str().unwrap();
        let whole = lines(p, 0, text.len() as u64, 1 << 16);
        assert_eq!(whole, vec!["alpha beta", "", "gamma", "δέλτα epsilon", "last-no-newline"]);
        for cut in 0..=text.len() as u64 {
            for batch in [1, 7, 1 << 16] {
                let mut got = lines(p, 0, cut, batch);
                got.extend(lines(p, cut, text.len() as u64, batch));
                assert_eq!(got, whole, "cut at {cut}, batch {batch}");
                let mut got = lines_in_runs(p, 0, cut, batch);
                got.extend(lines_in_runs(p, cut, text.len() as u64, batch));
                assert_eq!(got, whole, "runs, cut at {cut}, batch {batch}");
            }
        }
    }

    #[test]
    fn text_options_repair_name_and_whole_files_and_bad_bytes_are_located() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.txt");
        let text = b"good line\ncaf\xe9 au lait\r\nlast \xff";
        std::fs::write(&path, text).unwrap();
        let p = path.to_str().unwrap().to_string();
        let split = |records: TextRecords, lossy: bool| {
            let mut s = TextSplit {
                path: p.clone(),
                start: 0,
                end: text.len() as u64,
                lossy_utf8: lossy,
                ..Default::default()
            };
            s.set_records(records);
            s
        };
        let read = |s: &TextSplit, batch: usize| {
            let mut r = TextReader::with_options(s, batch);
            let mut out = vec![];
            while let Some(b) = block_on(r.next_batch()).unwrap() {
                for rec in BatchReader::new(&b) {
                    let rec = rec.unwrap();
                    out.push((
                        rec.key.map(|k| String::from_utf8(k.to_vec()).unwrap()),
                        String::from_utf8_lossy(rec.value).into_owned(),
                    ));
                }
            }
            (out, r.bad_utf8)
        };
        for batch in [1, 12, 1 << 16] {
            // Lines as they are: the first bad byte's offset is noted.
            let (plain, bad) = read(&split(TextRecords::Lines, false), batch);
            assert_eq!(bad, Some(13), "batch {batch}");
            assert_eq!(plain.len(), 3);
            // Lossy: U+FFFD in place of each bad byte, and nothing noted.
            let (lossy, bad) = read(&split(TextRecords::Lines, true), batch);
            let want = ["good line", "caf\u{fffd} au lait", "last \u{fffd}"];
            assert_eq!(lossy, want.map(|l| (None, l.to_string())), "batch {batch}");
            assert_eq!(bad, None);
            // Keyed by the file's path.
            let (named, _) = read(&split(TextRecords::LinesWithFileName, true), batch);
            assert_eq!(named, want.map(|l| (Some(p.clone()), l.to_string())));
        }
        // Runs of lines note the bad byte too, or repair it.
        let mut r = TextReader::with_options(&split(TextRecords::Lines, false), 1 << 16);
        while block_on(r.next_lines()).unwrap().is_some() {}
        assert_eq!(r.bad_utf8, Some(13));
        let mut r = TextReader::with_options(&split(TextRecords::Lines, true), 1 << 16);
        let run = block_on(r.next_lines()).unwrap().unwrap();
        assert!(r.utf8 && String::from_utf8(run).unwrap().contains("caf\u{fffd}"));
        // A whole file is one record, keyed by its path.
        let (whole, _) = read(&split(TextRecords::WholeFiles, true), 4);
        assert_eq!(whole, [(Some(p.clone()), String::from_utf8_lossy(text).into_owned())]);
        let mut r = TextReader::with_options(&split(TextRecords::WholeFiles, false), 4);
        block_on(r.next_batch()).unwrap();
        assert_eq!(r.bad_utf8, Some(13));
        assert!(!TextReader::with_options(&split(TextRecords::LinesWithFileName, false), 4).runs_of_lines());
    }

    #[test]
    fn batches_of_utf8_lines_are_marked_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.txt");
        // Batches of about 64 bytes: the line with a stray 0xff byte (and a line
        // cut mid-char would be the same) marks its batch only, on either side of
        // a read chunk's end.
        let mut text = Vec::new();
        for i in 0..(3 * READ_CHUNK / 40) {
            text.extend_from_slice(if i % 997 == 500 {
                b"caf\xff naive words line\n"
            } else {
                "café naïve words line\n".as_bytes()
            });
        }
        std::fs::write(&path, &text).unwrap();
        let mut r = TextReader::new(path.to_str().unwrap().into(), 0, text.len() as u64, 64);
        let (mut good, mut bad, mut lines) = (0, 0, 0);
        while let Some(b) = block_on(r.next_batch()).unwrap() {
            let values: Vec<Vec<u8>> = BatchReader::new(&b).map(|rec| rec.unwrap().value.to_vec()).collect();
            lines += values.len();
            assert_eq!(r.utf8, values.iter().all(|v| std::str::from_utf8(v).is_ok()), "{values:?}");
            if r.utf8 { good += 1 } else { bad += 1 }
        }
        assert_eq!(lines, 3 * READ_CHUNK / 40);
        assert_eq!(bad, lines.div_ceil(997));
        assert!(good > bad);
        // Runs of lines are marked the same way.
        let mut r = TextReader::new(path.to_str().unwrap().into(), 0, text.len() as u64, 64);
        let (mut good, mut bad, mut bytes) = (0, 0, 0);
        while let Some(run) = block_on(r.next_lines()).unwrap() {
            bytes += run.len();
            assert_eq!(r.utf8, std::str::from_utf8(&run).is_ok());
            if r.utf8 { good += 1 } else { bad += 1 }
        }
        assert_eq!(bytes, text.len());
        assert_eq!(r.records, lines as u64);
        assert_eq!(bad, lines.div_ceil(997));
        assert!(good > bad);
    }

    #[test]
    fn lines_across_read_chunks_are_read_whole_and_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.txt");
        // About 2.5 read chunks of lines of 0 to 999 bytes, so that lines straddle
        // the chunk boundaries.
        let want: Vec<String> = (0..5000u32).map(|i| "x".repeat((i * 7919 % 1000) as usize) + &i.to_string()).collect();
        let text = want.join("\n") + "\n";
        assert!(text.len() > 2 * READ_CHUNK);
        std::fs::write(&path, &text).unwrap();
        let p = path.to_str().unwrap();
        let len = text.len() as u64;
        for batch in [100, 1 << 16, 1 << 22] {
            assert_eq!(lines(p, 0, len, batch), want, "batch {batch}");
            assert_eq!(lines_in_runs(p, 0, len, batch), want, "runs, batch {batch}");
            for cut in [1, READ_CHUNK as u64 - 3, READ_CHUNK as u64, len / 2, len - 1] {
                let mut got = lines(p, 0, cut, batch);
                got.extend(lines(p, cut, len, batch));
                assert_eq!(got, want, "cut at {cut}, batch {batch}");
                let mut got = lines_in_runs(p, 0, cut, batch);
                got.extend(lines_in_runs(p, cut, len, batch));
                assert_eq!(got, want, "runs, cut at {cut}, batch {batch}");
            }
        }
    }

    #[test]
    fn compressed_files_are_read_whole_and_corruption_is_located() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let text: String = (0..20_000).map(|i| format!("line {i} of the text\n")).collect();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            (p.display().to_string(), bytes.len() as u64)
        };
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(text.as_bytes(), 3).unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(text.as_bytes()).unwrap();
        let bz = bz.finish().unwrap();
        let read_all = |split: &TextSplit| {
            let mut r = TextReader::with_options(split, 4096);
            let mut got = String::new();
            while let Some(b) = block_on(r.next_batch())? {
                for rec in BatchReader::new(&b) {
                    got.push_str(&String::from_utf8_lossy(rec.unwrap().value));
                    got.push('\n');
                }
            }
            Ok::<_, ExecutorError>((got, r.records))
        };
        for (name, bytes, compression) in
            [("a.gz", &gz, Compression::Gzip), ("a.zst", &zst, Compression::Zstd), ("a.bz2", &bz, Compression::Bzip2)]
        {
            let (path, len) = write(name, bytes);
            let split = TextSplit { path, start: 0, end: len, compression: compression.into(), ..Default::default() };
            let (got, records) = read_all(&split).unwrap();
            assert!(got == text, "{name}: the text read differs");
            assert_eq!(records, 20_000, "{name}");
            // Whole-file records decompress too.
            let whole = TextSplit { records: TextRecords::WholeFiles.into(), ..split };
            let b = block_on(TextReader::with_options(&whole, 4096).next_batch()).unwrap().unwrap();
            assert_eq!(BatchReader::new(&b).next().unwrap().unwrap().value, text.as_bytes(), "{name}");
        }
        // Corrupt data in the middle of a gzip file, and a zstd file cut short.
        let mut bad = gz.clone();
        let mid = bad.len() / 2;
        bad[mid..mid + 64].iter_mut().for_each(|b| *b ^= 0x5a);
        let cut = &zst[..zst.len() / 2];
        for (name, bytes, compression) in [("bad.gz", &bad[..], Compression::Gzip), ("cut.zst", cut, Compression::Zstd)]
        {
            let (path, len) = write(name, bytes);
            let split = TextSplit { path, start: 0, end: len, compression: compression.into(), ..Default::default() };
            let err = read_all(&split).unwrap_err().to_string();
            assert!(
                err.contains(name) && err.contains("is corrupt or cut short, at or before compressed byte"),
                "{name}: {err}"
            );
        }
    }
}
