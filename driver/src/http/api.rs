//! `/api/v1/`: applications, their jobs, stages and tasks, executors, kill; and
//! the OpenAPI schema of it all at `/api/v1/openapi.json`. Modelled on Spark's
//! REST API where the concepts match.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde::Deserialize;
use spindle_proto::ids::AppId;
use utoipa::OpenApi;

use super::{HttpError, Shared};
use crate::DriverError;
use crate::api::model::{
    ApiError, ApplicationDetail, ApplicationSummary, CacheSummary, ClusterView, ConfigEntry, DatasetStorage,
    ExcludedSummary, ExecutorSummary, JobData, KillResult, LimitsSummary, MemorySummary, RunningStage, StageData,
    TaskAttemptLog, TaskData, TaskMetricsSummary,
};

/// The API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Spindle driver API",
        description = "Applications, jobs, stages, tasks and executors of a Spindle driver."
    ),
    paths(cluster, applications, application, jobs, job, stages, stage, tasks, storage, executors, environment, kill),
    components(schemas(
        ApiError,
        ApplicationDetail,
        ApplicationSummary,
        CacheSummary,
        ClusterView,
        DatasetStorage,
        ExcludedSummary,
        ExecutorSummary,
        JobData,
        KillResult,
        LimitsSummary,
        MemorySummary,
        RunningStage,
        StageData,
        TaskAttemptLog,
        TaskData,
        TaskMetricsSummary
    ))
)]
pub struct ApiDoc;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
        .route("/api/v1/cluster", get(cluster))
        .route("/api/v1/applications", get(applications))
        .route("/api/v1/applications/{app}", get(application))
        .route("/api/v1/applications/{app}/jobs", get(jobs))
        .route("/api/v1/applications/{app}/jobs/{job}", get(job))
        .route("/api/v1/applications/{app}/stages", get(stages))
        .route("/api/v1/applications/{app}/stages/{stage}", get(stage))
        .route("/api/v1/applications/{app}/stages/{stage}/tasks", get(tasks))
        .route("/api/v1/applications/{app}/storage", get(storage))
        .route("/api/v1/applications/{app}/kill", post(kill))
        .route("/api/v1/executors", get(executors))
        .route("/api/v1/environment", get(environment))
}

type Answer<T> = Result<Json<T>, HttpError>;

fn not_found(what: String) -> HttpError {
    HttpError(DriverError::NotFound(what))
}

/// Executors and applications, as `spindle status --json` shows them.
#[utoipa::path(get, path = "/api/v1/cluster", responses(
    (status = 200, body = ClusterView), (status = 401, body = ApiError)))]
async fn cluster(State(s): State<Shared>, headers: HeaderMap) -> Answer<ClusterView> {
    let viewer = s.viewer(&headers)?;
    Ok(Json((&s.source.status(viewer.as_deref()).await).into()))
}

/// The applications the caller may see: running ones and retained finished ones.
#[utoipa::path(get, path = "/api/v1/applications", responses(
    (status = 200, body = [ApplicationSummary]), (status = 401, body = ApiError)))]
async fn applications(State(s): State<Shared>, headers: HeaderMap) -> Answer<Vec<ApplicationSummary>> {
    let viewer = s.viewer(&headers)?;
    Ok(Json(s.source.applications(viewer.as_deref()).iter().map(Into::into).collect()))
}

/// One application, with its failed and talkative task attempts and their logs.
#[utoipa::path(get, path = "/api/v1/applications/{app}", params(("app" = String, Path, description = "e.g. app-0001")),
    responses((status = 200, body = ApplicationDetail), (status = 404, body = ApiError)))]
async fn application(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(app): Path<String>,
) -> Answer<ApplicationDetail> {
    let viewer = s.viewer(&headers)?;
    Ok(Json((&s.source.app_detail(viewer.as_deref(), &AppId(app))?).into()))
}

/// An application's jobs, oldest first.
#[utoipa::path(get, path = "/api/v1/applications/{app}/jobs", params(("app" = String, Path)),
    responses((status = 200, body = [JobData]), (status = 404, body = ApiError)))]
async fn jobs(State(s): State<Shared>, headers: HeaderMap, Path(app): Path<String>) -> Answer<Vec<JobData>> {
    let viewer = s.viewer(&headers)?;
    Ok(Json(s.source.jobs(viewer.as_deref(), &AppId(app))?))
}

/// One job.
#[utoipa::path(get, path = "/api/v1/applications/{app}/jobs/{job}", params(("app" = String, Path), ("job" = u64, Path)),
    responses((status = 200, body = JobData), (status = 404, body = ApiError)))]
async fn job(State(s): State<Shared>, headers: HeaderMap, Path((app, job)): Path<(String, u64)>) -> Answer<JobData> {
    let viewer = s.viewer(&headers)?;
    let id = AppId(app);
    s.source
        .job(viewer.as_deref(), &id, job)?
        .map(Json)
        .ok_or_else(|| not_found(format!("application {id} has no job {job}")))
}

/// An application's stages, oldest first, with task metric quantiles.
#[utoipa::path(get, path = "/api/v1/applications/{app}/stages", params(("app" = String, Path)),
    responses((status = 200, body = [StageData]), (status = 404, body = ApiError)))]
async fn stages(State(s): State<Shared>, headers: HeaderMap, Path(app): Path<String>) -> Answer<Vec<StageData>> {
    let viewer = s.viewer(&headers)?;
    Ok(Json(s.source.stages(viewer.as_deref(), &AppId(app))?))
}

/// An application's kept (persisted) partitions, by dataset, while it runs
/// (its executors free them when it ends).
#[utoipa::path(get, path = "/api/v1/applications/{app}/storage", params(("app" = String, Path)),
    responses((status = 200, body = [DatasetStorage]), (status = 404, body = ApiError)))]
async fn storage(State(s): State<Shared>, headers: HeaderMap, Path(app): Path<String>) -> Answer<Vec<DatasetStorage>> {
    let viewer = s.viewer(&headers)?;
    Ok(Json(s.source.storage(viewer.as_deref(), &AppId(app))?))
}

/// One stage.
#[utoipa::path(get, path = "/api/v1/applications/{app}/stages/{stage}",
    params(("app" = String, Path), ("stage" = u64, Path)),
    responses((status = 200, body = StageData), (status = 404, body = ApiError)))]
async fn stage(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path((app, stage)): Path<(String, u64)>,
) -> Answer<StageData> {
    let viewer = s.viewer(&headers)?;
    let id = AppId(app);
    s.source
        .stage(viewer.as_deref(), &id, stage)?
        .map(|(data, _)| Json(data))
        .ok_or_else(|| not_found(format!("application {id} has no stage {stage}")))
}

/// How to list a stage's tasks.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct TaskQuery {
    /// `duration` (longest first), `-duration` (shortest first), or by default
    /// the order they ended.
    sort: Option<String>,
    /// At most this many (default all).
    limit: Option<usize>,
}

/// A stage's kept task attempts.
#[utoipa::path(get, path = "/api/v1/applications/{app}/stages/{stage}/tasks",
    params(("app" = String, Path), ("stage" = u64, Path), TaskQuery),
    responses((status = 200, body = [TaskData]), (status = 404, body = ApiError)))]
async fn tasks(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path((app, stage)): Path<(String, u64)>,
    Query(q): Query<TaskQuery>,
) -> Answer<Vec<TaskData>> {
    let viewer = s.viewer(&headers)?;
    let id = AppId(app);
    let (_, mut tasks) = s
        .source
        .stage(viewer.as_deref(), &id, stage)?
        .ok_or_else(|| not_found(format!("application {id} has no stage {stage}")))?;
    match q.sort.as_deref() {
        Some("duration") => tasks.sort_by(|a, b| b.duration_ms.total_cmp(&a.duration_ms)),
        Some("-duration") => tasks.sort_by(|a, b| a.duration_ms.total_cmp(&b.duration_ms)),
        None => {}
        Some(other) => {
            return Err(HttpError(DriverError::Refused(format!(
                "cannot sort tasks by `{other}`; use `duration` or `-duration`"
            ))));
        }
    }
    tasks.truncate(q.limit.unwrap_or(usize::MAX));
    Ok(Json(tasks))
}

/// Executors: live ones first, then lost and stopped ones.
#[utoipa::path(get, path = "/api/v1/executors", responses(
    (status = 200, body = [ExecutorSummary]), (status = 401, body = ApiError)))]
async fn executors(State(s): State<Shared>, headers: HeaderMap) -> Answer<Vec<ExecutorSummary>> {
    let viewer = s.viewer(&headers)?;
    Ok(Json(s.source.status(viewer.as_deref()).await.executors.iter().map(Into::into).collect()))
}

/// The driver's effective configuration, secrets redacted. On a driver with
/// tenants, for the cluster's operator only.
#[utoipa::path(get, path = "/api/v1/environment", responses(
    (status = 200, body = [ConfigEntry]), (status = 403, body = ApiError)))]
async fn environment(State(s): State<Shared>, headers: HeaderMap) -> Answer<Vec<ConfigEntry>> {
    s.operator(&headers)?;
    Ok(Json(s.source.environment()))
}

/// Stops a running application: its main and all its tasks.
#[utoipa::path(post, path = "/api/v1/applications/{app}/kill", params(("app" = String, Path)),
    responses((status = 200, body = KillResult), (status = 404, body = ApiError)))]
async fn kill(State(s): State<Shared>, headers: HeaderMap, Path(app): Path<String>) -> Answer<KillResult> {
    let viewer = s.viewer(&headers)?;
    let (killed, state) = s.source.kill(viewer.as_deref(), &AppId(app))?;
    Ok(Json(KillResult { killed, state: state.label().into() }))
}
