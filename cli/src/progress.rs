//! Live progress of an application's stages on the submitter's console: a bar
//! per running stage on a terminal (stage, done/running/total tasks, rate,
//! elapsed), one line per stage start and end when stderr is not a terminal,
//! nothing with `--quiet`.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use spindle_proto::StageProgress;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bars, redrawn in place (stderr is a terminal).
    Bars,
    /// A line when a stage starts and when it ends.
    Lines,
    /// Nothing.
    Quiet,
}

impl Mode {
    /// Bars on a terminal, lines otherwise; `quiet` wins.
    pub fn detect(quiet: bool) -> Mode {
        if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        }
    }
}

struct Shown {
    bar: Option<ProgressBar>,
    stage: StageProgress,
    since: Instant,
}

/// The stages shown now, keyed by stage id and round.
pub struct Progress {
    mode: Mode,
    multi: MultiProgress,
    shown: BTreeMap<(u64, u32), Shown>,
}

impl Progress {
    /// Shows progress in `mode`.
    pub fn new(mode: Mode) -> Progress {
        let target = if mode == Mode::Bars { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        Progress { mode, multi: MultiProgress::with_draw_target(target), shown: BTreeMap::new() }
    }

    /// Prints a line above the bars (or plainly, without them).
    pub fn println(&self, line: &str) {
        if self.mode == Mode::Bars {
            let _ = self.multi.println(line);
        } else {
            eprintln!("{line}");
        }
    }

    /// Runs `f` (which writes to the console) with the bars out of the way.
    pub fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        self.multi.suspend(f)
    }

    /// The stages running now: new ones appear, finished ones go.
    pub fn update(&mut self, stages: &[StageProgress]) {
        if self.mode == Mode::Quiet {
            return;
        }
        let now: BTreeMap<(u64, u32), &StageProgress> = stages.iter().map(|s| ((s.stage_id, s.attempt), s)).collect();
        let gone: Vec<(u64, u32)> = self.shown.keys().filter(|k| !now.contains_key(k)).copied().collect();
        for key in gone {
            self.end(key);
        }
        for (key, s) in now {
            let shown = self.shown.entry(key).or_insert_with(|| {
                let bar = (self.mode == Mode::Bars).then(|| {
                    let bar = self.multi.add(ProgressBar::new(u64::from(s.tasks)));
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{prefix} [{bar:30.cyan/blue}] {pos}/{len} tasks, {msg} {per_sec:.dim} {elapsed:.dim}",
                        )
                        .expect("a valid template")
                        .progress_chars("=> "),
                    );
                    bar.set_prefix(label(s));
                    bar.enable_steady_tick(Duration::from_millis(250));
                    bar
                });
                if self.mode == Mode::Lines {
                    eprintln!("spindle: {} started: {} tasks", label(s), s.tasks);
                }
                Shown { bar, stage: s.clone(), since: Instant::now() }
            });
            shown.stage = s.clone();
            if let Some(bar) = &shown.bar {
                bar.set_length(u64::from(s.tasks));
                bar.set_position(u64::from(s.done));
                bar.set_message(format!("{} running", s.running));
            }
        }
    }

    fn end(&mut self, key: (u64, u32)) {
        let Some(shown) = self.shown.remove(&key) else { return };
        let s = &shown.stage;
        if let Some(bar) = shown.bar {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        if self.mode == Mode::Lines {
            eprintln!("spindle: {} ended after {:.1} s", label(s), shown.since.elapsed().as_secs_f64());
        }
    }

    /// Ends the stages of `job`, which is done (the driver's last sample of
    /// them may not have come yet).
    pub fn job_done(&mut self, job: u64) {
        let keys: Vec<_> = self.shown.iter().filter(|(_, s)| s.stage.job_id == job).map(|(k, _)| *k).collect();
        for key in keys {
            self.end(key);
        }
    }

    /// Removes every bar (the application ended).
    pub fn clear(&mut self) {
        let keys: Vec<_> = self.shown.keys().copied().collect();
        for key in keys {
            self.end(key);
        }
    }
}

fn label(s: &StageProgress) -> String {
    let round = if s.attempt > 1 { format!(", round {}", s.attempt) } else { String::new() };
    format!("job {} stage {} ({}{round})", s.job_id, s.stage_id, s.kind)
}
