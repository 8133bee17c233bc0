//! How [`Dataset::save_as_text_file`](crate::Dataset::save_as_text_file) writes
//! an element as a line of text.

use std::fmt::Write;

use crate::__private::bindings::spindle::job::context::{LineField, LineLayout};

/// An element that can be written as one line: plain values in their `Display`
/// form, tuples as their fields separated by tabs, `None` as an empty field.
///
/// Strings, integers, `bool` and pairs of them are written by the host from
/// their encoded records (`save-as-lines`), without a formatting step in the
/// guest; the host writes them exactly as [`write_line`](Line::write_line) does.
pub trait Line {
    /// Appends the line (without `\n`).
    fn write_line(&self, out: &mut String);

    /// The field the host writes this value as, at the top of a key or value,
    /// when it is a plain value the host can format (`None`: the guest formats
    /// it).
    #[doc(hidden)]
    fn line_field() -> Option<LineField>
    where
        Self: Sized,
    {
        None
    }

    /// How the host writes this element's record as a line (`None`: the guest
    /// formats it).
    #[doc(hidden)]
    fn line_layout() -> Option<LineLayout>
    where
        Self: Sized,
    {
        Self::line_field().map(|value| LineLayout { key: None, value })
    }
}

/// `Line::line_field` for types the host writes as `field`.
macro_rules! host_field {
    ($field:ident) => {
        fn line_field() -> Option<LineField> {
            Some(LineField::$field)
        }
    };
}

/// `Line` through `Display`, for types the host writes as `field` if given.
macro_rules! display_lines {
    ($($t:ty $(=> $field:ident)?),*) => {$(
        impl Line for $t {
            fn write_line(&self, out: &mut String) {
                let _ = write!(out, "{self}");
            }
            $(host_field!($field);)?
        }
    )*};
}

display_lines!(bool => Boolean, u128 => Unsigned, i128 => Signed, f32, f64);

// Text and integers are written directly, not through `core::fmt` (its
// machinery was a tenth of a sort's instructions, writing `key<TAB>value` lines).

impl Line for String {
    fn write_line(&self, out: &mut String) {
        out.push_str(self);
    }
    host_field!(Text);
}

impl Line for &'static str {
    fn write_line(&self, out: &mut String) {
        out.push_str(self);
    }
    host_field!(Text);
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
            host_field!(Unsigned);
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
            host_field!(Signed);
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

/// A pair is a keyed record: the host writes it when both halves are plain.
impl<A: Line, B: Line> Line for (A, B) {
    fn write_line(&self, out: &mut String) {
        self.0.write_line(out);
        out.push('\t');
        self.1.write_line(out);
    }

    fn line_layout() -> Option<LineLayout> {
        Some(LineLayout { key: Some(A::line_field()?), value: B::line_field()? })
    }
}

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

    /// The host writes plain values and pairs of them; everything else is the
    /// guest's to format.
    #[test]
    fn plain_values_and_pairs_of_them_have_a_host_layout() {
        use crate::__private::bindings::spindle::job::context::LineField as F;
        let layout = |l: Option<super::LineLayout>| l.map(|l| (l.key.map(|k| k as u8), l.value as u8));
        assert_eq!(layout(String::line_layout()), Some((None, F::Text as u8)));
        assert_eq!(layout(<i32>::line_layout()), Some((None, F::Signed as u8)));
        assert_eq!(layout(<(String, u64)>::line_layout()), Some((Some(F::Text as u8), F::Unsigned as u8)));
        assert_eq!(layout(<(bool, i128)>::line_layout()), Some((Some(F::Boolean as u8), F::Signed as u8)));
        assert_eq!(layout(<(u64, f64)>::line_layout()), None);
        assert_eq!(layout(<(u64, u64, String)>::line_layout()), None);
        assert_eq!(layout(<Option<u64>>::line_layout()), None);
        assert_eq!(layout(<((u64, u64), u64)>::line_layout()), None);
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
