//! The driver's front gate: every request's size is bounded before its body is
//! read, and a submission's tenant and token are checked from its headers
//! first, so an unauthenticated client costs the driver nothing beyond the
//! headers and an authenticated one no more than its largest component.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use spindle_proto::auth::{TENANT_HEADER, TOKEN_HEADER};
use spindle_proto::driver_server::DriverServer;
use spindle_sandbox::limits::bytes;
use tonic::Status;
use tonic::codegen::{BoxFuture, Service, StdError, http};
use tonic::server::NamedService;

use crate::Driver;
use crate::service::DriverService;
use crate::tenants::Tenant;

/// The path of the submit call: the only one that carries a component.
const SUBMIT_PATH: &str = "/spindle.v1.Driver/Submit";

/// Room in a submission beyond its component: arguments, name, limits.
const SUBMIT_OVERHEAD: u64 = 1 << 20;

/// Largest body of any other request (registrations, heartbeats, status asks).
const OTHER_REQUEST_BYTES: u64 = 16 << 20;

/// The driver's gRPC service behind its gate.
#[derive(Clone)]
pub struct Gate {
    inner: DriverServer<DriverService>,
    driver: Arc<Driver>,
}

impl Gate {
    /// Gates `inner`, a server for `driver`.
    pub fn new(inner: DriverServer<DriverService>, driver: Arc<Driver>) -> Self {
        Gate { inner, driver }
    }

    /// What a request to `path` with `headers` may carry; or the refusal of a
    /// submission with wrong credentials.
    fn allowance(&self, path: &str, headers: &http::HeaderMap) -> Result<Allowance, Status> {
        if path != SUBMIT_PATH {
            return Ok(Allowance::Request);
        }
        let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
        let tenant = self
            .driver
            .tenants
            .authenticate(header(TENANT_HEADER), header(TOKEN_HEADER))
            .map_err(|e| Status::unauthenticated(e.to_string()))?;
        let max = tenant.rules(&self.driver.config).max_component_bytes as u64;
        Ok(Allowance::Component { tenant, max })
    }
}

/// What one request may carry.
enum Allowance {
    /// Any request but a submission: [`OTHER_REQUEST_BYTES`].
    Request,
    /// A submission from `tenant`, whose largest component is `max` bytes.
    Component { tenant: Arc<Tenant>, max: u64 },
}

impl Allowance {
    /// The most bytes of body.
    fn bytes(&self) -> u64 {
        match self {
            Allowance::Request => OTHER_REQUEST_BYTES,
            Allowance::Component { max, .. } => max + SUBMIT_OVERHEAD,
        }
    }

    /// What to say past it (made only when a request goes past it).
    fn refusal(&self) -> String {
        match self {
            Allowance::Request => format!("the request is larger than {}", bytes(OTHER_REQUEST_BYTES)),
            Allowance::Component { tenant, max } => format!(
                "the submission is larger than tenant `{}`'s largest component, {} (max_component_size); \
                 build the job in release mode, or ask for a larger limit",
                tenant.name(),
                bytes(*max)
            ),
        }
    }
}

/// The tenant a submission was authenticated as at the gate, handed to the
/// service in the request's extensions.
#[derive(Clone)]
pub struct Authenticated(pub Arc<Tenant>);

impl<B> Service<http::Request<B>> for Gate
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The generated server is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        match self.allowance(req.uri().path(), req.headers()) {
            Ok(allowance) => {
                let mut req = req;
                if let Allowance::Component { tenant, .. } = &allowance {
                    req.extensions_mut().insert(Authenticated(tenant.clone()));
                }
                let left = allowance.bytes();
                let req = req.map(|body| Limited { inner: Box::pin(body), left, allowance });
                self.inner.call(req)
            }
            Err(status) => {
                tracing::debug!(message = status.message(), "submission refused at the gate");
                Box::pin(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}

impl NamedService for Gate {
    const NAME: &'static str = <DriverServer<DriverService> as NamedService>::NAME;
}

/// A request body that fails once it has carried more than `left` bytes.
struct Limited<B> {
    inner: Pin<Box<B>>,
    left: u64,
    allowance: Allowance,
}

impl<B> Body for Limited<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<StdError>,
{
    type Data = Bytes;
    type Error = StdError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, StdError>>> {
        let this = self.get_mut();
        match ready!(this.inner.as_mut().poll_frame(cx)) {
            Some(Ok(frame)) => {
                let n = frame.data_ref().map_or(0, |d| d.len() as u64);
                if n > this.left {
                    this.left = 0;
                    return Poll::Ready(Some(Err(Box::new(Status::resource_exhausted(this.allowance.refusal())))));
                }
                this.left -= n;
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(e.into()))),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
