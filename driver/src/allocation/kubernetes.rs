//! The Kubernetes launcher: each executor is a pod in the driver's namespace.

use serde::Deserialize;

/// What executor pods look like.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PodSettings {
    /// The namespace pods are created in.
    pub namespace: String,
    /// The `spindle` image.
    pub image: String,
}

/// The `[dynamic_allocation.kubernetes]` config section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodFile {
    namespace: Option<String>,
    image: Option<String>,
}

impl PodSettings {
    /// The settings a config section gives.
    pub fn from_file(f: Option<&PodFile>) -> Result<Self, String> {
        let f = f.ok_or("dynamic_allocation.launcher = `kubernetes` needs a [dynamic_allocation.kubernetes] section")?;
        Ok(PodSettings {
            namespace: f.namespace.clone().unwrap_or_else(|| "default".into()),
            image: f.image.clone().ok_or("dynamic_allocation.kubernetes.image is required")?,
        })
    }
}

/// Starts executors as pods.
pub struct PodLauncher;

impl PodLauncher {
    /// A launcher creating pods like `settings`.
    pub fn new(_settings: PodSettings) -> Result<Self, crate::DriverError> {
        Err(crate::DriverError::Config("the kubernetes launcher is not available in this build".into()))
    }
}

impl super::Launcher for PodLauncher {
    fn launch<'a>(&'a self, launch: &'a super::Launch) -> futures::future::BoxFuture<'a, Result<(), super::LaunchError>> {
        Box::pin(async move { Err(super::LaunchError::Start { launch: launch.id.clone(), reason: "unavailable".into() }) })
    }
    fn release<'a>(&'a self, _id: &'a str) -> futures::future::BoxFuture<'a, Result<(), super::LaunchError>> {
        Box::pin(async move { Ok(()) })
    }
}
