//! The executor's Prometheus metrics, served at `/metrics` on `--metrics-listen`.
//! Counters of tasks move as tasks run; the rest (slots, memory pools, spilling,
//! cache, compiles) are read from [`Executor::status`] at each scrape. Every name
//! is listed in docs/operations.md.

use std::sync::Arc;

use metrics::{counter, gauge, histogram};
use spindle_proto::{TaskResult, TaskSpec, task_output};
use spindle_sandbox::LimitHit;

use crate::Executor;

/// The kind of task `spec` is, named by its output: `shuffle-map`, `collect`,
/// `count`, `save`, `sample-keys`.
pub fn task_kind(spec: &TaskSpec) -> &'static str {
    match spec.output.as_ref().and_then(|o| o.sink.as_ref()) {
        Some(task_output::Sink::Shuffle(_)) => "shuffle-map",
        Some(task_output::Sink::Collect(_)) => "collect",
        Some(task_output::Sink::Count(_)) => "count",
        Some(task_output::Sink::TextFile(_)) => "save",
        Some(task_output::Sink::SampleKeys(_)) => "sample-keys",
        None => "none",
    }
}

/// A task took a slot.
pub fn task_started(kind: &'static str) {
    counter!("spindle_executor_tasks_started_total", "kind" => kind).increment(1);
}

/// A task ended here with `r`.
pub fn task_finished(kind: &'static str, r: &TaskResult) {
    let outcome = if r.ok { "succeeded" } else { r.failure_kind().label() };
    counter!("spindle_executor_tasks_finished_total", "kind" => kind, "outcome" => outcome).increment(1);
    histogram!("spindle_executor_task_duration_seconds", "kind" => kind).record(r.duration_us as f64 / 1e6);
    if r.ok {
        counter!("spindle_executor_shuffle_write_bytes_total").increment(r.bucket_bytes.iter().sum());
        counter!("spindle_executor_task_spilled_bytes_total").increment(r.spilled_bytes);
    }
}

/// A guest broke a sandbox limit.
pub fn limit_broken(hit: &LimitHit) {
    counter!("spindle_executor_limit_breaks_total", "limit" => hit.name()).increment(1);
}

/// Shuffle bytes fetched from a peer (or served to this executor's own tasks).
pub fn shuffle_fetched(bytes: usize) {
    counter!("spindle_executor_shuffle_fetch_bytes_total").increment(bytes as u64);
}

/// Sets what is read from the executor's state, just before a scrape.
pub fn snapshot(exec: &Executor) {
    let s = exec.status();
    gauge!("spindle_executor_slots").set(s.slots);
    gauge!("spindle_executor_slots_busy").set(s.running_tasks);
    gauge!("spindle_executor_memory_budget_bytes").set(s.memory_budget as f64);
    for (pool, bytes) in
        [("execution", s.memory_execution), ("shuffle", s.memory_shuffle), ("storage", s.memory_storage)]
    {
        gauge!("spindle_executor_memory_used_bytes", "pool" => pool).set(bytes as f64);
    }
    gauge!("spindle_executor_resident_memory_bytes").set(s.memory_bytes as f64);
    gauge!("spindle_executor_shuffle_disk_bytes").set(s.shuffle_bytes_disk as f64);
    gauge!("spindle_executor_spill_files").set(s.spill_files as f64);
    counter!("spindle_executor_spilled_bytes_total").absolute(s.spilled_bytes);
    gauge!("spindle_executor_blocks").set(s.blocks as f64);
    gauge!("spindle_executor_cache_bytes", "where" => "memory").set(s.cache_bytes_memory as f64);
    gauge!("spindle_executor_cache_bytes", "where" => "disk").set(s.cache_bytes_disk as f64);
    counter!("spindle_executor_cache_hits_total").absolute(s.cache_hits);
    counter!("spindle_executor_cache_misses_total").absolute(s.cache_misses);
    counter!("spindle_executor_cache_evictions_total").absolute(s.cache_evictions);
    counter!("spindle_executor_artifacts_compiled_total").absolute(s.artifacts_compiled);
    counter!("spindle_executor_artifacts_loaded_from_disk_total").absolute(s.artifacts_loaded_from_disk);
    counter!("spindle_executor_artifacts_fetched_total").absolute(s.artifacts_fetched);
    counter!("spindle_executor_input_records_total").absolute(s.input_records);
    gauge!("spindle_executor_broadcasts").set(s.broadcasts as f64);
}

/// Serves `/metrics` for `exec` on `listener` until the process ends.
pub fn serve(exec: Arc<Executor>, listener: tokio::net::TcpListener) {
    if let Ok(addr) = listener.local_addr() {
        let _ = exec.metrics_address.set(addr.to_string());
        tracing::info!(%addr, "serving Prometheus metrics at /metrics");
    }
    spindle_proto::metrics::handle();
    let router = spindle_proto::metrics::router(move || snapshot(&exec));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "the metrics server stopped");
        }
    });
}
