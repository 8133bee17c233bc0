//! What an application did, job by job and stage by stage: the scheduler reports
//! [`Event`]s and [`AppHistory`] folds them into the API's jobs, stages and tasks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use spindle_proto::StageProgress;

use super::model::{JobData, LimitsSummary, StageData, TaskAttemptLog, TaskData, TaskMetricsSummary};

/// Task attempts one application keeps for the API (the counts and sums of
/// stages go on past it; its quantiles are over the kept ones).
pub const MAX_TASKS_KEPT: usize = 100_000;

/// The quantiles of [`TaskMetricsSummary`].
const QUANTILES: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];

/// Something that happened to an application: what its scheduler did, and
/// (for the event log) its start, its end and executors joining and leaving.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// It was accepted.
    AppStart {
        /// Its id on the driver that ran it.
        app: String,
        /// The component's name.
        name: String,
        /// Who submitted it.
        tenant: String,
        /// When.
        submitted_ms: u64,
        /// Its tasks' limits.
        limits: LimitsSummary,
    },
    /// It ended.
    AppEnd(Box<AppEnd>),
    /// An executor joined the cluster while it ran.
    ExecutorAdded {
        /// The executor.
        executor: String,
        /// Where it serves.
        address: String,
        /// Its slots.
        slots: u32,
        /// When.
        time_ms: u64,
    },
    /// An executor left the cluster while it ran.
    ExecutorRemoved {
        /// The executor.
        executor: String,
        /// Where it served.
        address: String,
        /// `lost`, `stopped` or `released`.
        state: String,
        /// Why.
        reason: String,
        /// When.
        time_ms: u64,
    },
    /// An action started a job.
    JobStart {
        /// The job.
        job: u64,
        /// The action.
        action: String,
        /// When.
        time_ms: u64,
    },
    /// A job ended.
    JobEnd {
        /// The job.
        job: u64,
        /// When.
        time_ms: u64,
        /// Why it failed, if it did.
        error: Option<String>,
    },
    /// A round of a stage started.
    StageStart {
        /// Its job.
        job: u64,
        /// The stage.
        stage: u64,
        /// `shuffle-map` or the action.
        kind: String,
        /// The round (1 the first time).
        attempt: u32,
        /// Tasks in the round.
        tasks: u32,
        /// When.
        time_ms: u64,
    },
    /// A round of a stage ended.
    StageEnd {
        /// The stage.
        stage: u64,
        /// When.
        time_ms: u64,
        /// Whether it failed the job.
        failed: bool,
    },
    /// A task attempt ended.
    TaskEnd {
        /// Its job.
        job: u64,
        /// Its stage.
        stage: u64,
        /// The attempt.
        task: TaskData,
    },
}

/// How an application ended, with what its record keeps.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AppEnd {
    /// When.
    pub time_ms: u64,
    /// `succeeded`, `failed` or `killed`.
    pub state: String,
    /// Why it failed.
    pub error: String,
    /// How long it ran.
    pub duration_ms: u64,
    /// Jobs it ran.
    pub jobs: u32,
    /// Task attempts that failed.
    pub tasks_failed: u32,
    /// Map stages run again.
    pub stages_resubmitted: u32,
    /// What `main` printed.
    pub stdout: String,
    /// What `main` printed to stderr.
    pub stderr: String,
    /// Kept task attempts (failed or talkative) with their logs.
    pub tasks: Vec<TaskAttemptLog>,
    /// Attempts not kept.
    pub tasks_dropped: u64,
}

struct StageEntry {
    data: StageData,
    tasks: Vec<TaskData>,
}

/// One application's jobs and stages, and its kept task attempts.
#[derive(Default)]
pub struct AppHistory {
    jobs: BTreeMap<u64, JobData>,
    stages: BTreeMap<u64, StageEntry>,
    tasks_kept: usize,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl AppHistory {
    /// Folds one event in.
    pub fn apply(&mut self, event: Event) {
        match event {
            Event::JobStart { job, action, time_ms } => {
                self.jobs.insert(
                    job,
                    JobData {
                        job_id: job,
                        action,
                        state: "running".into(),
                        submitted_ms: time_ms,
                        ..Default::default()
                    },
                );
            }
            Event::JobEnd { job, time_ms, error } => {
                if let Some(j) = self.jobs.get_mut(&job) {
                    j.duration_ms = time_ms.saturating_sub(j.submitted_ms);
                    j.state = if error.is_some() { "failed" } else { "succeeded" }.into();
                    j.error = error.unwrap_or_default();
                }
            }
            Event::StageStart { job, stage, kind, attempt, tasks, time_ms } => {
                if let Some(j) = self.jobs.get_mut(&job)
                    && !j.stage_ids.contains(&stage)
                {
                    j.stage_ids.push(stage);
                }
                let entry = self.stages.entry(stage).or_insert_with(|| StageEntry {
                    data: StageData { stage_id: stage, job_id: job, kind, submitted_ms: time_ms, ..Default::default() },
                    tasks: Vec::new(),
                });
                entry.data.state = "running".into();
                entry.data.attempts = attempt;
                entry.data.tasks = tasks;
                entry.data.duration_ms = 0;
            }
            Event::StageEnd { stage, time_ms, failed } => {
                if let Some(s) = self.stages.get_mut(&stage) {
                    s.data.state = if failed { "failed" } else { "complete" }.into();
                    s.data.duration_ms = time_ms.saturating_sub(s.data.submitted_ms);
                }
            }
            Event::TaskEnd { job, stage, task } => {
                let ok = task.state == "succeeded";
                if let Some(j) = self.jobs.get_mut(&job) {
                    j.tasks += 1;
                    if ok {
                        j.tasks_succeeded += 1;
                    } else {
                        j.tasks_failed += 1;
                    }
                }
                let Some(s) = self.stages.get_mut(&stage) else { return };
                if ok {
                    s.data.tasks_succeeded += 1;
                    s.data.records_in += task.records_in;
                    s.data.records_out += task.records_out;
                    s.data.shuffle_write_bytes += task.shuffle_write_bytes;
                    s.data.spilled_bytes += task.spilled_bytes;
                } else {
                    s.data.tasks_failed += 1;
                }
                if self.tasks_kept < MAX_TASKS_KEPT {
                    self.tasks_kept += 1;
                    s.tasks.push(task);
                }
            }
            // Kept by the application's record and the event log, not here.
            Event::AppStart { .. } | Event::AppEnd(_) | Event::ExecutorAdded { .. } | Event::ExecutorRemoved { .. } => {
            }
        }
    }

    /// Ends what still runs when the application ends (it was killed, or its
    /// `main` failed): running jobs and stages become `failed`.
    pub fn close(&mut self, time_ms: u64, reason: &str) {
        for j in self.jobs.values_mut().filter(|j| j.state == "running") {
            j.state = "failed".into();
            j.error = reason.into();
            j.duration_ms = time_ms.saturating_sub(j.submitted_ms);
        }
        for s in self.stages.values_mut().filter(|s| s.data.state == "running") {
            s.data.state = "failed".into();
            s.data.duration_ms = time_ms.saturating_sub(s.data.submitted_ms);
        }
    }

    /// Its jobs, oldest first.
    pub fn jobs(&self) -> Vec<JobData> {
        self.jobs.values().cloned().collect()
    }

    /// One job.
    pub fn job(&self, id: u64) -> Option<JobData> {
        self.jobs.get(&id).cloned()
    }

    /// Its stages, oldest first, with the running counts of `running` (the
    /// application's live progress) and their task summaries.
    pub fn stages(&self, running: &[StageProgress]) -> Vec<StageData> {
        self.stages.values().map(|s| Self::view(s, running)).collect()
    }

    /// One stage and its kept task attempts, in the order they ended.
    pub fn stage(&self, id: u64, running: &[StageProgress]) -> Option<(StageData, Vec<TaskData>)> {
        self.stages.get(&id).map(|s| (Self::view(s, running), s.tasks.clone()))
    }

    fn view(s: &StageEntry, running: &[StageProgress]) -> StageData {
        let mut data = s.data.clone();
        data.tasks_running = running.iter().find(|p| p.stage_id == data.stage_id).map_or(0, |p| p.running);
        data.summary = summary(&s.tasks);
        data
    }
}

/// Quantiles of the succeeded attempts' metrics (nearest rank).
fn summary(tasks: &[TaskData]) -> TaskMetricsSummary {
    let ok: Vec<&TaskData> = tasks.iter().filter(|t| t.state == "succeeded").collect();
    if ok.is_empty() {
        return TaskMetricsSummary { quantiles: QUANTILES.to_vec(), ..Default::default() };
    }
    let quantiles = |f: &dyn Fn(&TaskData) -> f64| -> Vec<f64> {
        let mut v: Vec<f64> = ok.iter().map(|t| f(t)).collect();
        v.sort_by(f64::total_cmp);
        QUANTILES.iter().map(|q| v[((v.len() - 1) as f64 * q).round() as usize]).collect()
    };
    TaskMetricsSummary {
        quantiles: QUANTILES.to_vec(),
        duration_ms: quantiles(&|t| t.duration_ms),
        records_in: quantiles(&|t| t.records_in as f64),
        records_out: quantiles(&|t| t.records_out as f64),
        shuffle_write_bytes: quantiles(&|t| t.shuffle_write_bytes as f64),
        spilled_bytes: quantiles(&|t| t.spilled_bytes as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(partition: u32, ok: bool, duration_ms: f64, records_in: u64) -> TaskData {
        TaskData {
            partition,
            attempt: 1,
            state: if ok { "succeeded" } else { "failed" }.into(),
            duration_ms,
            records_in,
            ..Default::default()
        }
    }

    #[test]
    fn events_fold_into_jobs_stages_and_quantiles() {
        let mut h = AppHistory::default();
        h.apply(Event::JobStart { job: 1, action: "count".into(), time_ms: 1000 });
        h.apply(Event::StageStart { job: 1, stage: 3, kind: "count".into(), attempt: 1, tasks: 5, time_ms: 1010 });
        for (p, ms) in [(0, 40.0), (1, 10.0), (2, 30.0), (3, 20.0), (4, 50.0)] {
            h.apply(Event::TaskEnd { job: 1, stage: 3, task: task(p, true, ms, 100 * u64::from(p)) });
        }
        h.apply(Event::TaskEnd { job: 1, stage: 3, task: task(2, false, 999.0, 7) });
        let running = [StageProgress { stage_id: 3, running: 2, ..Default::default() }];
        let s = &h.stages(&running)[0];
        assert_eq!((s.state.as_str(), s.tasks_succeeded, s.tasks_failed, s.tasks_running), ("running", 5, 1, 2));
        assert_eq!(s.records_in, 1000, "failed attempts are not summed");
        assert_eq!(s.summary.duration_ms, vec![10.0, 20.0, 30.0, 40.0, 50.0]);
        assert_eq!(s.summary.records_in, vec![0.0, 100.0, 200.0, 300.0, 400.0]);
        h.apply(Event::StageEnd { stage: 3, time_ms: 1500, failed: false });
        h.apply(Event::JobEnd { job: 1, time_ms: 1600, error: None });
        let (s, tasks) = h.stage(3, &[]).unwrap();
        assert_eq!((s.state.as_str(), s.duration_ms, tasks.len()), ("complete", 490, 6));
        let j = h.job(1).unwrap();
        assert_eq!(
            (j.state.as_str(), j.duration_ms, j.stage_ids.clone(), j.tasks, j.tasks_failed),
            ("succeeded", 600, vec![3], 6, 1)
        );
    }
}
