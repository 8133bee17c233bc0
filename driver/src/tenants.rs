//! Tenants: who may submit, with which token, and within which quotas (concurrent
//! applications, slots in use, task limits). With no tenants configured the driver
//! is open: no tokens, every client is the tenant it names (`default` if none),
//! without quotas.

use crate::DriverError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use spindle_proto::TaskLimits;
use spindle_proto::auth::Secret;
use spindle_sandbox::SandboxLimits;
use spindle_sandbox::limits::{bytes, duration};

/// One tenant as configured.
#[derive(Debug, Clone)]
pub struct TenantConfig {
    /// Its name, given by clients with `--tenant`.
    pub name: String,
    /// Its token, given by clients with `--token`.
    pub token: String,
    /// Its share of free slots relative to other tenants with pending tasks. Default 1.
    pub weight: u32,
    /// Most applications running at once (0: no limit).
    pub max_applications: u32,
    /// Most task slots in use at once (0: no limit).
    pub max_slots: u32,
    /// Largest task memory an application may ask for, in bytes.
    pub max_task_memory: Option<u64>,
    /// Longest task wall time an application may ask for.
    pub max_task_wall_time: Option<Duration>,
    /// Most fuel an application may give a task.
    pub max_task_fuel: Option<u64>,
    /// The only host directories its jobs may read and write under (resolved);
    /// none: no host path at all.
    pub roots: Vec<std::path::PathBuf>,
    /// The only object-store URL prefixes its jobs may read and write, with
    /// their stores' options; none: no store at all.
    pub locations: Vec<spindle_store::Grant>,
    /// Largest component it may submit, in bytes (none: the driver's).
    pub max_component_bytes: Option<usize>,
    /// Longest chain of datasets its applications may build (none: the driver's).
    pub max_lineage_depth: Option<u32>,
    /// Most pipelines one of its tasks may plan (none: the driver's).
    pub max_task_pipelines: Option<u64>,
    /// Most shuffle bytes one of its applications may hold on one executor
    /// (none: the driver's).
    pub max_shuffle_memory: Option<u64>,
}

impl TenantConfig {
    fn open(name: &str) -> Self {
        TenantConfig {
            name: name.to_string(),
            token: String::new(),
            weight: 1,
            max_applications: 0,
            max_slots: 0,
            max_task_memory: None,
            max_task_wall_time: None,
            max_task_fuel: None,
            roots: Vec::new(),
            locations: Vec::new(),
            max_component_bytes: None,
            max_lineage_depth: None,
            max_task_pipelines: None,
            max_shuffle_memory: None,
        }
    }
}

/// What an application may build and hold: its tenant's settings, or the
/// driver's where the tenant sets none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppRules {
    /// Largest component, in bytes.
    pub max_component_bytes: usize,
    /// Longest chain of datasets.
    pub max_lineage_depth: u32,
    /// Most pipelines in one task.
    pub max_task_pipelines: u64,
    /// Most shuffle bytes held on one executor.
    pub max_shuffle_memory: u64,
}

/// A tenant at run time.
#[derive(Debug)]
pub struct Tenant {
    /// Its configuration.
    pub config: TenantConfig,
    token: Option<Secret>,
    running_apps: Mutex<u32>,
}

/// Why a client was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("this driver requires a tenant: give --tenant and --token (or SPINDLE_TENANT and SPINDLE_TOKEN)")]
    /// Tenants are configured and the client named none.
    MissingTenant,
    #[error("unknown tenant `{0}`")]
    /// The client named a tenant the driver does not list.
    UnknownTenant(String),
    #[error("wrong or missing token for tenant `{0}`")]
    /// The token does not match the tenant's.
    BadToken(String),
}

/// The tenant registry.
#[derive(Debug)]
pub struct Tenants {
    configured: bool,
    tenants: Mutex<HashMap<String, Arc<Tenant>>>,
}

impl Tenants {
    /// The registry for `configs` (empty: an open driver).
    pub fn new(configs: &[TenantConfig]) -> Self {
        let tenants = configs
            .iter()
            .map(|c| {
                let t = Tenant { config: c.clone(), token: Some(Secret::new(&c.token)), running_apps: Mutex::new(0) };
                (c.name.clone(), Arc::new(t))
            })
            .collect();
        Tenants { configured: !configs.is_empty(), tenants: Mutex::new(tenants) }
    }

    /// Whether tenants are configured (else the driver is open).
    pub fn configured(&self) -> bool {
        self.configured
    }

    /// Whether `viewer` may see an application of tenant `owner`: the cluster's
    /// operator (`None`) sees every one, and so does everyone on an open
    /// driver; a tenant sees its own.
    pub fn may_see(&self, viewer: Option<&Tenant>, owner: &str) -> bool {
        viewer.is_none_or(|t| !self.configured || owner == t.name())
    }

    /// The tenant a client's credentials name, if they are right.
    pub fn authenticate(&self, tenant: Option<&str>, token: Option<&str>) -> Result<Arc<Tenant>, AuthError> {
        let mut tenants = self.tenants.lock().expect("tenants lock");
        if !self.configured {
            let name = tenant.filter(|t| !t.is_empty()).unwrap_or("default");
            let t = tenants.entry(name.to_string()).or_insert_with(|| {
                Arc::new(Tenant { config: TenantConfig::open(name), token: None, running_apps: Mutex::new(0) })
            });
            return Ok(t.clone());
        }
        let name = tenant.filter(|t| !t.is_empty()).ok_or(AuthError::MissingTenant)?;
        let t = tenants.get(name).ok_or_else(|| AuthError::UnknownTenant(name.to_string()))?;
        match (&t.token, token) {
            (Some(expected), Some(given)) if expected.matches(given) => Ok(t.clone()),
            _ => Err(AuthError::BadToken(name.to_string())),
        }
    }
}

/// A running application's hold on its tenant's application quota; released on drop.
#[derive(Debug)]
pub struct AppSlot(Arc<Tenant>);

impl Drop for AppSlot {
    fn drop(&mut self) {
        *self.0.running_apps.lock().expect("tenant lock") -= 1;
    }
}

impl Tenant {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// What its applications may build and hold, under `driver`'s settings.
    pub fn rules(&self, driver: &crate::DriverConfig) -> AppRules {
        let c = &self.config;
        AppRules {
            max_component_bytes: c.max_component_bytes.unwrap_or(driver.max_component_bytes),
            max_lineage_depth: c.max_lineage_depth.unwrap_or(driver.max_lineage_depth),
            max_task_pipelines: c.max_task_pipelines.unwrap_or(driver.max_task_pipelines),
            max_shuffle_memory: c.max_shuffle_memory.unwrap_or(driver.max_shuffle_memory),
        }
    }

    /// Takes one of the tenant's concurrent-application places, or says why not.
    pub fn start_app(self: &Arc<Self>) -> Result<AppSlot, DriverError> {
        let mut running = self.running_apps.lock().expect("tenant lock");
        let max = self.config.max_applications;
        if max > 0 && *running >= max {
            return Err(DriverError::Quota(format!(
                "tenant `{}` already runs {running} application(s), its limit; wait for one to finish",
                self.config.name
            )));
        }
        *running += 1;
        Ok(AppSlot(self.clone()))
    }

    /// The limits an application's tasks run with: what it asked for (unset:
    /// the driver's defaults, lowered to the tenant's maximum), refused if over
    /// the tenant's maximum.
    pub fn task_limits(&self, asked: Option<&TaskLimits>, defaults: &SandboxLimits) -> Result<TaskLimits, DriverError> {
        let c = &self.config;
        let asked = asked.cloned().unwrap_or_default();
        let over = |what: &str, asked: String, max: String| {
            DriverError::Refused(format!(
                "the application asks for {what} {asked}, over tenant `{}`'s maximum of {max}",
                c.name
            ))
        };
        let mut memory = defaults.memory_bytes as u64;
        if let Some(max) = c.max_task_memory {
            if asked.memory_bytes > max {
                return Err(over("task memory", bytes(asked.memory_bytes), bytes(max)));
            }
            memory = memory.min(max);
        }
        let mut wall = defaults.wall_time;
        if let Some(max) = c.max_task_wall_time {
            if asked.wall_time_ms > max.as_millis() as u64 {
                return Err(over("task wall time", duration(Duration::from_millis(asked.wall_time_ms)), duration(max)));
            }
            wall = wall.min(max);
        }
        let mut fuel = defaults.fuel.unwrap_or(0);
        if let Some(max) = c.max_task_fuel {
            if asked.fuel > max {
                return Err(over("task fuel", asked.fuel.to_string(), max.to_string()));
            }
            fuel = if fuel == 0 { max } else { fuel.min(max) };
        }
        let pick = |asked: u64, default: u64| if asked > 0 { asked } else { default };
        Ok(TaskLimits {
            memory_bytes: pick(asked.memory_bytes, memory),
            wall_time_ms: pick(asked.wall_time_ms, wall.as_millis() as u64),
            fuel: pick(asked.fuel, fuel),
            output_bytes: pick(asked.output_bytes, defaults.output_bytes as u64).min(defaults.output_bytes as u64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(name: &str) -> TenantConfig {
        TenantConfig {
            token: format!("{name}-token"),
            max_applications: 1,
            max_task_memory: Some(64 << 20),
            ..TenantConfig::open(name)
        }
    }

    #[test]
    fn credentials_are_checked_when_tenants_are_configured() {
        let t = Tenants::new(&[tenant("a"), tenant("b")]);
        assert_eq!(t.authenticate(Some("a"), Some("a-token")).unwrap().name(), "a");
        assert_eq!(t.authenticate(Some("a"), Some("b-token")).unwrap_err(), AuthError::BadToken("a".into()));
        assert_eq!(t.authenticate(Some("a"), None).unwrap_err(), AuthError::BadToken("a".into()));
        assert_eq!(t.authenticate(Some("c"), Some("c-token")).unwrap_err(), AuthError::UnknownTenant("c".into()));
        assert_eq!(t.authenticate(None, None).unwrap_err(), AuthError::MissingTenant);
        let open = Tenants::new(&[]);
        assert_eq!(open.authenticate(None, None).unwrap().name(), "default");
    }

    #[test]
    fn quotas_hold() {
        let t = Arc::new(Tenant { config: tenant("a"), token: None, running_apps: Mutex::new(0) });
        let first = t.start_app().unwrap();
        assert!(t.start_app().unwrap_err().to_string().contains("its limit"));
        drop(first);
        assert!(t.start_app().is_ok());
        let defaults = SandboxLimits::default();
        let l = t.task_limits(None, &defaults).unwrap();
        assert_eq!(l.memory_bytes, 64 << 20, "the default is lowered to the tenant's maximum");
        let asked = TaskLimits { memory_bytes: 128 << 20, ..Default::default() };
        assert!(
            t.task_limits(Some(&asked), &defaults)
                .unwrap_err()
                .to_string()
                .contains("over tenant `a`'s maximum of 64 MiB")
        );
    }
}
