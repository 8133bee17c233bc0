//! Deterministic input data: the same seed gives the same bytes on every machine.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;

/// xorshift64*: small, fast, reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A vocabulary of `n` distinct pseudo-words, 2 to 10 letters, a few with
/// non-ASCII letters.
fn vocabulary(n: usize, rng: &mut Rng) -> Vec<String> {
    const LETTERS: &[char] = &[
        'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v',
        'w', 'x', 'y', 'z', 'é', 'ü', 'ß', 'ø',
    ];
    let mut seen = hashbrown::HashSet::new();
    let mut words = Vec::with_capacity(n);
    while words.len() < n {
        let len = 2 + (rng.next_u64() % 9) as usize;
        let w: String = (0..len)
            .map(|_| {
                // Mostly ASCII: non-ASCII letters 1 time in 40.
                let i = rng.next_u64() as usize;
                if i.is_multiple_of(40) { LETTERS[26 + i / 40 % 4] } else { LETTERS[i / 40 % 26] }
            })
            .collect();
        if seen.insert(w.clone()) {
            words.push(w);
        }
    }
    words
}

/// Text of about `bytes` bytes: lines of 10 words drawn from a Zipf (s = 1)
/// distribution over a 50,000-word vocabulary. Reuses an existing file.
pub fn word_text(dir: &Path, bytes: u64) -> Result<PathBuf> {
    let path = dir.join(format!("words-{bytes}.txt"));
    if path.exists() {
        return Ok(path);
    }
    std::fs::create_dir_all(dir)?;
    let mut rng = Rng::new(0x5eed_0001);
    let vocab = vocabulary(50_000, &mut rng);
    let mut cumulative = Vec::with_capacity(vocab.len());
    let mut total = 0.0;
    for rank in 0..vocab.len() {
        total += 1.0 / (rank + 1) as f64;
        cumulative.push(total);
    }
    let tmp = path.with_extension("tmp");
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    let mut written = 0u64;
    let mut line = String::new();
    while written < bytes {
        line.clear();
        for i in 0..10 {
            let x = rng.unit() * total;
            let rank = cumulative.partition_point(|&c| c < x).min(vocab.len() - 1);
            if i > 0 {
                line.push(' ');
            }
            line.push_str(&vocab[rank]);
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    out.flush()?;
    drop(out);
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// `records` lines of `k<key> <value>`, keys uniform over `keys` distinct keys,
/// values in [-1000, 1000]. Reuses an existing file.
pub fn key_values(dir: &Path, records: u64, keys: u64) -> Result<PathBuf> {
    let path = dir.join(format!("pairs-{records}-{keys}.txt"));
    if path.exists() {
        return Ok(path);
    }
    std::fs::create_dir_all(dir)?;
    let mut rng = Rng::new(0x5eed_0002);
    let tmp = path.with_extension("tmp");
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    for _ in 0..records {
        let key = rng.next_u64() % keys;
        let value = (rng.next_u64() % 2001) as i64 - 1000;
        writeln!(out, "k{key} {value}")?;
    }
    out.flush()?;
    drop(out);
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}
