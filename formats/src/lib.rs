//! Table formats on the host: CSV, JSON lines and Parquet files read into rows
//! (the row encoding of `wit/job.wit`, [`spindle_frame::row`]) for guests, and
//! rows written back as files. Every byte of parsing happens here, natively;
//! guests receive typed, named fields.
//!
//! # Layout
//! - `values`: one CSV field parsed as its column's type, and schema inference.
//! - [`filter`]: predicates on rows, and on Parquet row groups' statistics.
//! - [`lines`]: CSV and JSON lines (line-split formats) read into rows.
//! - [`parquet_files`]: Parquet files planned into row-group splits and read
//!   into rows, with projection and pushdown.
//! - `arrow_rows`: Arrow arrays to rows and rows to Arrow arrays.
//! - [`writer`]: rows written as CSV, JSON lines or Parquet.

use std::fmt;

mod arrow_rows;
pub mod filter;
pub mod lines;
pub mod parquet_files;
mod values;
pub mod writer;

pub use values::infer_csv_schema;

/// Where in a file a bad row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The line starting at this (decompressed) byte offset.
    Offset(u64),
    /// Row `row` (from 0) of the file.
    Row(u64),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Offset(at) => write!(f, "the row at byte {at}"),
            Place::Row(row) => write!(f, "row {row}"),
        }
    }
}

/// Why a table could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// A row the reader cannot parse (skipped in permissive mode).
    #[error("{file}, {at}{}: {reason}", column.as_ref().map(|c| format!(", column `{c}`")).unwrap_or_default())]
    BadRow { file: String, at: Place, column: Option<String>, reason: String },
    /// The file itself cannot be read (not Parquet, unreadable, truncated).
    #[error("reading {file}: {reason}")]
    Read { file: String, reason: String },
    /// A row that cannot be written as the part's format or schema says.
    #[error("writing {file}: {reason}")]
    Write { file: String, reason: String },
    /// Options that do not fit the table (a column it does not have, ...).
    #[error("{0}")]
    Options(String),
}

impl FormatError {
    /// Whether permissive mode may skip the row this error is about.
    pub fn is_bad_row(&self) -> bool {
        matches!(self, FormatError::BadRow { .. })
    }
}

/// The name of a column type, as messages and docs write it.
pub fn type_name(kind: spindle_proto::ColumnType) -> &'static str {
    use spindle_proto::ColumnType as T;
    match kind {
        T::ColumnBoolean => "boolean",
        T::ColumnInt64 => "int64",
        T::ColumnFloat64 => "float64",
        T::ColumnUtf8 => "utf8",
        T::ColumnBinary => "binary",
    }
}
