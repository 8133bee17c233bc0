//! What an application is doing now, for `spindle status`: its running stages
//! with their task counts, and how many stages were resubmitted after losses.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use spindle_proto::StageProgress;

/// One application's live progress.
#[derive(Debug, Default)]
pub struct AppProgress {
    stages: Mutex<BTreeMap<u64, StageProgress>>,
    resubmitted: AtomicU32,
}

impl AppProgress {
    /// Running stages, oldest first.
    pub fn stages(&self) -> Vec<StageProgress> {
        self.stages.lock().expect("progress lock").values().cloned().collect()
    }

    /// Map stages run again because outputs were lost.
    pub fn resubmitted(&self) -> u32 {
        self.resubmitted.load(Ordering::Relaxed)
    }

    pub(crate) fn note_resubmitted(&self) {
        self.resubmitted.fetch_add(1, Ordering::Relaxed);
    }

    /// Shows a stage as running until the returned guard drops.
    pub(crate) fn start(&self, stage: StageProgress) -> StageGuard<'_> {
        let id = stage.stage_id;
        self.stages.lock().expect("progress lock").insert(id, stage);
        StageGuard { progress: self, id }
    }
}

/// A running stage's entry in [`AppProgress`].
pub(crate) struct StageGuard<'a> {
    progress: &'a AppProgress,
    id: u64,
}

impl StageGuard<'_> {
    /// Updates the stage's counters.
    pub fn update(&self, f: impl FnOnce(&mut StageProgress)) {
        if let Some(s) = self.progress.stages.lock().expect("progress lock").get_mut(&self.id) {
            f(s);
        }
    }
}

impl Drop for StageGuard<'_> {
    fn drop(&mut self) {
        self.progress.stages.lock().expect("progress lock").remove(&self.id);
    }
}
