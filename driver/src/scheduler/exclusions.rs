//! Executor exclusion (Spark's `excludeOnFailure`): an executor on which an
//! application's tasks keep failing for infrastructure reasons, or keep
//! straggling (a speculative copy elsewhere finished first), gets none of that
//! application's tasks for a while. Exclusions never cover every registered
//! executor: the application would have nowhere to run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use spindle_proto::ExcludedExecutor;
use spindle_proto::ids::ExecutorId;

use crate::cluster::{Excluded, Registered};

/// When executors are excluded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExcludeOnFailure {
    /// Whether to exclude at all. Default on.
    pub enabled: bool,
    /// Infrastructure failures of an application's tasks on one executor that
    /// exclude it. Default 2, as Spark's `maxFailedTasksPerExecutor`.
    pub max_failures_per_executor: u32,
    /// Times a speculative copy elsewhere finished before an application's task
    /// on one executor that exclude it. Default 3.
    pub max_straggles_per_executor: u32,
    /// How long an exclusion lasts; then the executor starts afresh. Default 10 min.
    pub timeout: Duration,
}

impl Default for ExcludeOnFailure {
    fn default() -> Self {
        ExcludeOnFailure {
            enabled: true,
            max_failures_per_executor: 2,
            max_straggles_per_executor: 3,
            timeout: Duration::from_secs(600),
        }
    }
}

#[derive(Debug, Default)]
struct Record {
    failures: u32,
    straggles: u32,
    excluded: Option<(Instant, String)>,
}

/// One application's exclusions, published to the set its slot claim carries.
#[derive(Debug)]
pub struct Exclusions {
    settings: ExcludeOnFailure,
    executors: Mutex<HashMap<ExecutorId, Record>>,
    published: Arc<Excluded>,
}

impl Exclusions {
    /// No executor excluded yet, under `settings`; exclusions go to `published`.
    pub fn new(settings: ExcludeOnFailure, published: Arc<Excluded>) -> Self {
        Exclusions { settings, executors: Mutex::default(), published }
    }

    /// Publishes the exclusions in force among `registered`; none when they
    /// would be all of them.
    fn publish(&self, executors: &HashMap<ExecutorId, Record>, registered: &Registered) {
        let ids: Vec<ExecutorId> = executors
            .iter()
            .filter(|(id, r)| r.excluded.is_some() && registered.contains(**id))
            .map(|(id, _)| *id)
            .collect();
        if registered.any_outside(&ids) {
            self.published.set(&ids);
        } else {
            if !ids.is_empty() {
                tracing::warn!(
                    excluded = ids.len(),
                    "every executor is excluded: ignoring exclusions until another joins"
                );
            }
            self.published.set(&[]);
        }
    }

    fn note(&self, id: ExecutorId, straggle: bool, what: &str, registered: &Registered) {
        if !self.settings.enabled {
            return;
        }
        let mut executors = self.executors.lock().expect("exclusions lock");
        let r = executors.entry(id).or_default();
        if r.excluded.is_some() {
            return;
        }
        let s = &self.settings;
        let reason = if straggle {
            r.straggles += 1;
            (r.straggles >= s.max_straggles_per_executor.max(1))
                .then(|| format!("{} tasks straggled there (max_straggles_per_executor); last: {what}", r.straggles))
        } else {
            r.failures += 1;
            (r.failures >= s.max_failures_per_executor.max(1))
                .then(|| format!("{} tasks failed there (max_failures_per_executor); last: {what}", r.failures))
        };
        if let Some(reason) = reason {
            tracing::warn!(executor = %id, %reason, timeout = ?s.timeout, "executor excluded for the application");
            r.excluded = Some((Instant::now() + s.timeout, reason));
            self.publish(&executors, registered);
        }
    }

    /// A task failed on `executor` for an infrastructure reason, `error`.
    pub fn failed(&self, executor: ExecutorId, error: &str, registered: &Registered) {
        self.note(executor, false, error, registered);
    }

    /// A task on `executor` lost to a speculative copy elsewhere.
    pub fn straggled(&self, executor: ExecutorId, task: &str, registered: &Registered) {
        self.note(executor, true, task, registered);
    }

    /// Lifts ended exclusions (their counts start again) and publishes those in
    /// force among `registered`.
    pub fn refresh(&self, registered: &Registered) {
        if !self.published.any() {
            return;
        }
        let mut executors = self.executors.lock().expect("exclusions lock");
        let now = Instant::now();
        executors.retain(|_, r| r.excluded.as_ref().is_none_or(|(until, _)| *until > now));
        self.publish(&executors, registered);
    }

    /// The exclusions in force, for status.
    pub fn status(&self) -> Vec<ExcludedExecutor> {
        let now = Instant::now();
        let executors = self.executors.lock().expect("exclusions lock");
        let mut out: Vec<ExcludedExecutor> = executors
            .iter()
            .filter_map(|(id, r)| {
                let (until, reason) = r.excluded.as_ref().filter(|(until, _)| *until > now)?;
                Some(ExcludedExecutor {
                    executor_id: id.to_string(),
                    reason: reason.clone(),
                    remaining_ms: until.duration_since(now).as_millis() as u64,
                })
            })
            .collect();
        out.sort_by(|a, b| a.executor_id.cmp(&b.executor_id));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Cluster;
    use crate::cluster::handle::Idle;

    #[test]
    fn failures_exclude_an_executor_but_never_every_one() {
        let cluster = Arc::new(Cluster::default());
        let a = cluster.register("a:1".into(), 1, Arc::new(Idle), false);
        let b = cluster.register("b:1".into(), 1, Arc::new(Idle), false);
        let published = Arc::new(Excluded::default());
        let settings = ExcludeOnFailure { timeout: Duration::from_millis(50), ..ExcludeOnFailure::default() };
        let ex = Exclusions::new(settings, published.clone());
        ex.failed(a, "disk full", &cluster.registered());
        assert!(!published.any(), "one failure is not enough");
        ex.failed(a, "disk full", &cluster.registered());
        assert!(published.contains_id(&a) && !published.contains_id(&b));
        assert!(ex.status()[0].reason.contains("2 tasks failed there (max_failures_per_executor); last: disk full"));
        // Excluding b too would leave nowhere to run: nothing is excluded then.
        for _ in 0..3 {
            ex.straggled(b, "task 1 of stage 0", &cluster.registered());
        }
        assert!(!published.any(), "every executor excluded: none is");
        assert_eq!(ex.status().len(), 2);
        std::thread::sleep(Duration::from_millis(60));
        ex.refresh(&cluster.registered());
        assert!(ex.status().is_empty() && !published.any(), "exclusions end after their timeout");
    }
}
