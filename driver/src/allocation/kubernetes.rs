//! The Kubernetes launcher: each executor is a pod, made from the settings of
//! `[dynamic_allocation.kubernetes]` (image, resources, labels, service account,
//! node selector), named and labelled after the driver, and owned by the
//! driver's pod (when the driver runs in one), so Kubernetes removes executors
//! with their driver. A released executor's pod is deleted: it gets SIGTERM,
//! deregisters and lets running tasks finish within its grace period.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use serde::Deserialize;

use super::{Launch, LaunchError, Launcher};
use crate::DriverError;

/// What executor pods look like.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PodSettings {
    /// The namespace pods are created in. Default: the driver pod's
    /// (`SPINDLE_POD_NAMESPACE`), else `default`.
    pub namespace: String,
    /// The `spindle` image.
    pub image: String,
    /// `Always`, `IfNotPresent` or `Never`. Default `IfNotPresent`.
    pub image_pull_policy: String,
    /// The pods' service account (none: the namespace's default).
    pub service_account: Option<String>,
    /// CPU request and limit, e.g. `"2"` or `"500m"`.
    pub cpu: Option<String>,
    /// Memory request and limit, e.g. `"4Gi"`.
    pub memory: Option<String>,
    /// Labels added to every executor pod.
    pub labels: BTreeMap<String, String>,
    /// Node selector of every executor pod.
    pub node_selector: BTreeMap<String, String>,
    /// The Kubernetes Secret (and its key) holding the cluster secret, given to
    /// executors as `SPINDLE_SECRET`.
    pub secret: Option<(String, String)>,
    /// The port executors listen on in their pod. Default 7078.
    pub executor_port: u16,
    /// The driver's pod: executor pods are named after it and owned by it.
    /// Default `SPINDLE_POD_NAME` (set from the downward API); none outside a pod.
    pub driver_pod: Option<String>,
}

/// The `[dynamic_allocation.kubernetes]` config section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodFile {
    namespace: Option<String>,
    image: Option<String>,
    image_pull_policy: Option<String>,
    service_account: Option<String>,
    cpu: Option<String>,
    memory: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    node_selector: BTreeMap<String, String>,
    secret_name: Option<String>,
    secret_key: Option<String>,
    executor_port: Option<u16>,
    driver_pod: Option<String>,
}

impl PodSettings {
    /// The settings a config section gives (with the driver pod's own name and
    /// namespace from the environment where the section does not say).
    pub fn from_file(f: Option<&PodFile>) -> Result<Self, String> {
        let f =
            f.ok_or("dynamic_allocation.launcher = `kubernetes` needs a [dynamic_allocation.kubernetes] section")?;
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let policy = f.image_pull_policy.clone().unwrap_or_else(|| "IfNotPresent".into());
        if !["Always", "IfNotPresent", "Never"].contains(&policy.as_str()) {
            return Err(format!(
                "dynamic_allocation.kubernetes.image_pull_policy = `{policy}`: use Always, IfNotPresent or Never"
            ));
        }
        Ok(PodSettings {
            namespace: f.namespace.clone().or_else(|| env("SPINDLE_POD_NAMESPACE")).unwrap_or_else(|| "default".into()),
            image: f.image.clone().ok_or("dynamic_allocation.kubernetes.image is required")?,
            image_pull_policy: policy,
            service_account: f.service_account.clone(),
            cpu: f.cpu.clone(),
            memory: f.memory.clone(),
            labels: f.labels.clone(),
            node_selector: f.node_selector.clone(),
            secret: f.secret_name.clone().map(|n| (n, f.secret_key.clone().unwrap_or_else(|| "secret".into()))),
            executor_port: f.executor_port.unwrap_or(7078),
            driver_pod: f.driver_pod.clone().or_else(|| env("SPINDLE_POD_NAME")),
        })
    }

    /// The prefix of executor pod names, and the value of their driver label.
    fn driver_name(&self) -> String {
        self.driver_pod.clone().unwrap_or_else(|| "spindle".into())
    }

    /// The executor pod of `launch`, owned by the pod `owner_uid` names (the
    /// driver's) when there is one.
    pub fn pod(&self, launch: &Launch, owner_uid: Option<&str>) -> Result<Pod, serde_json::Error> {
        let driver = self.driver_name();
        let mut labels = self.labels.clone();
        labels.insert("app.kubernetes.io/name".into(), "spindle".into());
        labels.insert("app.kubernetes.io/component".into(), "executor".into());
        labels.insert("spindle.dev/driver".into(), label_value(&driver));
        labels.insert("spindle.dev/launch".into(), launch.id.clone());
        let mut args = launch.executor_args();
        args.extend([
            "--listen".into(),
            format!("0.0.0.0:{}", self.executor_port),
            "--advertise-host".into(),
            "$(SPINDLE_POD_IP)".into(),
        ]);
        let mut env = vec![
            serde_json::json!({"name": "SPINDLE_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}),
        ];
        if let Some((name, key)) = &self.secret {
            env.push(serde_json::json!({"name": "SPINDLE_SECRET", "valueFrom": {"secretKeyRef": {"name": name, "key": key}}}));
        }
        let mut resources = serde_json::Map::new();
        for (k, v) in [("cpu", &self.cpu), ("memory", &self.memory)] {
            if let Some(v) = v {
                resources.insert(k.into(), v.clone().into());
            }
        }
        let mut spec = serde_json::json!({
            "restartPolicy": "Never",
            "containers": [{
                "name": "executor",
                "image": self.image,
                "imagePullPolicy": self.image_pull_policy,
                "args": args,
                "env": env,
                "ports": [{"name": "executor", "containerPort": self.executor_port}],
                "resources": {"requests": resources, "limits": resources},
            }],
        });
        if let Some(sa) = &self.service_account {
            spec["serviceAccountName"] = sa.clone().into();
        }
        if !self.node_selector.is_empty() {
            spec["nodeSelector"] = serde_json::to_value(&self.node_selector)?;
        }
        let mut metadata = serde_json::json!({
            "name": pod_name(&driver, &launch.id),
            "namespace": self.namespace,
            "labels": labels,
        });
        if let (Some(uid), Some(owner)) = (owner_uid, &self.driver_pod) {
            metadata["ownerReferences"] = serde_json::json!([{
                "apiVersion": "v1", "kind": "Pod", "name": owner, "uid": uid,
                "controller": true, "blockOwnerDeletion": true,
            }]);
        }
        serde_json::from_value(
            serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}),
        )
    }
}

/// A label value: at most 63 characters of `[A-Za-z0-9._-]`.
fn label_value(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' }).take(63).collect()
}

/// The name of the pod of `launch` of `driver`: DNS-1123, at most 63 characters.
fn pod_name(driver: &str, launch: &str) -> String {
    let suffix = format!("-{}", launch.trim_start_matches("launch-"));
    let base: String =
        driver.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let keep = 63 - "-exec".len() - suffix.len();
    format!("{}-exec{suffix}", base.chars().take(keep).collect::<String>().trim_end_matches('-'))
}

/// Starts executors as pods through the Kubernetes API.
pub struct PodLauncher {
    settings: PodSettings,
    pods: Api<Pod>,
    /// The driver pod's uid, looked up once (none outside a pod).
    owner_uid: tokio::sync::OnceCell<Option<String>>,
}

impl PodLauncher {
    /// A launcher creating pods like `settings`, with the in-cluster (or
    /// kubeconfig) client.
    pub async fn connect(settings: PodSettings) -> Result<Self, DriverError> {
        let client = kube::Client::try_default()
            .await
            .map_err(|e| DriverError::Config(format!("dynamic allocation: cannot reach the Kubernetes API: {e}")))?;
        Ok(Self::with_client(settings, client))
    }

    /// A launcher creating pods like `settings` through `client`.
    pub fn with_client(settings: PodSettings, client: kube::Client) -> Self {
        let pods = Api::namespaced(client, &settings.namespace);
        PodLauncher { settings, pods, owner_uid: tokio::sync::OnceCell::new() }
    }

    async fn owner_uid(&self) -> Option<String> {
        self.owner_uid
            .get_or_init(|| async {
                let name = self.settings.driver_pod.as_deref()?;
                match self.pods.get(name).await {
                    Ok(pod) => pod.metadata.uid,
                    Err(e) => {
                        tracing::warn!(pod = name, error = %e, "cannot read the driver's pod: executor pods will not be owned by it");
                        None
                    }
                }
            })
            .await
            .clone()
    }
}

impl Launcher for PodLauncher {
    fn launch<'a>(&'a self, launch: &'a Launch) -> BoxFuture<'a, Result<(), LaunchError>> {
        Box::pin(async move {
            let err = |reason: String| LaunchError::Start { launch: launch.id.clone(), reason };
            let uid = self.owner_uid().await;
            let pod = self.settings.pod(launch, uid.as_deref()).map_err(|e| err(format!("building the pod: {e}")))?;
            let created = self
                .pods
                .create(&PostParams::default(), &pod)
                .await
                .map_err(|e| err(format!("creating the pod: {e}")))?;
            tracing::info!(launch = %launch.id, pod = created.metadata.name.as_deref().unwrap_or_default(), "executor pod created");
            Ok(())
        })
    }

    fn release<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), LaunchError>> {
        Box::pin(async move {
            let name = pod_name(&self.settings.driver_name(), id);
            match self.pods.delete(&name, &DeleteParams::default()).await {
                Ok(_) => Ok(()),
                // Already gone (it exited, or someone deleted it).
                Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
                Err(e) => {
                    Err(LaunchError::Release { launch: id.to_string(), reason: format!("deleting pod {name}: {e}") })
                }
            }
        })
    }
}

#[cfg(test)]
mod tests;
