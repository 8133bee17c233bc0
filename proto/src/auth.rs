//! Credentials on the wire. Cluster members (driver, executors) prove themselves
//! with the cluster secret; clients name a tenant and give its token. Both travel
//! as gRPC metadata, attached by [`Credentials`] and checked by [`SecretCheck`]
//! (cluster RPCs) or by the driver (client RPCs). Secrets are compared through
//! their blake3 hashes, which compare in constant time.

use crate::SettingsError;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Request, Status};

/// gRPC metadata key for the cluster secret.
pub const SECRET_HEADER: &str = "x-spindle-secret";
/// gRPC metadata key for the client's tenant name.
pub const TENANT_HEADER: &str = "x-spindle-tenant";
/// gRPC metadata key for the client's tenant token.
pub const TOKEN_HEADER: &str = "x-spindle-token";

/// A channel that attaches credentials to every request.
pub type AuthChannel = InterceptedService<Channel, Credentials>;

/// What a caller attaches to its requests.
#[derive(Clone, Default)]
pub struct Credentials {
    secret: Option<AsciiMetadataValue>,
    tenant: Option<AsciiMetadataValue>,
    token: Option<AsciiMetadataValue>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("secret", &self.secret.as_ref().map(|_| "<set>"))
            .field("tenant", &self.tenant)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

fn value(what: &'static str, v: &str) -> Result<AsciiMetadataValue, SettingsError> {
    v.parse().map_err(|_| SettingsError::NotAscii { what })
}

impl Credentials {
    /// A cluster member's credentials: the cluster secret, if the cluster has one.
    pub fn cluster(secret: Option<&str>) -> Result<Self, SettingsError> {
        Ok(Credentials { secret: secret.map(|s| value("cluster secret", s)).transpose()?, ..Default::default() })
    }

    /// A client's credentials: a tenant and its token, and (for an operator) the
    /// cluster secret, each when given.
    pub fn client(secret: Option<&str>, tenant: Option<&str>, token: Option<&str>) -> Result<Self, SettingsError> {
        Ok(Credentials {
            secret: secret.map(|s| value("cluster secret", s)).transpose()?,
            tenant: tenant.map(|t| value("tenant name", t)).transpose()?,
            token: token.map(|t| value("tenant token", t)).transpose()?,
        })
    }

    /// Wraps a channel so every request carries these credentials.
    pub fn channel(self, channel: Channel) -> AuthChannel {
        InterceptedService::new(channel, self)
    }
}

impl Interceptor for Credentials {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        let md = req.metadata_mut();
        for (key, v) in [(SECRET_HEADER, &self.secret), (TENANT_HEADER, &self.tenant), (TOKEN_HEADER, &self.token)] {
            if let Some(v) = v {
                md.insert(key, v.clone());
            }
        }
        Ok(req)
    }
}

/// A secret kept as its hash, for constant-time comparison.
#[derive(Clone)]
pub struct Secret(blake3::Hash);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

impl Secret {
    /// Keeps `s` as its hash.
    pub fn new(s: &str) -> Self {
        Secret(blake3::hash(s.as_bytes()))
    }

    /// Whether `given` is this secret (constant time in the secret).
    pub fn matches(&self, given: &str) -> bool {
        blake3::hash(given.as_bytes()) == self.0
    }
}

/// Reads a metadata value as text.
pub fn metadata_str<'a>(md: &'a MetadataMap, key: &str) -> Option<&'a str> {
    md.get(key).and_then(|v| v.to_str().ok())
}

/// Checks the cluster secret on requests between cluster members; with no secret
/// configured, lets every request through.
#[derive(Clone, Debug, Default)]
pub struct SecretCheck {
    expected: Option<Secret>,
}

impl SecretCheck {
    /// Expects `secret` (none: the cluster is open).
    pub fn new(secret: Option<&str>) -> Self {
        SecretCheck { expected: secret.map(Secret::new) }
    }

    /// Whether the metadata carries the right secret of a cluster that has one.
    pub fn is_member(&self, md: &MetadataMap) -> bool {
        self.expected.is_some() && self.check(md).is_ok()
    }

    /// Whether `given` is the secret of a cluster that has one (HTTP callers
    /// present it as a bearer token).
    pub fn is_secret(&self, given: &str) -> bool {
        self.expected.as_ref().is_some_and(|e| e.matches(given))
    }

    /// Refuses metadata without the right secret.
    pub fn check(&self, md: &MetadataMap) -> Result<(), Status> {
        let Some(expected) = &self.expected else { return Ok(()) };
        match metadata_str(md, SECRET_HEADER) {
            Some(given) if expected.matches(given) => Ok(()),
            Some(_) => Err(Status::unauthenticated("wrong cluster secret; give every member the same SPINDLE_SECRET")),
            None => Err(Status::unauthenticated(
                "this RPC is for cluster members and needs the cluster secret (SPINDLE_SECRET)",
            )),
        }
    }
}

impl Interceptor for SecretCheck {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        self.check(req.metadata())?;
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_check_refuses_missing_and_wrong_secrets() {
        let check = SecretCheck::new(Some("s3cret"));
        let with = |creds: Credentials| {
            let mut c = creds;
            let req = c.call(Request::new(())).unwrap();
            check.check(req.metadata())
        };
        assert!(with(Credentials::cluster(Some("s3cret")).unwrap()).is_ok());
        assert_eq!(
            with(Credentials::cluster(Some("guess")).unwrap()).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert_eq!(with(Credentials::default()).unwrap_err().code(), tonic::Code::Unauthenticated);
        assert!(SecretCheck::new(None).check(&MetadataMap::new()).is_ok());
        assert!(!SecretCheck::new(None).is_member(&MetadataMap::new()), "an open cluster has no members to prove");
    }
}
