//! The driver's HTTP server (`--ui-listen`): the web UI ([`ui`]), the JSON API
//! under `/api/v1/` ([`api`]) with its OpenAPI schema, and `/metrics`.
//!
//! Who calls is read as the gRPC API reads it. With tenants configured, a caller
//! presents `TENANT:TOKEN` as a bearer token, as HTTP basic credentials (user
//! TENANT, password TOKEN; what a browser asks for), or in the `spindle_token`
//! cookie, and sees only its tenant's applications; the cluster secret as a
//! bearer token (or as the password of basic credentials) sees everything and
//! may read `/metrics`. On an open driver every
//! caller sees everything.

pub mod api;
pub mod source;
pub mod ui;

use std::future::Future;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, COOKIE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use spindle_proto::auth::SecretCheck;

use crate::api::model::ApiError;
use crate::tenants::Tenant;
use crate::{Driver, DriverError};
pub use source::Source;

/// The cookie a browser may carry `TENANT:TOKEN` in.
pub const TOKEN_COOKIE: &str = "spindle_token";

/// What every handler gets.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) source: Arc<dyn Source>,
    secret: SecretCheck,
}

/// Who is asking: the cluster (`None`, holder of the secret) or a tenant.
pub(crate) type Viewer = Option<Arc<Tenant>>;

impl Shared {
    /// Authenticates a request from its headers.
    pub(crate) fn viewer(&self, headers: &HeaderMap) -> Result<Viewer, HttpError> {
        let given = credentials(headers);
        // The secret alone, or as the password of any user (what a browser sends).
        if let Some(c) = &given
            && (self.secret.is_secret(c) || c.split_once(':').is_some_and(|(_, p)| self.secret.is_secret(p)))
        {
            return Ok(None);
        }
        let (tenant, token) = match given.as_deref().map(|c| c.split_once(':')) {
            Some(Some((tenant, token))) => (Some(tenant), Some(token)),
            Some(None) => (None, given.as_deref()),
            None => (None, None),
        };
        Ok(Some(self.source.authenticate(tenant, token).map_err(|e| HttpError(e.into()))?))
    }

    /// Refuses a caller without the cluster secret when the driver has tenants
    /// (metrics and the configuration name tenants).
    pub(crate) fn operator(&self, headers: &HeaderMap) -> Result<(), HttpError> {
        if !self.source.tenants_configured() || self.viewer(headers)?.is_none() {
            return Ok(());
        }
        Err(HttpError(DriverError::Forbidden(
            "metrics and the configuration are for the cluster's operators: present the cluster secret as a bearer token".into(),
        )))
    }
}

/// The credentials a request carries: a bearer token, basic `user:password`, or
/// the token cookie.
fn credentials(headers: &HeaderMap) -> Option<String> {
    if let Some(auth) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        if let Some(token) = auth.strip_prefix("Bearer ") {
            return Some(token.trim().to_string());
        }
        if let Some(basic) = auth.strip_prefix("Basic ") {
            let decoded = base64::engine::general_purpose::STANDARD.decode(basic.trim()).ok()?;
            return String::from_utf8(decoded).ok();
        }
    }
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(TOKEN_COOKIE)?.strip_prefix('=').map(str::to_string))
}

/// A failed request, answered as JSON `{"error": ...}` with a fitting status.
#[derive(Debug)]
pub(crate) struct HttpError(pub(crate) DriverError);

impl From<DriverError> for HttpError {
    fn from(e: DriverError) -> Self {
        HttpError(e)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            DriverError::Auth(_) => StatusCode::UNAUTHORIZED,
            DriverError::UnknownApp { .. } | DriverError::NotFound(_) => StatusCode::NOT_FOUND,
            DriverError::Forbidden(_) => StatusCode::FORBIDDEN,
            DriverError::Refused(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = Json(ApiError { error: self.0.to_string() });
        if status == StatusCode::UNAUTHORIZED {
            return (status, [(WWW_AUTHENTICATE, "Basic realm=\"spindle\", charset=\"UTF-8\"")], body).into_response();
        }
        (status, body).into_response()
    }
}

/// Every route of the HTTP server, over `source`; `secret` is the cluster
/// secret that sees everything.
pub fn router(source: Arc<dyn Source>, secret: Option<&str>) -> Router {
    let shared = Shared { source, secret: SecretCheck::new(secret) };
    api::routes().merge(ui::routes()).route("/metrics", axum::routing::get(metrics)).with_state(shared)
}

/// `GET /metrics`: the process's Prometheus metrics, for the operator.
async fn metrics(State(s): State<Shared>, headers: HeaderMap) -> Result<impl IntoResponse, HttpError> {
    s.operator(&headers)?;
    s.source.before_scrape();
    Ok(spindle_proto::metrics::exposition())
}

/// Serves the driver's web UI, API and metrics on `listener` until `shutdown`
/// completes.
pub async fn serve(
    driver: Arc<Driver>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    spindle_proto::metrics::handle();
    let secret = driver.config.secret.clone();
    axum::serve(listener, router(driver, secret.as_deref())).with_graceful_shutdown(shutdown).await
}

/// Binds the driver's HTTP server: `addr`, or with `None` the default
/// `127.0.0.1:4040` and, as Spark does, the next 16 ports when it is taken.
pub async fn bind(addr: Option<&str>) -> std::io::Result<tokio::net::TcpListener> {
    if let Some(addr) = addr {
        return tokio::net::TcpListener::bind(addr).await;
    }
    let mut last = None;
    for port in 4040..4057u16 {
        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("tried at least one port"))
}
