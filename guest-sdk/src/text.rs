//! Helpers for text elements.

/// The words of `line` (separated by Unicode whitespace, as
/// [`str::split_whitespace`] splits them), each as its own `String`, produced one
/// at a time: `text_file(path)?.flat_map(spindle::words)` splits lines with no
/// collection per line.
pub fn words(line: String) -> Words {
    Words { line, pos: 0 }
}

/// The iterator [`words`] returns; it owns its line.
#[derive(Debug, Clone)]
pub struct Words {
    line: String,
    pos: usize,
}

impl Iterator for Words {
    type Item = String;

    #[inline]
    fn next(&mut self) -> Option<String> {
        let rest = &self.line[self.pos..];
        let word = rest.split_whitespace().next()?;
        // `word` lies inside `rest`: its offset there, plus its length, is where
        // the next search starts.
        let start = word.as_ptr() as usize - rest.as_ptr() as usize;
        self.pos += start + word.len();
        Some(word.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_split_whitespace() {
        for line in ["", "   ", "one", " two  words ", "tab\tand\nnewline", "ideographic\u{3000}space", "é ü\u{a0}ñ", "x "] {
            let want: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            assert_eq!(words(line.to_owned()).collect::<Vec<_>>(), want, "{line:?}");
        }
    }
}
