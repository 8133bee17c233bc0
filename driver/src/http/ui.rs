//! The web UI: server-rendered HTML pages over the same data as the JSON API
//! (applications, an application's job and stage timeline, a stage's tasks,
//! executors, kept task logs). Pages of running applications refresh
//! themselves every two seconds. No scripts: a page is one GET.

use std::fmt::Write as _;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Html;
use axum::routing::get;
use serde::Deserialize;
use spindle_proto::ids::AppId;

use super::{HttpError, Shared};
use crate::DriverError;
use crate::api::model::{ApplicationSummary, DatasetStorage, ExecutorSummary, StageData, TaskData};

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(applications))
        .route("/executors", get(executors))
        .route("/environment", get(environment))
        .route("/applications/{app}", get(application))
        .route("/applications/{app}/logs", get(logs))
        .route("/applications/{app}/stages/{stage}", get(stage))
}

type Page = Result<Html<String>, HttpError>;

const STYLE: &str = r#"
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d232a; background: #f6f7f9; }
header { background: #22303c; color: #fff; padding: 10px 24px; display: flex; gap: 24px; align-items: baseline; }
header a { color: #cfe3ff; text-decoration: none; } header b { font-size: 18px; }
main { padding: 16px 24px; }
h1 { font-size: 20px; margin: 8px 0 12px; } h2 { font-size: 16px; margin: 24px 0 8px; }
table { border-collapse: collapse; background: #fff; min-width: 50%; }
th, td { border: 1px solid #dde1e6; padding: 4px 10px; text-align: left; white-space: nowrap; }
th { background: #eef1f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.running { color: #0a5bd3; font-weight: 600; } .succeeded, .complete, .alive { color: #1a7f37; }
.failed, .killed, .lost { color: #c62828; font-weight: 600; }
.timeline { background: #fff; border: 1px solid #dde1e6; padding: 8px; max-width: 1100px; }
.lane { display: flex; align-items: center; height: 22px; }
.lane .label { width: 260px; flex: none; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.lane .track { position: relative; flex: 1; height: 14px; background: #f0f2f5; }
.bar { position: absolute; height: 14px; background: #5b8def; border-radius: 2px; min-width: 2px; }
.bar.stage { background: #8fb3f5; } .bar.failed { background: #e57373; }
pre { background: #fff; border: 1px solid #dde1e6; padding: 8px; max-height: 360px; overflow: auto; }
.muted { color: #67717c; }
"#;

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, refresh: bool, body: &str) -> Html<String> {
    let refresh = if refresh { r#"<meta http-equiv="refresh" content="2">"# } else { "" };
    Html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8">{refresh}<title>{title} · Spindle</title>
<style>{STYLE}</style></head><body><header><b>Spindle</b><a href="/">Applications</a><a href="/executors">Executors</a>
<a href="/environment">Environment</a><a href="/api/v1/openapi.json">API</a></header><main>{body}</main></body></html>"#,
        title = esc(title)
    ))
}

fn state(s: &str) -> String {
    format!(r#"<span class="{0}">{0}</span>"#, esc(s))
}

fn ms(ms: u64) -> String {
    if ms >= 60_000 { format!("{:.1} min", ms as f64 / 60_000.0) } else { format!("{:.2} s", ms as f64 / 1000.0) }
}

fn bytes(b: u64) -> String {
    spindle_sandbox::limits::bytes(b)
}

/// A UTC time of day from ms since the epoch.
fn clock(epoch_ms: u64) -> String {
    let s = epoch_ms / 1000;
    format!("{:02}:{:02}:{:02} UTC", (s / 3600) % 24, (s / 60) % 60, s % 60)
}

async fn applications(State(s): State<Shared>, headers: HeaderMap) -> Page {
    let viewer = s.viewer(&headers)?;
    let apps: Vec<ApplicationSummary> = s.source.applications(viewer.as_deref()).iter().map(Into::into).collect();
    let mut body = String::from("<h1>Applications</h1>");
    if apps.is_empty() {
        body.push_str(r#"<p class="muted">No applications yet: submit one with <code>spindle submit</code>.</p>"#);
    } else {
        body.push_str(
            "<table><tr><th>Application</th><th>Name</th><th>Tenant</th><th>State</th><th>Submitted</th>\
             <th>Duration</th><th>Jobs</th><th>Failed tasks</th><th>Running stages</th></tr>",
        );
        for a in apps.iter().rev() {
            let running: Vec<String> =
                a.stages.iter().map(|st| format!("{} {}/{}", st.kind, st.done, st.tasks)).collect();
            let _ = write!(
                body,
                r#"<tr><td><a href="/applications/{id}">{id}</a></td><td>{name}</td><td>{tenant}</td><td>{state}</td>
<td>{submitted}</td><td class="num">{duration}</td><td class="num">{jobs}</td><td class="num">{failed}</td><td>{running}</td></tr>"#,
                id = esc(&a.id),
                name = esc(&a.name),
                tenant = esc(&a.tenant),
                state = state(&a.state),
                submitted = clock(a.submitted_ms),
                duration = ms(a.duration_ms),
                jobs = a.jobs,
                failed = a.tasks_failed,
                running = esc(&running.join(", ")),
            );
        }
        body.push_str("</table>");
    }
    let refresh = apps.iter().any(|a| a.state == "running");
    Ok(page("Applications", refresh, &body))
}

async fn executors(State(s): State<Shared>, headers: HeaderMap) -> Page {
    let viewer = s.viewer(&headers)?;
    let status = s.source.status(viewer.as_deref()).await;
    let executors: Vec<ExecutorSummary> = status.executors.iter().map(Into::into).collect();
    let mut body = String::from(
        "<h1>Executors</h1><table><tr><th>Executor</th><th>Address</th><th>State</th><th>Slots</th><th>Running</th>\
         <th>Finished</th><th>Failed</th><th>Memory used / budget</th><th>Cache (memory, disk)</th><th>Spilled</th>\
         <th>RSS</th><th>Heartbeat</th><th>Metrics</th></tr>",
    );
    for e in &executors {
        let m = &e.memory;
        let used = m.execution_bytes + m.shuffle_bytes + m.storage_bytes;
        let metrics = if e.metrics_address.is_empty() {
            "-".to_string()
        } else {
            format!(r#"<a href="http://{0}/metrics">{0}</a>"#, esc(&e.metrics_address))
        };
        let _ = write!(
            body,
            r#"<tr><td>{id}</td><td>{address}</td><td>{state}{reason}</td><td class="num">{slots}</td><td class="num">{running}</td>
<td class="num">{finished}</td><td class="num">{failed}</td><td class="num">{used} / {budget}</td>
<td class="num">{cache_mem}, {cache_disk}</td><td class="num">{spilled}</td><td class="num">{rss}</td><td class="num">{heartbeat}</td><td>{metrics}</td></tr>"#,
            id = esc(&e.id),
            address = esc(&e.address),
            state = state(&e.state),
            reason = if e.reason.is_empty() { String::new() } else { format!(" ({})", esc(&e.reason)) },
            slots = e.slots,
            running = e.running_tasks,
            finished = e.tasks_finished,
            failed = e.tasks_failed,
            used = bytes(used),
            budget = bytes(m.budget_bytes),
            cache_mem = bytes(e.cache.bytes_memory),
            cache_disk = bytes(e.cache.bytes_disk),
            spilled = bytes(m.spilled_bytes),
            rss = bytes(e.memory_bytes),
            heartbeat = ms(e.last_heartbeat_ms),
        );
    }
    body.push_str("</table>");
    Ok(page("Executors", true, &body))
}

async fn environment(State(s): State<Shared>, headers: HeaderMap) -> Page {
    s.operator(&headers)?;
    let mut body = String::from(
        "<h1>Environment</h1><p class=\"muted\">The effective configuration; secrets are redacted.</p>\
         <table id=\"environment\"><tr><th>Setting</th><th>Value</th></tr>",
    );
    for e in s.source.environment() {
        let _ = write!(body, "<tr><td>{}</td><td>{}</td></tr>", esc(&e.key), esc(&e.value));
    }
    body.push_str("</table>");
    Ok(page("Environment", false, &body))
}

/// One lane of the timeline: `start`..`start + length` within `span`, all ms.
fn lane(body: &mut String, label: &str, class: &str, start: u64, length: u64, span: u64) {
    let left = start as f64 * 100.0 / span as f64;
    let width = (length as f64 * 100.0 / span as f64).min(100.0 - left);
    let _ = write!(
        body,
        r#"<div class="lane"><div class="label">{label}</div><div class="track"><div class="bar {class}" style="left:{left:.2}%;width:{width:.2}%" title="{title}"></div></div></div>"#,
        title = ms(length),
    );
}

async fn application(State(s): State<Shared>, headers: HeaderMap, Path(app): Path<String>) -> Page {
    let viewer = s.viewer(&headers)?;
    let id = AppId(app);
    let detail = s.source.app_detail(viewer.as_deref(), &id)?;
    let jobs = s.source.jobs(viewer.as_deref(), &id)?;
    let stages = s.source.stages(viewer.as_deref(), &id)?;
    let a: ApplicationSummary = detail.app.as_ref().map(Into::into).unwrap_or_default();
    let mut body = format!(
        r#"<h1>{id} <span class="muted">{name}</span></h1><p>Tenant <b>{tenant}</b> · {state} · submitted {submitted} · {duration} · {jobs} jobs · {failed} failed task attempts · <a href="/applications/{id}/logs">logs</a></p>"#,
        id = esc(&a.id),
        name = esc(&a.name),
        tenant = esc(&a.tenant),
        state = state(&a.state),
        submitted = clock(a.submitted_ms),
        duration = ms(a.duration_ms),
        jobs = a.jobs,
        failed = a.tasks_failed,
    );
    if !a.error.is_empty() {
        let _ = write!(body, r#"<p class="failed">{}</p>"#, esc(&a.error));
    }

    // The timeline: every job and its stages, placed in the application's run.
    let span = a.duration_ms.max(1);
    let now = a.submitted_ms + a.duration_ms;
    body.push_str(r#"<h2>Timeline</h2><div class="timeline" id="timeline">"#);
    for j in &jobs {
        let length = if j.state == "running" { now.saturating_sub(j.submitted_ms) } else { j.duration_ms };
        let class = if j.state == "failed" { "failed" } else { "" };
        let label = format!("job {} · {}", j.job_id, esc(&j.action));
        lane(&mut body, &label, class, j.submitted_ms.saturating_sub(a.submitted_ms), length, span);
        for st in stages.iter().filter(|st| st.job_id == j.job_id) {
            let length = if st.state == "running" { now.saturating_sub(st.submitted_ms) } else { st.duration_ms };
            let class = if st.state == "failed" { "stage failed" } else { "stage" };
            let label = format!(
                r#"&nbsp;&nbsp;<a href="/applications/{}/stages/{}">stage {}</a> · {}"#,
                esc(&a.id),
                st.stage_id,
                st.stage_id,
                esc(&st.kind)
            );
            lane(&mut body, &label, class, st.submitted_ms.saturating_sub(a.submitted_ms), length, span);
        }
    }
    if jobs.is_empty() {
        body.push_str(r#"<p class="muted">No jobs yet.</p>"#);
    }
    body.push_str("</div>");

    body.push_str(
        "<h2>Jobs</h2><table><tr><th>Job</th><th>Action</th><th>State</th><th>Started</th><th>Duration</th>\
         <th>Stages</th><th>Tasks (succeeded/failed)</th></tr>",
    );
    for j in jobs.iter().rev() {
        let _ = write!(
            body,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td>{}</td><td class="num">{}/{}</td></tr>"#,
            j.job_id,
            esc(&j.action),
            state(&j.state),
            clock(j.submitted_ms),
            if j.state == "running" { "-".into() } else { ms(j.duration_ms) },
            j.stage_ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
            j.tasks_succeeded,
            j.tasks_failed,
        );
    }
    body.push_str("</table>");
    stage_table(&mut body, &a.id, &stages);
    let storage = s.source.storage(viewer.as_deref(), &id)?;
    storage_table(&mut body, &storage, a.state == "running");

    let stdout = String::from_utf8_lossy(&detail.stdout);
    let stderr = String::from_utf8_lossy(&detail.stderr);
    if !stdout.is_empty() || !stderr.is_empty() {
        let _ = write!(body, "<h2>What main printed</h2><pre>{}{}</pre>", esc(&stdout), esc(&stderr));
    }
    Ok(page(&a.id, a.state == "running", &body))
}

fn stage_table(body: &mut String, app: &str, stages: &[StageData]) {
    body.push_str(
        "<h2>Stages</h2><table><tr><th>Stage</th><th>Job</th><th>Kind</th><th>State</th><th>Rounds</th>\
         <th>Tasks (done/total)</th><th>Running</th><th>Failed</th><th>Duration</th><th>Records in</th>\
         <th>Records out</th><th>Shuffle write</th><th>Spilled</th></tr>",
    );
    for st in stages.iter().rev() {
        let _ = write!(
            body,
            r#"<tr><td><a href="/applications/{app}/stages/{id}">{id}</a></td><td>{job}</td><td>{kind}</td><td>{state}</td>
<td class="num">{rounds}</td><td class="num">{done}/{tasks}</td><td class="num">{running}</td><td class="num">{failed}</td>
<td class="num">{duration}</td><td class="num">{rin}</td><td class="num">{rout}</td><td class="num">{write}</td><td class="num">{spilled}</td></tr>"#,
            app = esc(app),
            id = st.stage_id,
            job = st.job_id,
            kind = esc(&st.kind),
            state = state(&st.state),
            rounds = st.attempts,
            done = st.tasks_succeeded,
            tasks = st.tasks,
            running = st.tasks_running,
            failed = st.tasks_failed,
            duration = if st.state == "running" { "-".into() } else { ms(st.duration_ms) },
            rin = st.records_in,
            rout = st.records_out,
            write = bytes(st.shuffle_write_bytes),
            spilled = bytes(st.spilled_bytes),
        );
    }
    body.push_str("</table>");
}

/// The kept partitions of each persisted dataset (Spark's storage tab).
fn storage_table(body: &mut String, storage: &[DatasetStorage], running: bool) {
    body.push_str(r#"<h2 id="storage">Storage</h2>"#);
    if storage.is_empty() {
        let why = if running {
            "No persisted partitions are kept."
        } else {
            "Kept partitions were freed when the application ended."
        };
        let _ = write!(body, r#"<p class="muted">{why}</p>"#);
        return;
    }
    body.push_str(
        "<table><tr><th>Dataset</th><th>Level</th><th>Partitions kept</th><th>Blocks</th><th>Size</th><th>Executors</th></tr>",
    );
    for d in storage {
        let _ = write!(
            body,
            r#"<tr><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td></tr>"#,
            d.dataset,
            esc(&d.level),
            d.partitions,
            d.blocks,
            bytes(d.bytes),
            esc(&d.executors.join(", ")),
        );
    }
    body.push_str("</table>");
}

/// How to order a stage's tasks.
#[derive(Debug, Deserialize)]
struct TaskOrder {
    sort: Option<String>,
}

async fn stage(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path((app, stage)): Path<(String, u64)>,
    Query(order): Query<TaskOrder>,
) -> Page {
    let viewer = s.viewer(&headers)?;
    let id = AppId(app);
    let (st, mut tasks) = s
        .source
        .stage(viewer.as_deref(), &id, stage)?
        .ok_or_else(|| HttpError(DriverError::NotFound(format!("application {id} has no stage {stage}"))))?;
    // Its application's state alone (its detail would copy every kept log).
    let running = s
        .source
        .applications(viewer.as_deref())
        .iter()
        .any(|a| a.app_id == id.0 && a.state() == spindle_proto::ApplicationState::Running);
    // The duration header toggles: longest first, then shortest first.
    let (next, arrow) = match order.sort.as_deref() {
        Some("duration") => {
            tasks.sort_by(|a, b| b.duration_ms.total_cmp(&a.duration_ms));
            ("-duration", " ▼")
        }
        Some("-duration") => {
            tasks.sort_by(|a, b| a.duration_ms.total_cmp(&b.duration_ms));
            ("duration", " ▲")
        }
        _ => ("duration", ""),
    };
    let mut body = format!(
        r#"<p><a href="/applications/{app}">← {app}</a></p><h1>Stage {id} <span class="muted">{kind}, job {job}</span></h1>
<p>{state} · {done}/{tasks} tasks done · {running} running · {failed} failed attempts · {rounds} rounds</p>"#,
        app = esc(&id.0),
        id = st.stage_id,
        kind = esc(&st.kind),
        job = st.job_id,
        state = state(&st.state),
        done = st.tasks_succeeded,
        tasks = st.tasks,
        running = st.tasks_running,
        failed = st.tasks_failed,
        rounds = st.attempts,
    );
    let q = &st.summary;
    body.push_str(
        "<h2>Summary of succeeded tasks</h2><table id=\"summary\"><tr><th>Metric</th><th>Min</th><th>25th</th>\
         <th>Median</th><th>75th</th><th>Max</th></tr>",
    );
    let rows: [SummaryRow<'_>; 5] = [
        ("Duration", &q.duration_ms, |v| ms(v as u64)),
        ("Records in", &q.records_in, |v| format!("{v:.0}")),
        ("Records out", &q.records_out, |v| format!("{v:.0}")),
        ("Shuffle write", &q.shuffle_write_bytes, |v| bytes(v as u64)),
        ("Spilled", &q.spilled_bytes, |v| bytes(v as u64)),
    ];
    for (name, values, show) in rows {
        let _ = write!(body, "<tr><td>{name}</td>");
        for v in values {
            let _ = write!(body, r#"<td class="num">{}</td>"#, show(*v));
        }
        body.push_str("</tr>");
    }
    body.push_str("</table>");
    let _ = write!(
        body,
        r#"<h2>Tasks</h2><table id="tasks"><tr><th>Partition</th><th>Attempt</th><th>Round</th><th>Executor</th><th>State</th>
<th><a id="sort-duration" href="?sort={next}">Duration{arrow}</a></th><th>Records in</th><th>Records out</th><th>Shuffle write</th><th>Spilled</th><th>Error</th></tr>"#
    );
    for t in &tasks {
        task_row(&mut body, t);
    }
    body.push_str("</table>");
    if tasks.is_empty() {
        body.push_str(r#"<p class="muted">No task has ended yet.</p>"#);
    }
    Ok(page(&format!("Stage {}", st.stage_id), running, &body))
}

/// A metric's name, its quantiles, and how to show one.
type SummaryRow<'a> = (&'a str, &'a Vec<f64>, fn(f64) -> String);

fn task_row(body: &mut String, t: &TaskData) {
    let failure = if t.failure_kind.is_empty() { String::new() } else { format!("{}: ", t.failure_kind) };
    let _ = write!(
        body,
        r#"<tr><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td><td>{}</td><td class="num duration">{:.1} ms</td>
<td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td></tr>"#,
        t.partition,
        t.attempt,
        t.stage_attempt,
        esc(&t.executor),
        state(&t.state),
        t.duration_ms,
        t.records_in,
        t.records_out,
        bytes(t.shuffle_write_bytes),
        bytes(t.spilled_bytes),
        esc(&format!("{failure}{}", t.error)),
    );
}

async fn logs(State(s): State<Shared>, headers: HeaderMap, Path(app): Path<String>) -> Page {
    let viewer = s.viewer(&headers)?;
    let id = AppId(app);
    let d = s.source.app_detail(viewer.as_deref(), &id)?;
    let mut body = format!(
        r#"<p><a href="/applications/{0}">← {0}</a></p><h1>Logs of {0}</h1><h2>main</h2><pre>{1}{2}</pre>"#,
        esc(&id.0),
        esc(&String::from_utf8_lossy(&d.stdout)),
        esc(&String::from_utf8_lossy(&d.stderr)),
    );
    body.push_str("<h2>Kept task attempts (failed or printed something)</h2>");
    if d.tasks.is_empty() {
        body.push_str(r#"<p class="muted">None.</p>"#);
    }
    for t in &d.tasks {
        let outcome = if t.ok { "ok".to_string() } else { t.failure_kind().label().to_string() };
        let _ = write!(
            body,
            "<h3>job {} · stage {} · partition {} · attempt {} · {} · {}</h3><pre>{}{}</pre>",
            t.job_id,
            t.stage_id,
            t.partition,
            t.attempt,
            esc(&t.executor_id),
            state(&outcome),
            esc(&String::from_utf8_lossy(&t.logs)),
            if t.error.is_empty() { String::new() } else { format!("[error: {}]", esc(&t.error)) },
        );
    }
    if d.tasks_dropped > 0 {
        let _ = write!(body, r#"<p class="muted">{} more attempts not kept (log budget spent).</p>"#, d.tasks_dropped);
    }
    let running = d.app.is_some_and(|a| a.state() == spindle_proto::ApplicationState::Running);
    Ok(page(&format!("Logs of {}", id.0), running, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc(r#"<script>"a"&'b'</script>"#), "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;");
    }
}
