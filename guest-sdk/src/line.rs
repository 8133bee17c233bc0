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

display_lines!(String, &'static str, bool, char, u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

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
