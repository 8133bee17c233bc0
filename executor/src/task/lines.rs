//! Lines the host formats itself (`save-as-lines`): records whose key and value
//! are plain values in the recommended encoding (`wit/job.wit`), written exactly
//! as the Rust SDK's `Line` writes them: the key, a tab, the value, `\n`.

use spindle_frame::BatchReader;
use spindle_proto::{LineField, LineLayout};

/// Appends one line per record of `batch` to `out`; returns how many records it
/// held. A record that does not fit the layout is an error saying how.
pub fn format(batch: &[u8], layout: &LineLayout, out: &mut Vec<u8>) -> Result<u64, String> {
    let (key, value) = (layout.key(), layout.value());
    if value == LineField::Absent {
        return Err("the line layout has no value field".into());
    }
    let mut n = 0;
    for rec in BatchReader::new(batch) {
        let rec = rec.map_err(|e| format!("a malformed batch: {e}"))?;
        match (key, rec.key) {
            (LineField::Absent, None) => {}
            (LineField::Absent, Some(_)) => return Err("a keyed record, where the line layout has no key".into()),
            (_, None) => return Err("an unkeyed record, where the line layout has a key".into()),
            (field, Some(k)) => {
                write(field, k, out).map_err(|e| format!("a record's key: {e}"))?;
                out.push(b'\t');
            }
        }
        write(value, rec.value, out).map_err(|e| format!("a record's value: {e}"))?;
        out.push(b'\n');
        n += 1;
    }
    Ok(n)
}

/// Appends `bytes` as `field` writes them.
fn write(field: LineField, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut digits = itoa::Buffer::new();
    match field {
        LineField::Text => out.extend_from_slice(bytes),
        LineField::Unsigned => {
            let (v, _) = big_endian(bytes)?;
            let shown = match u64::try_from(v) {
                Ok(v) => digits.format(v),
                Err(_) => digits.format(v),
            };
            out.extend_from_slice(shown.as_bytes());
        }
        LineField::Signed => {
            let (v, bits) = big_endian(bytes)?;
            // The sign bit was flipped so that encodings order as values do;
            // flipped back, the value is sign-extended from its width.
            let shift = 128 - bits;
            let v = (((v ^ (1 << (bits - 1))) << shift) as i128) >> shift;
            let shown = match i64::try_from(v) {
                Ok(v) => digits.format(v),
                Err(_) => digits.format(v),
            };
            out.extend_from_slice(shown.as_bytes());
        }
        LineField::Boolean => match bytes {
            [0] => out.extend_from_slice(b"false"),
            [1] => out.extend_from_slice(b"true"),
            _ => return Err(format!("{} bytes are not a bool (one byte, 0 or 1)", bytes.len())),
        },
        LineField::Absent => return Err("no field to write".into()),
    }
    Ok(())
}

/// A fixed-width big-endian integer and its width in bits.
fn big_endian(bytes: &[u8]) -> Result<(u128, u32), String> {
    if !matches!(bytes.len(), 1 | 2 | 4 | 8 | 16) {
        return Err(format!("{} bytes are not an integer (1, 2, 4, 8 or 16 bytes)", bytes.len()));
    }
    let v = bytes.iter().fold(0u128, |v, &b| (v << 8) | u128::from(b));
    Ok((v, 8 * bytes.len() as u32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use spindle_frame::BatchWriter;

    fn layout(key: LineField, value: LineField) -> LineLayout {
        LineLayout { key: key.into(), value: value.into() }
    }

    fn lines(layout: &LineLayout, records: &[(Option<Vec<u8>>, Vec<u8>)]) -> Result<String, String> {
        let mut w = BatchWriter::default();
        for (k, v) in records {
            w.push(k.as_deref(), v);
        }
        let mut out = Vec::new();
        let n = format(&w.finish(), layout, &mut out)?;
        assert_eq!(n, records.len() as u64);
        Ok(String::from_utf8(out).unwrap())
    }

    /// Integers of every width, at their edges, as the SDK encodes them
    /// (big-endian, sign bit flipped for signed), are written as `Display` does.
    #[test]
    fn integers_are_written_as_display_writes_them() {
        let signed: Vec<(Vec<u8>, String)> = [
            (i8::MIN as i128, 1),
            (-1, 1),
            (0, 1),
            (i8::MAX as i128, 1),
            (i16::MIN as i128, 2),
            (-300, 2),
            (i32::MIN as i128, 4),
            (12_345_678, 4),
            (i64::MIN as i128, 8),
            (-1, 8),
            (i64::MAX as i128, 8),
            (i128::MIN, 16),
            (i128::MAX, 16),
            (-42, 16),
        ]
        .into_iter()
        .map(|(v, width)| {
            let flipped = (v as u128) ^ (1 << (8 * width - 1));
            (flipped.to_be_bytes()[16 - width..].to_vec(), v.to_string())
        })
        .collect();
        let unsigned: Vec<(Vec<u8>, String)> = [
            (0u128, 1),
            (255, 1),
            (65_535, 2),
            (u32::MAX as u128, 4),
            (u64::MAX as u128, 8),
            (u128::MAX, 16),
            (1 << 63, 8),
        ]
        .into_iter()
        .map(|(v, width)| (v.to_be_bytes()[16 - width..].to_vec(), v.to_string()))
        .collect();
        for (bytes, want) in &signed {
            let got = lines(&layout(LineField::Absent, LineField::Signed), &[(None, bytes.clone())]).unwrap();
            assert_eq!(got, format!("{want}\n"), "{bytes:?}");
        }
        for (bytes, want) in &unsigned {
            let got = lines(&layout(LineField::Absent, LineField::Unsigned), &[(None, bytes.clone())]).unwrap();
            assert_eq!(got, format!("{want}\n"), "{bytes:?}");
        }
    }

    #[test]
    fn keyed_records_are_key_tab_value() {
        let l = layout(LineField::Text, LineField::Unsigned);
        let recs = vec![(Some(b"fox".to_vec()), 3u64.to_be_bytes().to_vec()), (Some(b"".to_vec()), vec![7])];
        assert_eq!(lines(&l, &recs).unwrap(), "fox\t3\n\t7\n");
        let l = layout(LineField::Boolean, LineField::Text);
        let recs = vec![(Some(vec![1]), b"yes".to_vec()), (Some(vec![0]), Vec::new())];
        assert_eq!(lines(&l, &recs).unwrap(), "true\tyes\nfalse\t\n");
    }

    #[test]
    fn records_that_do_not_fit_the_layout_are_refused() {
        let keyed = layout(LineField::Text, LineField::Unsigned);
        let err = lines(&keyed, &[(Some(b"k".to_vec()), vec![0; 3])]).unwrap_err();
        assert!(err.contains("value") && err.contains("3 bytes are not an integer"), "{err}");
        let err = lines(&keyed, &[(None, vec![0; 8])]).unwrap_err();
        assert!(err.contains("unkeyed record"), "{err}");
        let unkeyed = layout(LineField::Absent, LineField::Text);
        assert!(lines(&unkeyed, &[(Some(b"k".to_vec()), b"v".to_vec())]).unwrap_err().contains("keyed record"));
        let bools = layout(LineField::Absent, LineField::Boolean);
        assert!(lines(&bools, &[(None, vec![2])]).unwrap_err().contains("not a bool"));
        assert!(lines(&layout(LineField::Text, LineField::Absent), &[]).unwrap_err().contains("no value field"));
    }
}
