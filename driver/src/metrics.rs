//! The driver's Prometheus metrics (served at `/metrics` by [`crate::http`]).
//! Counters move where things happen; gauges of state are read at each scrape
//! ([`snapshot`]). Every name is listed in docs/operations.md.

use metrics::{counter, gauge, histogram};
use spindle_proto::{ApplicationState, ExecutorState, TaskResult};

use crate::Driver;

/// An application was accepted.
pub fn app_submitted() {
    counter!("spindle_driver_applications_submitted_total").increment(1);
}

/// An application ended in `state`.
pub fn app_finished(state: ApplicationState) {
    counter!("spindle_driver_applications_finished_total", "state" => state.label()).increment(1);
}

/// An application was asked to stop.
pub fn app_killed() {
    counter!("spindle_driver_kill_requests_total").increment(1);
}

/// A job ended.
pub fn job_finished(ok: bool) {
    counter!("spindle_driver_jobs_finished_total", "outcome" => if ok { "succeeded" } else { "failed" }).increment(1);
}

/// A task attempt of a stage of `kind` ended with `r`.
pub fn task_finished(kind: &'static str, r: &TaskResult, shuffle_write_bytes: u64) {
    let outcome = if r.ok { "succeeded" } else { r.failure_kind().label() };
    counter!("spindle_driver_tasks_finished_total", "kind" => kind, "outcome" => outcome).increment(1);
    histogram!("spindle_driver_task_duration_seconds", "kind" => kind).record(r.duration_us as f64 / 1e6);
    if r.ok {
        counter!("spindle_driver_task_records_in_total").increment(r.records_in);
        counter!("spindle_driver_task_records_out_total").increment(r.records_out);
        counter!("spindle_driver_shuffle_write_bytes_total").increment(shuffle_write_bytes);
        counter!("spindle_driver_spilled_bytes_total").increment(r.spilled_bytes);
    }
}

/// A task attempt was launched on an executor, for a stage of `kind`.
pub fn task_launched(kind: &'static str) {
    counter!("spindle_driver_tasks_launched_total", "kind" => kind).increment(1);
}

/// A submitted component was compiled (`compile_us` > 0) or found compiled.
pub fn component_prepared(compile_us: u64) {
    if compile_us > 0 {
        histogram!("spindle_driver_compile_seconds").record(compile_us as f64 / 1e6);
    } else {
        counter!("spindle_driver_compiled_cache_hits_total").increment(1);
    }
}

/// A heartbeat arrived (`known`: from a registered executor).
pub fn heartbeat(known: bool) {
    counter!("spindle_driver_heartbeats_total", "known" => if known { "true" } else { "false" }).increment(1);
}

/// Gauges read from the driver's state, just before a scrape renders them.
pub fn snapshot(driver: &Driver) {
    let (live, gone) = driver.cluster.statuses();
    let mut by_state: std::collections::BTreeMap<&'static str, u32> =
        ["alive", "draining", "lost", "stopped", "released"].into_iter().map(|s| (s, 0)).collect();
    let (mut slots, mut busy) = (0u32, 0u32);
    for (entry, status) in &live {
        slots += entry.slots;
        busy += status.as_ref().map_or(0, |s| s.running_tasks);
        let state = status.as_ref().map_or(ExecutorState::Alive, |s| s.state());
        let state = if state == ExecutorState::Unspecified { ExecutorState::Alive } else { state };
        *by_state.entry(state.label()).or_default() += 1;
    }
    for g in &gone {
        *by_state.entry(g.state().label()).or_default() += 1;
    }
    for (state, n) in by_state {
        gauge!("spindle_driver_executors", "state" => state).set(n);
    }
    gauge!("spindle_driver_slots").set(slots);
    gauge!("spindle_driver_slots_busy").set(busy);
    for (tenant, waiting, leased) in driver.cluster.tenant_queues() {
        gauge!("spindle_driver_tasks_waiting", "tenant" => tenant.clone()).set(waiting as f64);
        gauge!("spindle_driver_slots_leased", "tenant" => tenant).set(leased);
    }
    gauge!("spindle_driver_applications_running").set(driver.running_apps() as f64);
}
