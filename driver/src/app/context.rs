//! The host side of `context`: sources and transformations record lineage;
//! actions run jobs and hand their results back to `main`. Job failures are
//! returned to `main` as `err` values, not traps, so a job can report them.

use std::sync::Arc;

use bytes::Bytes;
use spindle_frame::{BatchReader, BatchWriter};
use spindle_proto::{
    AccumulatorUpdate, Column, ColumnType, CompareOp, Compression, CsvOptions, LineField, LineLayout,
    ParquetCompression, Predicate, Scalar, StorageLevel, TableFormat, TableRead, TableWrite, TextRecords,
    UnpersistRequest, accumulator_update, scalar, unpersist_request,
};
use spindle_sandbox::DatasetRef;
use spindle_sandbox::bindings::spindle::job::{context, task_io, types};
use wasmtime::component::Resource;

use super::AppState;
use super::range_bounds::{range_bounds, sample_size};
use crate::DriverError;
use crate::app::shared::Number;
use crate::scheduler::commit;
use crate::scheduler::dag::Action;
use crate::scheduler::lineage::{Lineage, Node, NodeId, ShuffleKind};
use crate::scheduler::tasks::ActionOutput;
use crate::{sources, tables};

type Handle = Resource<DatasetRef>;

/// Most partitions a dataset may have: each is a task, and a map task keeps one
/// bucket per reduce partition.
pub const MAX_PARTITIONS: u32 = 100_000;
/// Most accumulators one application may make.
pub const MAX_ACCUMULATORS: u64 = 65_536;
/// Most bytes of broadcast values one application may hold at once.
pub const MAX_BROADCAST_BYTES: u64 = 1 << 30;

/// The wire's name of a codec.
fn compression(c: context::TextCompression) -> Compression {
    match c {
        context::TextCompression::None => Compression::None,
        context::TextCompression::Gzip => Compression::Gzip,
        context::TextCompression::Zstd => Compression::Zstd,
        context::TextCompression::Bzip2 => Compression::Bzip2,
    }
}

fn table_format(f: context::TableFormat) -> TableFormat {
    match f {
        context::TableFormat::Csv => TableFormat::Csv,
        context::TableFormat::JsonLines => TableFormat::JsonLines,
        context::TableFormat::Parquet => TableFormat::Parquet,
    }
}

fn columns(columns: Vec<context::Column>) -> Vec<Column> {
    columns
        .into_iter()
        .map(|c| Column {
            name: c.name,
            kind: match c.kind {
                context::ColumnType::Boolean => ColumnType::ColumnBoolean,
                context::ColumnType::Int64 => ColumnType::ColumnInt64,
                context::ColumnType::Float64 => ColumnType::ColumnFloat64,
                context::ColumnType::Utf8 => ColumnType::ColumnUtf8,
                context::ColumnType::Binary => ColumnType::ColumnBinary,
            }
            .into(),
        })
        .collect()
}

fn csv_options(o: &context::CsvOptions) -> CsvOptions {
    CsvOptions {
        header: o.header,
        delimiter: o.delimiter.map_or(0, u32::from),
        quote: o.quote.map_or(0, u32::from),
        null_value: o.null_value.clone().unwrap_or_default(),
    }
}

fn predicate(p: context::Predicate) -> Predicate {
    let value = match p.value {
        context::Scalar::Boolean(b) => scalar::Value::Boolean(b),
        context::Scalar::Int(i) => scalar::Value::Int(i),
        context::Scalar::Float(f) => scalar::Value::Float(f),
        context::Scalar::Text(t) => scalar::Value::Text(t),
    };
    let op = match p.op {
        context::CompareOp::Eq => CompareOp::Eq,
        context::CompareOp::Ne => CompareOp::Ne,
        context::CompareOp::Lt => CompareOp::Lt,
        context::CompareOp::Le => CompareOp::Le,
        context::CompareOp::Gt => CompareOp::Gt,
        context::CompareOp::Ge => CompareOp::Ge,
    };
    Predicate { column: p.column, op: op.into(), value: Some(Scalar { value: Some(value) }) }
}

fn check_partitions(what: &str, n: u32) -> Result<u32, String> {
    if n > MAX_PARTITIONS {
        return Err(format!("{what}: {n} partitions is over the limit of {MAX_PARTITIONS}"));
    }
    Ok(n)
}

impl AppState {
    /// `save-as-text-file`: prepares the output directory, runs the job, and
    /// aborts the output if the job never ran to its own abort. With
    /// `line_layout`, the executors format each record as a line.
    async fn save_text(
        &mut self,
        ds: Handle,
        path: String,
        compression: Compression,
        table: Option<TableWrite>,
        line_layout: Option<LineLayout>,
    ) -> wasmtime::Result<Result<(), String>> {
        let mut output = match commit::prepare_job(&path, &self.app.access, compression, table).await {
            Ok(output) => output,
            Err(e) => return Ok(Err(e.to_string())),
        };
        output.line_layout = line_layout;
        let result = self.act(&ds, Action::SaveText(output.clone()))?.await;
        if result.is_err() {
            // A job that never started (refused at planning) has not aborted yet.
            output.abort_job().await;
        }
        Ok(result.map(|_| ()))
    }

    fn node(&self, ds: &Handle) -> wasmtime::Result<NodeId> {
        Ok(NodeId(self.table.get(ds)?.0))
    }

    fn handle(&mut self, node: NodeId) -> wasmtime::Result<Handle> {
        Ok(self.table.push(DatasetRef(node.0))?)
    }

    fn add(&mut self, node: Node) -> wasmtime::Result<Handle> {
        let id = {
            let mut lineage = self.app.lineage.lock().expect("lineage lock");
            self.check_shape(&lineage, &node)?;
            lineage.push(node)
        };
        self.handle(id)
    }

    /// Refuses a dataset whose plan would be past the driver's limits, before any work.
    fn check_shape(&self, lineage: &Lineage, node: &Node) -> wasmtime::Result<()> {
        let config = &self.app.rules;
        let shape = lineage.shape_of(node);
        if shape.depth > config.max_lineage_depth {
            wasmtime::bail!(
                "this dataset would be made from a chain of {} datasets, over the limit of {} (max_lineage_depth); \
                 save an intermediate dataset and start again from its files (as Spark's checkpoint)",
                shape.depth,
                config.max_lineage_depth
            );
        }
        if shape.pipelines > config.max_task_pipelines {
            wasmtime::bail!(
                "a task of this dataset would plan {} pipelines, over the limit of {} (max_task_pipelines): \
                 coalesces of unions multiply them; repartition instead of coalescing",
                shape.pipelines,
                config.max_task_pipelines
            );
        }
        Ok(())
    }

    /// A shuffle of `parents` into `partitions` (default: the most any parent has).
    fn shuffle(
        &mut self,
        parents: Vec<NodeId>,
        kind: ShuffleKind,
        partitions: Option<u32>,
    ) -> wasmtime::Result<Handle> {
        let node = {
            let mut lineage = self.app.lineage.lock().expect("lineage lock");
            let partitions = partitions
                .filter(|&p| p > 0)
                .unwrap_or_else(|| parents.iter().map(|p| lineage.num_partitions(*p)).max().unwrap_or(1).max(1));
            check_partitions("a shuffle", partitions).map_err(wasmtime::Error::msg)?;
            let shuffles = parents.iter().map(|_| lineage.new_shuffle()).collect();
            let node = Node::Shuffle { parents, shuffles, kind, partitions };
            self.check_shape(&lineage, &node)?;
            lineage.push(node)
        };
        self.handle(node)
    }

    fn nodes(&self, ds: &Handle, others: &[Handle]) -> wasmtime::Result<Vec<NodeId>> {
        let mut nodes = vec![self.node(ds)?];
        for o in others {
            nodes.push(self.node(o)?);
        }
        Ok(nodes)
    }

    fn parallelism(&self) -> u32 {
        match self.app.driver.cluster.total_slots() {
            0 => self.app.driver.config.fallback_parallelism,
            n => n,
        }
    }

    /// The job for `action`, as a future that holds no borrow of the store data.
    fn act(
        &self,
        ds: &Handle,
        action: Action,
    ) -> wasmtime::Result<impl Future<Output = Result<ActionOutput, String>> + Send + 'static> {
        let node = self.node(ds)?;
        let app = self.app.clone();
        Ok(async move { app.run_action(node, action).await.map_err(|e| e.to_string()) })
    }
}

impl types::Host for AppState {}

impl task_io::Host for AppState {
    spindle_sandbox::refuse_calls! { self =>
        wasmtime::format_err!("`task-io` was called from `main`; it is only available inside tasks");
        fn read() -> Option<Vec<u8>>;
        fn input_utf8() -> bool;
        fn input_is_text() -> bool;
        fn input_sorted() -> bool;
        fn read_lines() -> Option<Vec<u8>>;
        fn write(records: Vec<u8>) -> ();
        fn output_counted() -> bool;
        fn add_output_count(records: u64) -> ();
        fn partition() -> u32;
        fn step_partition(step: u32) -> u32;
        fn broadcast_value(id: u64) -> Result<Vec<u8>, String>;
    }

    /// `main` may add to an accumulator too (as Spark's driver may): applied at once.
    async fn add_to_accumulator(&mut self, id: u64, delta: types::Number) -> wasmtime::Result<()> {
        let delta = match delta {
            types::Number::Int(i) => accumulator_update::Delta::Int(i),
            types::Number::Float(f) => accumulator_update::Delta::Float(f),
        };
        self.app.accumulators.apply(&[AccumulatorUpdate { id, delta: Some(delta) }]);
        Ok(())
    }
}

impl context::Host for AppState {
    async fn text_file(
        &mut self,
        path: String,
        min_partitions: Option<u32>,
    ) -> wasmtime::Result<Result<Handle, String>> {
        let options = context::TextOptions {
            min_partitions,
            lossy_utf8: false,
            records: context::TextRecords::Lines,
            compression: None,
        };
        self.text_source(path, options).await
    }

    async fn text_source(
        &mut self,
        path: String,
        options: context::TextOptions,
    ) -> wasmtime::Result<Result<Handle, String>> {
        let min = options.min_partitions.unwrap_or_else(|| self.parallelism());
        if let Err(e) = check_partitions("text-file", min) {
            return Ok(Err(e));
        }
        let max_split = self.app.driver.config.max_split_bytes;
        let records = match options.records {
            context::TextRecords::Lines => TextRecords::Lines,
            context::TextRecords::LinesWithFileName => TextRecords::LinesWithFileName,
            context::TextRecords::WholeFiles => TextRecords::WholeFiles,
        };
        let access = &self.app.access;
        let codec = options.compression.map(compression);
        let splits = sources::resolve_for(&path, access).await.map(|files| {
            if records == TextRecords::WholeFiles {
                sources::whole(&files, codec)
            } else {
                sources::split(&files, min, max_split, codec)
            }
        });
        match splits.and_then(|s| {
            check_partitions("text-file", u32::try_from(s.len()).unwrap_or(u32::MAX))
                .map_err(|e| DriverError::Input { path: path.clone(), reason: e })?;
            Ok(s)
        }) {
            Ok(mut splits) => {
                for s in &mut splits {
                    s.lossy_utf8 = options.lossy_utf8;
                    s.set_records(records);
                }
                Ok(Ok(self.add(Node::Text { splits: Arc::new(splits) })?))
            }
            Err(e) => Ok(Err(e.to_string())),
        }
    }

    async fn table_source(
        &mut self,
        path: String,
        options: context::TableOptions,
    ) -> wasmtime::Result<Result<Handle, String>> {
        let min = options.min_partitions.unwrap_or_else(|| self.parallelism());
        if let Err(e) = check_partitions("table-source", min) {
            return Ok(Err(e));
        }
        let read = TableRead {
            format: table_format(options.format).into(),
            schema: options.schema.map(columns).unwrap_or_default(),
            columns: options.columns.unwrap_or_default(),
            filters: options.filters.into_iter().map(predicate).collect(),
            permissive: options.mode == context::ReadMode::Permissive,
            skipped_accumulator: options.skipped,
            csv: Some(csv_options(&options.csv)),
            row_groups: Vec::new(),
        };
        let max_split = self.app.driver.config.max_split_bytes;
        let codec = options.compression.map(compression);
        let access = &self.app.access;
        let planned = async {
            let files = sources::resolve_for(&path, access).await?;
            let splits = tables::plan(&path, &files, read, access, min, max_split, codec).await?;
            check_partitions("table-source", u32::try_from(splits.len()).unwrap_or(u32::MAX))
                .map_err(|e| DriverError::Input { path: path.clone(), reason: e })?;
            Ok::<_, DriverError>(splits)
        };
        match planned.await {
            Ok(splits) => Ok(Ok(self.add(Node::Text { splits: Arc::new(splits) })?)),
            Err(e) => Ok(Err(e.to_string())),
        }
    }

    async fn parallelize(&mut self, records: Vec<u8>, partitions: u32) -> wasmtime::Result<Result<Handle, String>> {
        let partitions = if partitions == 0 { self.parallelism() } else { partitions };
        if let Err(e) = check_partitions("parallelize", partitions) {
            return Ok(Err(e));
        }
        let all: Result<Vec<_>, _> = BatchReader::new(&records).collect();
        let all = match all {
            Ok(all) => all,
            Err(e) => return Ok(Err(format!("parallelize: {e}"))),
        };
        // Contiguous, even ranges: partition i gets records [i*n/p, (i+1)*n/p).
        let n = all.len();
        let p = partitions as usize;
        let parts = (0..p)
            .map(|i| {
                let mut w = BatchWriter::default();
                for r in &all[i * n / p..(i + 1) * n / p] {
                    w.push(r.key, r.value);
                }
                Bytes::from(w.finish())
            })
            .collect();
        Ok(Ok(self.add(Node::Records { partitions: Arc::new(parts) })?))
    }

    async fn range(
        &mut self,
        start: i64,
        end: i64,
        step: i64,
        partitions: Option<u32>,
    ) -> wasmtime::Result<Result<Handle, String>> {
        if step == 0 {
            return Ok(Err("range: step must not be 0".into()));
        }
        let partitions = partitions.filter(|&p| p > 0).unwrap_or_else(|| self.parallelism());
        if let Err(e) = check_partitions("range", partitions) {
            return Ok(Err(e));
        }
        Ok(Ok(self.add(Node::Range { start, end, step, partitions })?))
    }

    async fn default_parallelism(&mut self) -> wasmtime::Result<u32> {
        Ok(self.parallelism())
    }

    async fn broadcast(&mut self, value: Vec<u8>) -> wasmtime::Result<u64> {
        let held = self.app.broadcasts.bytes();
        if held + value.len() as u64 > MAX_BROADCAST_BYTES {
            wasmtime::bail!(
                "broadcast: {} more bytes would pass the limit of {} bytes of broadcast values per application \
                 ({held} held); unpersist values no longer needed",
                value.len(),
                MAX_BROADCAST_BYTES
            );
        }
        Ok(self.app.broadcasts.add(value.into()))
    }

    async fn unpersist_broadcast(&mut self, id: u64) -> wasmtime::Result<()> {
        if self.app.broadcasts.remove(id) {
            self.app.driver.unpersist_everywhere(UnpersistRequest {
                app_id: self.app.id.0.clone(),
                what: Some(unpersist_request::What::BroadcastId(id)),
            });
        }
        Ok(())
    }

    async fn accumulator(&mut self, name: String, zero: types::Number) -> wasmtime::Result<u64> {
        if self.app.accumulators.len() >= MAX_ACCUMULATORS {
            wasmtime::bail!("accumulator `{name}`: an application may make at most {MAX_ACCUMULATORS} accumulators");
        }
        Ok(self.app.accumulators.add(name, from_wit(zero)))
    }

    async fn accumulator_value(&mut self, id: u64) -> wasmtime::Result<Option<types::Number>> {
        Ok(self.app.accumulators.get(id).map(|n| match n {
            Number::Int(i) => types::Number::Int(i),
            Number::Float(f) => types::Number::Float(f),
        }))
    }
}

fn from_wit(n: types::Number) -> Number {
    match n {
        types::Number::Int(i) => Number::Int(i),
        types::Number::Float(f) => Number::Float(f),
    }
}

impl context::HostDataset for AppState {
    async fn narrow(&mut self, ds: Handle, op: Vec<u8>) -> wasmtime::Result<Handle> {
        let parent = self.node(&ds)?;
        self.add(Node::Narrow { parent, op: op.into() })
    }

    async fn reduce_by_key(&mut self, ds: Handle, op: Vec<u8>, partitions: Option<u32>) -> wasmtime::Result<Handle> {
        let parent = self.node(&ds)?;
        self.shuffle(vec![parent], ShuffleKind::Combine(op.into()), partitions)
    }

    async fn group_by_key(&mut self, ds: Handle, partitions: Option<u32>) -> wasmtime::Result<Handle> {
        let parent = self.node(&ds)?;
        self.shuffle(vec![parent], ShuffleKind::Group, partitions)
    }

    async fn sort_by_key(
        &mut self,
        ds: Handle,
        ascending: bool,
        partitions: Option<u32>,
    ) -> wasmtime::Result<Result<Handle, String>> {
        let parent = self.node(&ds)?;
        let (partitions, parent_partitions) = {
            let lineage = self.app.lineage.lock().expect("lineage lock");
            let n = lineage.num_partitions(parent);
            (partitions.filter(|&p| p > 0).unwrap_or(n).max(1), n.max(1))
        };
        if let Err(e) = check_partitions("sort-by-key", partitions) {
            return Ok(Err(e));
        }
        let mut bounds = Vec::new();
        if partitions > 1 {
            // As Spark's RangePartitioner: 3x oversampling per input partition.
            let per_partition =
                (3 * sample_size(partitions)).div_ceil(u64::from(parent_partitions)).min(u64::from(u32::MAX)) as u32;
            let sampled = self.act(&ds, Action::SampleKeys { per_partition, seed: u64::from(parent.0) })?.await;
            let samples = match sampled {
                Ok(ActionOutput::Sampled(s)) => s,
                Ok(_) => unreachable!("sampling yields samples"),
                Err(e) => return Ok(Err(format!("sort-by-key: sampling the keys failed: {e}"))),
            };
            bounds = match range_bounds(samples, partitions) {
                Ok(b) => b,
                Err(e) => return Ok(Err(e)),
            };
        }
        // Fewer distinct keys than partitions give fewer bounds: fewer ranges.
        let partitions = bounds.len() as u32 + 1;
        let kind = ShuffleKind::Sort { bounds: Arc::new(bounds), ascending };
        Ok(Ok(self.shuffle(vec![parent], kind, Some(partitions))?))
    }

    async fn repartition(&mut self, ds: Handle, partitions: u32) -> wasmtime::Result<Handle> {
        let parent = self.node(&ds)?;
        self.shuffle(vec![parent], ShuffleKind::Repartition, Some(partitions.max(1)))
    }

    async fn partition_by_prefix(&mut self, ds: Handle, partitions: u32) -> wasmtime::Result<Handle> {
        let parent = self.node(&ds)?;
        self.shuffle(vec![parent], ShuffleKind::Prefix, Some(partitions.max(1)))
    }

    async fn coalesce(&mut self, ds: Handle, partitions: u32) -> wasmtime::Result<Handle> {
        let parent = self.node(&ds)?;
        let node = {
            let mut lineage = self.app.lineage.lock().expect("lineage lock");
            let partitions = partitions.clamp(1, lineage.num_partitions(parent).max(1));
            let node = Node::Coalesce { parent, partitions };
            self.check_shape(&lineage, &node)?;
            lineage.push(node)
        };
        self.handle(node)
    }

    async fn union(&mut self, ds: Handle, others: Vec<Handle>) -> wasmtime::Result<Handle> {
        let parents = self.nodes(&ds, &others)?;
        let total: u64 = {
            let lineage = self.app.lineage.lock().expect("lineage lock");
            parents.iter().map(|p| u64::from(lineage.num_partitions(*p))).sum()
        };
        check_partitions("union", u32::try_from(total).unwrap_or(u32::MAX)).map_err(wasmtime::Error::msg)?;
        self.add(Node::Union { parents })
    }

    async fn cogroup(&mut self, ds: Handle, others: Vec<Handle>, partitions: Option<u32>) -> wasmtime::Result<Handle> {
        let parents = self.nodes(&ds, &others)?;
        self.shuffle(parents, ShuffleKind::CoGroup, partitions)
    }

    async fn persist(&mut self, ds: Handle, level: context::StorageLevel) -> wasmtime::Result<()> {
        let node = self.node(&ds)?;
        let level = match level {
            context::StorageLevel::MemoryOnly => StorageLevel::MemoryOnly,
            context::StorageLevel::MemoryAndDisk => StorageLevel::MemoryAndDisk,
            context::StorageLevel::DiskOnly => StorageLevel::DiskOnly,
        };
        self.app.lineage.lock().expect("lineage lock").persist(node, level);
        Ok(())
    }

    async fn unpersist(&mut self, ds: Handle) -> wasmtime::Result<()> {
        let node = self.node(&ds)?;
        if self.app.lineage.lock().expect("lineage lock").unpersist(node) {
            self.app.cache_locations.forget_dataset(node.0);
            self.app.driver.unpersist_everywhere(UnpersistRequest {
                app_id: self.app.id.0.clone(),
                what: Some(unpersist_request::What::Dataset(node.0)),
            });
        }
        Ok(())
    }

    async fn take(&mut self, ds: Handle, n: u64) -> wasmtime::Result<Result<Vec<u8>, String>> {
        if n == 0 {
            return Ok(Ok(Vec::new()));
        }
        Ok(self.act(&ds, Action::Take { n })?.await.map(|out| match out {
            ActionOutput::Collected(b) => b,
            _ => unreachable!("take yields records"),
        }))
    }

    async fn num_partitions(&mut self, ds: Handle) -> wasmtime::Result<u32> {
        let node = self.node(&ds)?;
        Ok(self.app.lineage.lock().expect("lineage lock").num_partitions(node))
    }

    async fn collect(&mut self, ds: Handle) -> wasmtime::Result<Result<Vec<u8>, String>> {
        Ok(self.act(&ds, Action::Collect)?.await.map(|out| match out {
            ActionOutput::Collected(b) => b,
            _ => unreachable!("collect yields records"),
        }))
    }

    async fn count(&mut self, ds: Handle) -> wasmtime::Result<Result<u64, String>> {
        Ok(self.act(&ds, Action::Count)?.await.map(|out| match out {
            ActionOutput::Count(n) => n,
            _ => unreachable!("count yields a number"),
        }))
    }

    async fn save_as_text_file(&mut self, ds: Handle, path: String) -> wasmtime::Result<Result<(), String>> {
        self.save_text(ds, path, Compression::None, None, None).await
    }

    async fn save_as_text_file_with(
        &mut self,
        ds: Handle,
        path: String,
        options: context::SaveOptions,
    ) -> wasmtime::Result<Result<(), String>> {
        self.save_text(ds, path, compression(options.compression), None, None).await
    }

    async fn save_as_lines(
        &mut self,
        ds: Handle,
        path: String,
        options: context::SaveOptions,
        layout: context::LineLayout,
    ) -> wasmtime::Result<Result<(), String>> {
        let field = |f: context::LineField| match f {
            context::LineField::Text => LineField::Text,
            context::LineField::Unsigned => LineField::Unsigned,
            context::LineField::Signed => LineField::Signed,
            context::LineField::Boolean => LineField::Boolean,
        };
        let layout =
            LineLayout { key: layout.key.map_or(LineField::Absent, field).into(), value: field(layout.value).into() };
        self.save_text(ds, path, compression(options.compression), None, Some(layout)).await
    }

    async fn save_as_table(
        &mut self,
        ds: Handle,
        path: String,
        options: context::TableSaveOptions,
    ) -> wasmtime::Result<Result<(), String>> {
        let table = TableWrite {
            format: table_format(options.format).into(),
            schema: options.schema.map(columns).unwrap_or_default(),
            csv: Some(csv_options(&options.csv)),
            parquet_compression: match options.parquet_compression {
                context::ParquetCompression::Snappy => ParquetCompression::ParquetSnappy,
                context::ParquetCompression::Zstd => ParquetCompression::ParquetZstd,
                context::ParquetCompression::Uncompressed => ParquetCompression::ParquetUncompressed,
            }
            .into(),
        };
        let codec = match table.format() {
            TableFormat::Parquet => Compression::None,
            _ => compression(options.compression),
        };
        self.save_text(ds, path, codec, Some(table), None).await
    }

    async fn drop(&mut self, ds: Handle) -> wasmtime::Result<()> {
        self.table.delete(ds)?;
        Ok(())
    }
}
