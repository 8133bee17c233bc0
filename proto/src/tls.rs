//! TLS on every gRPC connection (rustls, through tonic), so tenant tokens and the
//! cluster secret never travel in clear.
//!
//! A cluster process (driver or executor) with TLS has a certificate and key it
//! serves with, and the CA certificate it checks its peers' certificates
//! against. With `mutual`, members also present their certificate as clients:
//! executors accept connections only from holders of a certificate the CA
//! signed, and the driver accepts member calls (register, heartbeat, fetch a
//! component) only from them (clients that submit need no certificate). A
//! client (`spindle submit`, `status`, `logs`) needs only the CA certificate and
//! an `https://` driver URL.

use crate::SettingsError;
use std::path::Path;

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

/// One process's TLS settings; the default is no TLS.
#[derive(Clone, Debug, Default)]
pub struct Tls {
    identity: Option<Identity>,
    ca: Option<Certificate>,
    mutual: bool,
}

/// Who may connect to a TLS server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clients {
    /// Anyone; with mutual TLS a client certificate is checked when given (the
    /// driver: tenants connect without one).
    Anyone,
    /// With mutual TLS, only holders of a certificate the CA signed (executors).
    Members,
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, SettingsError> {
    std::fs::read(path).map_err(|error| SettingsError::Read { what, path: path.to_path_buf(), error })
}

impl Tls {
    /// Reads the PEM files: a certificate and its key (both or neither), the CA
    /// certificate peers are checked against, and whether members present their
    /// certificate too (which needs all three).
    pub fn load(
        cert: Option<&Path>,
        key: Option<&Path>,
        ca: Option<&Path>,
        mutual: bool,
    ) -> Result<Self, SettingsError> {
        let identity = match (cert, key) {
            (Some(c), Some(k)) => Some(Identity::from_pem(read("certificate", c)?, read("key", k)?)),
            (None, None) => None,
            _ => return Err(SettingsError::Flags("give both --tls-cert and --tls-key, or neither")),
        };
        let ca = ca.map(|p| read("CA certificate", p).map(Certificate::from_pem)).transpose()?;
        if mutual && (identity.is_none() || ca.is_none()) {
            return Err(SettingsError::Flags("--tls-mutual needs --tls-cert, --tls-key and --tls-ca"));
        }
        Ok(Tls { identity, ca, mutual })
    }

    /// Settings of a cluster process (driver or executor): no TLS, or a
    /// certificate, key and CA certificate together (it serves and connects).
    pub fn load_member(
        cert: Option<&Path>,
        key: Option<&Path>,
        ca: Option<&Path>,
        mutual: bool,
    ) -> Result<Self, SettingsError> {
        let tls = Self::load(cert, key, ca, mutual)?;
        if tls.identity.is_some() != tls.ca.is_some() {
            return Err(SettingsError::Flags(
                "a cluster process with TLS needs --tls-cert, --tls-key (what it serves with) and --tls-ca \
                 (what it checks its peers against)",
            ));
        }
        Ok(tls)
    }

    /// Whether connections this process makes use TLS.
    pub fn enabled(&self) -> bool {
        self.ca.is_some()
    }

    /// Whether members must present certificates.
    pub fn mutual(&self) -> bool {
        self.mutual
    }

    /// The URL of a cluster member at `address` (`host:port`).
    pub fn url(&self, address: &str) -> String {
        let scheme = if self.enabled() { "https" } else { "http" };
        format!("{scheme}://{address}")
    }

    /// The server settings, if this process serves with TLS.
    pub fn server(&self, clients: Clients) -> Option<ServerTlsConfig> {
        let identity = self.identity.clone()?;
        let mut config = ServerTlsConfig::new().identity(identity);
        if self.mutual
            && let Some(ca) = &self.ca
        {
            config = config.client_ca_root(ca.clone()).client_auth_optional(clients == Clients::Anyone);
        }
        Some(config)
    }

    /// An endpoint for `url`: an `https://` URL is checked against the CA
    /// certificate (and, with mutual TLS, presents this process's certificate).
    pub fn endpoint(&self, url: &str) -> Result<Endpoint, SettingsError> {
        let bad = |reason: String| SettingsError::Url { url: url.to_string(), reason };
        let endpoint = Endpoint::from_shared(url.to_string()).map_err(|e| bad(format!("not a URL: {e}")))?;
        let https = url.starts_with("https://");
        match (&self.ca, https) {
            (None, false) => Ok(endpoint),
            (Some(_), false) => Err(bad("it is not https://, but TLS is configured (--tls-ca)".into())),
            (None, true) => {
                Err(bad("it is https://: give the CA certificate that signed its certificate (--tls-ca)".into()))
            }
            (Some(ca), true) => {
                let mut config = ClientTlsConfig::new().ca_certificate(ca.clone());
                if self.mutual
                    && let Some(id) = &self.identity
                {
                    config = config.identity(id.clone());
                }
                endpoint.tls_config(config).map_err(|e| bad(format!("TLS settings: {e}")))
            }
        }
    }
}
