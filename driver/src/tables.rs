//! Table sources planned into splits: CSV and JSON lines cut like text (by
//! lines, a compressed file whole), Parquet by row groups. The driver reads
//! what planning needs (a CSV sample to infer the schema, Parquet footers to
//! pick and group row groups) and checks the read's columns and filters
//! against the schema before any task runs.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use spindle_formats::parquet_files;
use spindle_proto::{Column, ColumnType, Compression, TableFormat, TableRead, TextSplit, scalar};
use spindle_store::Codec;
use tokio::io::AsyncReadExt;

use crate::DriverError;
use crate::access::DataAccess;
use crate::sources::{self, InputFile};

/// Bytes of the first file a CSV schema is inferred from.
const SAMPLE_BYTES: usize = 64 << 10;

fn input_err(path: &str, reason: impl Into<String>) -> DriverError {
    DriverError::Input { path: path.to_string(), reason: reason.into() }
}

/// The splits of `files` (the files `path` names) read as `read` says.
pub async fn plan(
    path: &str,
    files: &[InputFile],
    mut read: TableRead,
    access: &DataAccess,
    min_partitions: u32,
    max_split: u64,
    codec: Option<Compression>,
) -> Result<Vec<TextSplit>, DriverError> {
    let format = read.format();
    if format == TableFormat::Parquet {
        return parquet_splits(path, files, &read, access, min_partitions, max_split).await;
    }
    if format == TableFormat::Csv && read.schema.is_empty() {
        read.schema = infer_csv(path, files, &read, access, codec).await?;
    }
    check_columns(path, &read.schema, &read).map_err(|e| input_err(path, e))?;
    let mut splits = sources::split(files, min_partitions, max_split, codec);
    for s in &mut splits {
        s.table = Some(read.clone());
    }
    Ok(splits)
}

/// Refuses columns and filters the schema does not have (when it is known),
/// and filters comparing a column with a value of another kind.
fn check_columns(path: &str, schema: &[Column], read: &TableRead) -> Result<(), String> {
    if schema.is_empty() {
        return Ok(());
    }
    let names = || schema.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ");
    let find = |name: &str| {
        schema.iter().find(|c| c.name == name).ok_or_else(|| format!("no column `{name}` (the columns: {})", names()))
    };
    for name in &read.columns {
        find(name)?;
    }
    for p in &read.filters {
        let column = find(&p.column)?;
        let (_, _, value) = spindle_formats::filter::parts(p)?;
        let fits = matches!(
            (column.kind(), value),
            (ColumnType::ColumnInt64 | ColumnType::ColumnFloat64, scalar::Value::Int(_) | scalar::Value::Float(_))
                | (ColumnType::ColumnUtf8, scalar::Value::Text(_))
                | (ColumnType::ColumnBoolean, scalar::Value::Boolean(_))
        );
        if !fits {
            return Err(format!(
                "the filter on `{}` compares a {} column with {value:?} in {path}",
                p.column,
                spindle_formats::type_name(column.kind())
            ));
        }
    }
    Ok(())
}

/// The schema of the first file with rows, from its first bytes.
async fn infer_csv(
    path: &str,
    files: &[InputFile],
    read: &TableRead,
    access: &DataAccess,
    codec: Option<Compression>,
) -> Result<Vec<Column>, DriverError> {
    let options = read.csv.clone().unwrap_or_default();
    let Some(first) = files.iter().find(|f| f.size > 0) else {
        return Err(input_err(path, "no file has rows to infer the CSV schema from: give the schema"));
    };
    let codec = match codec.unwrap_or_else(|| sources::compression_of(&first.name)) {
        Compression::None => Codec::None,
        Compression::Gzip => Codec::Gzip,
        Compression::Zstd => Codec::Zstd,
        Compression::Bzip2 => Codec::Bzip2,
    };
    let failed = |e: String| input_err(&first.name, format!("reading a sample to infer the CSV schema: {e}"));
    let mut input = if spindle_store::is_url(&first.name) {
        let object = access.object(&first.name)?;
        let reader = object.reader(0, Arc::new(AtomicU64::new(0))).await.map_err(|e| failed(e.to_string()))?;
        spindle_store::decoder(reader, codec)
    } else {
        let file = tokio::fs::File::open(&first.name).await.map_err(|e| failed(e.to_string()))?;
        spindle_store::decoder(tokio::io::BufReader::new(file), codec)
    };
    let mut sample = Vec::with_capacity(SAMPLE_BYTES);
    let mut complete = false;
    while sample.len() < SAMPLE_BYTES {
        let mut chunk = vec![0; SAMPLE_BYTES - sample.len()];
        let n = input.read(&mut chunk).await.map_err(|e| failed(e.to_string()))?;
        if n == 0 {
            complete = true;
            break;
        }
        sample.extend_from_slice(&chunk[..n]);
    }
    spindle_formats::infer_csv_schema(&sample, complete, &options).map_err(|e| input_err(&first.name, e))
}

/// Row groups of every file (those the filters leave), grouped into splits of
/// about `total / min_partitions` bytes (at most `max_split`), never across files.
async fn parquet_splits(
    path: &str,
    files: &[InputFile],
    read: &TableRead,
    access: &DataAccess,
    min_partitions: u32,
    max_split: u64,
) -> Result<Vec<TextSplit>, DriverError> {
    let mut planned = Vec::with_capacity(files.len());
    for f in files {
        let object = if spindle_store::is_url(&f.name) { Some(access.object(&f.name)?) } else { None };
        let reader =
            parquet_files::open(&f.name, f.size, object.as_ref()).await.map_err(|e| input_err(path, e.to_string()))?;
        let plan = parquet_files::plan(&f.name, reader, read).await.map_err(|e| input_err(path, e.to_string()))?;
        if plan.skipped_groups > 0 {
            tracing::debug!(file = %f.name, skipped = plan.skipped_groups, "row groups ruled out by statistics");
        }
        planned.push((f, plan));
    }
    let total: u64 = planned.iter().flat_map(|(_, p)| p.groups.iter().map(|g| g.1)).sum();
    let goal = total.div_ceil(u64::from(min_partitions.max(1))).clamp(1, max_split.max(1));
    let mut splits = Vec::new();
    for (f, plan) in planned {
        let mut groups: Vec<u32> = Vec::new();
        let mut bytes = 0;
        for (g, size) in plan.groups {
            if !groups.is_empty() && bytes + size / 2 > goal {
                splits.push(parquet_split(f, read, std::mem::take(&mut groups)));
                bytes = 0;
            }
            groups.push(g);
            bytes += size;
        }
        if !groups.is_empty() {
            splits.push(parquet_split(f, read, groups));
        }
    }
    if splits.is_empty()
        && let Some(first) = files.first()
    {
        // Nothing to read: one empty partition, as for empty text files.
        splits.push(parquet_split(first, read, Vec::new()));
    }
    Ok(splits)
}

/// A split reading `row_groups` of `f` as `read` says.
fn parquet_split(f: &InputFile, read: &TableRead, row_groups: Vec<u32>) -> TextSplit {
    TextSplit {
        path: f.name.clone(),
        start: 0,
        end: f.size,
        table: Some(TableRead { row_groups, ..read.clone() }),
        ..Default::default()
    }
}
