//! The host side of `context`: sources and transformations record lineage;
//! actions run jobs and hand their results back to `main`. Job failures are
//! returned to `main` as `err` values, not traps, so a job can report them.

use std::sync::Arc;

use bytes::Bytes;
use spindle_frame::{BatchReader, BatchWriter};
use spindle_sandbox::DatasetRef;
use spindle_sandbox::bindings::spindle::job::{context, task_io, types};
use wasmtime::component::Resource;

use super::AppState;
use crate::DriverError;
use crate::scheduler::dag::Action;
use crate::scheduler::lineage::{Node, NodeId};
use crate::scheduler::tasks::ActionOutput;
use crate::sources;

type Handle = Resource<DatasetRef>;

impl AppState {
    fn node(&self, ds: &Handle) -> wasmtime::Result<NodeId> {
        Ok(NodeId(self.table.get(ds)?.0))
    }

    fn handle(&mut self, node: NodeId) -> wasmtime::Result<Handle> {
        Ok(self.table.push(DatasetRef(node.0))?)
    }

    fn add(&mut self, node: Node) -> wasmtime::Result<Handle> {
        let id = self.app.lineage.lock().expect("lineage lock").push(node);
        self.handle(id)
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
    async fn read(&mut self) -> wasmtime::Result<Option<Vec<u8>>> {
        wasmtime::bail!("`task-io` was called from `main`; it is only available inside tasks")
    }

    async fn write(&mut self, _records: Vec<u8>) -> wasmtime::Result<()> {
        wasmtime::bail!("`task-io` was called from `main`; it is only available inside tasks")
    }
}

impl context::Host for AppState {
    async fn text_file(&mut self, path: String, min_partitions: Option<u32>) -> wasmtime::Result<Result<Handle, String>> {
        let min = min_partitions.unwrap_or_else(|| self.parallelism());
        let max_split = self.app.driver.config.max_split_bytes;
        let splits = sources::resolve(&path).and_then(|files| sources::split(&files, min, max_split));
        match splits {
            Ok(splits) => Ok(Ok(self.add(Node::Text { splits: Arc::new(splits) })?)),
            Err(e) => Ok(Err(e.to_string())),
        }
    }

    async fn parallelize(&mut self, records: Vec<u8>, partitions: u32) -> wasmtime::Result<Result<Handle, String>> {
        let partitions = if partitions == 0 { self.parallelism() } else { partitions };
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

    async fn default_parallelism(&mut self) -> wasmtime::Result<u32> {
        Ok(self.parallelism())
    }
}

impl context::HostDataset for AppState {
    async fn narrow(&mut self, ds: Handle, op: Vec<u8>) -> wasmtime::Result<Handle> {
        let parent = self.node(&ds)?;
        self.add(Node::Narrow { parent, op: op.into() })
    }

    async fn reduce_by_key(&mut self, ds: Handle, op: Vec<u8>, partitions: Option<u32>) -> wasmtime::Result<Handle> {
        let parent = self.node(&ds)?;
        let node = {
            let mut lineage = self.app.lineage.lock().expect("lineage lock");
            let partitions = partitions.filter(|&p| p > 0).unwrap_or_else(|| lineage.num_partitions(parent).max(1));
            let shuffle = lineage.new_shuffle();
            lineage.push(Node::ReduceByKey { parent, op: op.into(), partitions, shuffle })
        };
        self.handle(node)
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
        let dir = match prepare_output_dir(&path) {
            Ok(dir) => dir,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let result = self.act(&ds, Action::SaveText { dir: dir.clone() })?.await;
        if result.is_err() {
            // Leave no half-written attempt files behind; committed parts stay visible
            // without `_SUCCESS`, as in Hadoop's committer.
            let _ = std::fs::remove_dir_all(std::path::Path::new(&dir).join("_temporary"));
        }
        Ok(result.map(|_| ()))
    }

    async fn drop(&mut self, ds: Handle) -> wasmtime::Result<()> {
        self.table.delete(ds)?;
        Ok(())
    }
}

/// Refuses an existing output directory (as Spark does), then creates it.
fn prepare_output_dir(path: &str) -> Result<String, DriverError> {
    let abs = std::path::absolute(path)
        .map_err(|e| DriverError::Output { path: path.to_string(), reason: e.to_string() })?;
    let shown = abs.display().to_string();
    if abs.exists() {
        return Err(DriverError::OutputExists { path: shown });
    }
    std::fs::create_dir_all(&abs).map_err(|e| DriverError::Output { path: shown.clone(), reason: e.to_string() })?;
    Ok(shown)
}
