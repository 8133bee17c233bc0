//! How [`Dataset::save_as_text_file`](crate::Dataset::save_as_text_file) writes
//! an element as a line of text.

use std::fmt::Write;

/// An element that can be written as one line: plain values in their `Display`
/// form, tuples as their fields separated by tabs, `None` as an empty field.
pub trait Line {
    /// Appends the line (without `\n`).
    fn write_line(&self, out: &mut String);
}

macro_rules! display_lines {
    ($($t:ty),*) => {$(
        impl Line for $t {
            fn write_line(&self, out: &mut String) {
                let _ = write!(out, "{self}");
            }
        }
    )*};
}

display_lines!(bool, u128, i128, f32, f64);

// Text and integers are written directly, not through `core::fmt` (its
// machinery was a tenth of a sort's instructions, writing `key<TAB>value` lines).

impl Line for String {
    fn write_line(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl Line for &'static str {
    fn write_line(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl Line for char {
    fn write_line(&self, out: &mut String) {
        out.push(*self);
    }
}

/// Appends `n` in decimal.
fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // SAFETY: ASCII digits.
    out.push_str(unsafe { core::str::from_utf8_unchecked(&digits[at..]) });
}

macro_rules! unsigned_lines {
    ($($t:ty),*) => {$(
        impl Line for $t {
            fn write_line(&self, out: &mut String) {
                push_u64(out, *self as u64);
            }
        }
    )*};
}

macro_rules! signed_lines {
    ($($t:ty),*) => {$(
        impl Line for $t {
            fn write_line(&self, out: &mut String) {
                if *self < 0 {
                    out.push('-');
                }
                push_u64(out, self.unsigned_abs() as u64);
            }
        }
    )*};
}

unsigned_lines!(u8, u16, u32, u64, usize);
signed_lines!(i8, i16, i32, i64, isize);

impl<T: Line> Line for Option<T> {
    fn write_line(&self, out: &mut String) {
        if let Some(t) = self {
            t.write_line(out);
        }
    }
}

macro_rules! tuple_lines {
    ($first:ident $(, $rest:ident)*) => {
        impl<$first: Line $(, $rest: Line)*> Line for ($first, $($rest),*) {
            #[allow(non_snake_case)]
            fn write_line(&self, out: &mut String) {
                let ($first, $($rest),*) = self;
                $first.write_line(out);
                $(
                    out.push('\t');
                    $rest.write_line(out);
                )*
            }
        }
    };
}

tuple_lines!(A, B);
tuple_lines!(A, B, C);
tuple_lines!(A, B, C, D);

#[cfg(test)]
mod tests {
    use super::Line;

    fn line<T: Line>(t: T) -> String {
        let mut out = String::new();
        t.write_line(&mut out);
        out
    }

    #[test]
    fn integers_are_written_as_display_writes_them() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut values: Vec<u64> = vec![0, 1, 9, 10, 11, 99, 100, 101, u64::MAX, u64::MAX - 1, 1 << 63];
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(x >> (x % 64));
        }
        for v in values {
            assert_eq!(line(v), v.to_string());
            assert_eq!(line(v as i64), (v as i64).to_string());
            assert_eq!(line(v as u32), (v as u32).to_string());
            assert_eq!(line(v as i32), (v as i32).to_string());
            assert_eq!(line(v as i8), (v as i8).to_string());
            assert_eq!(line(v as u16), (v as u16).to_string());
        }
        for v in [i64::MIN, i64::MIN + 1, -1, i64::MAX] {
            assert_eq!(line(v), v.to_string());
        }
        assert_eq!(line(i8::MIN), "-128");
    }

    #[test]
    fn tuples_are_tab_separated_fields() {
        assert_eq!(line((String::from("key"), -42i64, 'x', Some(7u8))), "key\t-42\tx\t7");
        assert_eq!(line((None::<u8>, 0usize)), "\t0");
        assert_eq!(line(("naïve", 1.5f64, true)), "naïve\t1.5\ttrue");
    }
}
