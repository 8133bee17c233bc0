//! Tables: CSV, JSON lines and Parquet files read into typed rows, and datasets
//! written as tables. The host parses and writes the files; a guest sees each
//! row as a value of its own `#[derive(Deserialize)]` type, fields matched by
//! name.

use crate::__private::bindings::spindle::job::context;
use crate::codec;
use crate::pipeline::{self, make_op};
use crate::{Accumulator, Compression, Data, Dataset, Error, Result};

pub use context::{ColumnType, CompareOp, ParquetCompression, TableFormat};

/// A value a column is compared with in [`Table::filter`].
pub use context::Scalar;

impl From<i64> for Scalar {
    fn from(v: i64) -> Self {
        Scalar::Int(v)
    }
}

impl From<i32> for Scalar {
    fn from(v: i32) -> Self {
        Scalar::Int(i64::from(v))
    }
}

impl From<f64> for Scalar {
    fn from(v: f64) -> Self {
        Scalar::Float(v)
    }
}

impl From<bool> for Scalar {
    fn from(v: bool) -> Self {
        Scalar::Boolean(v)
    }
}

impl From<&str> for Scalar {
    fn from(v: &str) -> Self {
        Scalar::Text(v.to_string())
    }
}

/// A column of a schema: its name and type (every column may hold nulls).
pub fn column(name: &str, kind: ColumnType) -> context::Column {
    context::Column { name: name.to_string(), kind }
}

/// A read of a table's files, built up with options, then
/// [`read`](Table::read) into a dataset of `T`.
///
/// ```ignore
/// let trips: Dataset<Trip> = Table::parquet("s3://lake/trips/")
///     .filter("fare", CompareOp::Gt, 10.0)
///     .read()?;
/// ```
#[derive(Debug, Clone)]
pub struct Table {
    path: String,
    options: context::TableOptions,
}

impl Table {
    fn new(path: &str, format: TableFormat) -> Self {
        Table {
            path: path.to_string(),
            options: context::TableOptions {
                format,
                min_partitions: None,
                columns: None,
                filters: Vec::new(),
                schema: None,
                mode: context::ReadMode::Fail,
                skipped: None,
                csv: context::CsvOptions { header: true, delimiter: None, quote: None, null_value: None },
                compression: None,
            },
        }
    }

    /// CSV files (a file, directory or glob; local or an object-store URL).
    /// The first line of each file is a header unless
    /// [`header(false)`](Table::header) says otherwise.
    pub fn csv(path: &str) -> Self {
        Table::new(path, TableFormat::Csv)
    }

    /// JSON lines files: one object per line.
    pub fn json_lines(path: &str) -> Self {
        Table::new(path, TableFormat::JsonLines)
    }

    /// Parquet files, split by row groups.
    pub fn parquet(path: &str) -> Self {
        Table::new(path, TableFormat::Parquet)
    }

    /// Reads only these columns (by default, the fields of the struct read
    /// into, or every column for other types).
    pub fn columns(mut self, columns: &[&str]) -> Self {
        self.options.columns = Some(columns.iter().map(|c| c.to_string()).collect());
        self
    }

    /// Keeps the rows where `column op value` holds (a null never does); on
    /// Parquet, row groups whose statistics rule it out are not read.
    pub fn filter(mut self, column: &str, op: CompareOp, value: impl Into<Scalar>) -> Self {
        self.options.filters.push(context::Predicate { column: column.to_string(), op, value: value.into() });
        self
    }

    /// The columns of CSV files in file order (by default inferred from the
    /// first file), or the types JSON values are read as.
    pub fn schema(mut self, columns: Vec<context::Column>) -> Self {
        self.options.schema = Some(columns);
        self
    }

    /// Whether the first line of each CSV file names the columns (default: yes).
    pub fn header(mut self, header: bool) -> Self {
        self.options.csv.header = header;
        self
    }

    /// The CSV field delimiter (default `,`).
    pub fn delimiter(mut self, delimiter: char) -> Self {
        self.options.csv.delimiter = Some(delimiter);
        self
    }

    /// The CSV quote character (default `"`).
    pub fn quote(mut self, quote: char) -> Self {
        self.options.csv.quote = Some(quote);
        self
    }

    /// The CSV field that reads as null (default: the empty field).
    pub fn null_value(mut self, null: &str) -> Self {
        self.options.csv.null_value = Some(null.to_string());
        self
    }

    /// Skips rows that cannot be parsed instead of failing the job (Spark's
    /// `mode = PERMISSIVE`, dropping the row), counting them in `skipped`.
    pub fn permissive(mut self, skipped: &Accumulator<i64>) -> Self {
        self.options.mode = context::ReadMode::Permissive;
        self.options.skipped = Some(skipped.id());
        self
    }

    /// At least this many partitions (default: the default parallelism).
    pub fn min_partitions(mut self, partitions: u32) -> Self {
        self.options.min_partitions = (partitions > 0).then_some(partitions);
        self
    }

    /// How CSV or JSON lines files are compressed, whatever their names say.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.options.compression = Some(compression.wit());
        self
    }

    /// The rows as a dataset of `T`: a struct whose fields name columns (an
    /// `Option` field may be missing or null), a map, or a tuple of the
    /// columns in order.
    pub fn read<T: Data>(mut self) -> Result<Dataset<T>> {
        if self.options.columns.is_none()
            && let Some(fields) = codec::field_names::<T>()
        {
            self.options.columns = Some(fields.iter().map(|f| f.to_string()).collect());
        }
        let rows = context::table_source(&self.path, &self.options).map_err(Error::msg)?;
        let rows: Dataset<Vec<u8>> = Dataset::<Vec<u8>>::wrap(rows);
        Ok(rows.narrow(make_op(pipeline::build_decode_rows::<T>, &[])))
    }
}

/// The rows of Parquet files as `T` (see [`Table::read`]).
pub fn read_parquet<T: Data>(path: &str) -> Result<Dataset<T>> {
    Table::parquet(path).read()
}

/// The rows of CSV files with a header line as `T`, the column types inferred.
pub fn read_csv<T: Data>(path: &str) -> Result<Dataset<T>> {
    Table::csv(path).read()
}

/// The rows of JSON lines files as `T`.
pub fn read_json<T: Data>(path: &str) -> Result<Dataset<T>> {
    Table::json_lines(path).read()
}

/// How [`Dataset::save_as_table`] writes.
#[derive(Debug, Clone)]
pub struct TableSave {
    /// Parquet, CSV or JSON lines.
    pub format: TableFormat,
    /// The columns (default: each part's, from its rows).
    pub schema: Option<Vec<context::Column>>,
    /// CSV: a header line in each part (default: yes).
    pub header: bool,
    /// CSV: the delimiter (default `,`).
    pub delimiter: Option<char>,
    /// CSV and JSON lines: how parts are compressed.
    pub compression: Compression,
    /// Parquet: how pages are compressed (default snappy).
    pub parquet_compression: ParquetCompression,
}

impl TableSave {
    /// Writes `format` with the defaults.
    pub fn new(format: TableFormat) -> Self {
        TableSave {
            format,
            schema: None,
            header: true,
            delimiter: None,
            compression: Compression::None,
            parquet_compression: ParquetCompression::Snappy,
        }
    }
}

impl<T: Data> Dataset<T> {
    /// Action: writes the elements (structs, maps or tuples, fields by name)
    /// as a table into `path/part-NNNNN.<ext>` files, then `path/_SUCCESS`.
    /// Fails if `path` exists.
    pub fn save_as_table(&self, path: &str, options: TableSave) -> Result<()> {
        let rows: Dataset<Vec<u8>> = self.narrow(make_op(pipeline::build_encode_rows::<T>, &[]));
        let options = context::TableSaveOptions {
            format: options.format,
            schema: options.schema,
            csv: context::CsvOptions {
                header: options.header,
                delimiter: options.delimiter,
                quote: None,
                null_value: None,
            },
            compression: options.compression.wit(),
            parquet_compression: options.parquet_compression,
        };
        rows.handle().save_as_table(path, &options).map_err(Error::msg)
    }

    /// Action: the elements as Parquet files (snappy), the schema taken from
    /// the rows (see [`save_as_table`](Self::save_as_table)).
    pub fn save_as_parquet(&self, path: &str) -> Result<()> {
        self.save_as_table(path, TableSave::new(TableFormat::Parquet))
    }

    /// Action: the elements as CSV files with a header line.
    pub fn save_as_csv(&self, path: &str) -> Result<()> {
        self.save_as_table(path, TableSave::new(TableFormat::Csv))
    }

    /// Action: the elements as JSON lines files.
    pub fn save_as_json_lines(&self, path: &str) -> Result<()> {
        self.save_as_table(path, TableSave::new(TableFormat::JsonLines))
    }
}
