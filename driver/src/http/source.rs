//! Where the HTTP server reads what it shows: a live [`Driver`], or a history
//! server replaying event logs ([`crate::history::History`]). Both answer the
//! same questions, so the same API and pages serve both.

use std::sync::Arc;

use futures::future::BoxFuture;
use spindle_proto::ids::AppId;
use spindle_proto::{AppDetail, AppStatus, ApplicationState, ClusterStatus};

use crate::api::model::{ConfigEntry, DatasetStorage, JobData, StageData, TaskData};
use crate::tenants::{AuthError, Tenant};
use crate::{Driver, DriverError};

/// Applications, their jobs, stages and tasks, and executors, as `viewer` (a
/// tenant, or `None` for the cluster's operator) may see them.
pub trait Source: Send + Sync + 'static {
    /// Executors and applications.
    fn status<'a>(&'a self, viewer: Option<&'a Tenant>) -> BoxFuture<'a, ClusterStatus>;
    /// Applications alone (no executor is asked anything).
    fn applications(&self, viewer: Option<&Tenant>) -> Vec<AppStatus>;
    /// One application with its kept task attempts.
    fn app_detail(&self, viewer: Option<&Tenant>, id: &AppId) -> Result<AppDetail, DriverError>;
    /// Its jobs.
    fn jobs(&self, viewer: Option<&Tenant>, id: &AppId) -> Result<Vec<JobData>, DriverError>;
    /// One job.
    fn job(&self, viewer: Option<&Tenant>, id: &AppId, job: u64) -> Result<Option<JobData>, DriverError>;
    /// Its stages.
    fn stages(&self, viewer: Option<&Tenant>, id: &AppId) -> Result<Vec<StageData>, DriverError>;
    /// One stage and its tasks.
    fn stage(
        &self,
        viewer: Option<&Tenant>,
        id: &AppId,
        stage: u64,
    ) -> Result<Option<(StageData, Vec<TaskData>)>, DriverError>;
    /// Its kept partitions, by dataset (none once it has ended).
    fn storage(&self, viewer: Option<&Tenant>, id: &AppId) -> Result<Vec<DatasetStorage>, DriverError>;
    /// Stops a running application.
    fn kill(&self, viewer: Option<&Tenant>, id: &AppId) -> Result<(bool, ApplicationState), DriverError>;
    /// Who presents `tenant` and `token`.
    fn authenticate(&self, tenant: Option<&str>, token: Option<&str>) -> Result<Arc<Tenant>, AuthError>;
    /// Whether callers must present tenant credentials.
    fn tenants_configured(&self) -> bool;
    /// Sets the gauges read at a scrape of `/metrics`.
    fn before_scrape(&self) {}
    /// The effective configuration (secrets redacted).
    fn environment(&self) -> Vec<ConfigEntry>;
}

impl Source for Driver {
    fn status<'a>(&'a self, viewer: Option<&'a Tenant>) -> BoxFuture<'a, ClusterStatus> {
        Box::pin(Driver::status(self, viewer))
    }
    fn applications(&self, viewer: Option<&Tenant>) -> Vec<AppStatus> {
        Driver::applications(self, viewer)
    }
    fn app_detail(&self, viewer: Option<&Tenant>, id: &AppId) -> Result<AppDetail, DriverError> {
        Driver::app_detail(self, viewer, id)
    }
    fn jobs(&self, viewer: Option<&Tenant>, id: &AppId) -> Result<Vec<JobData>, DriverError> {
        Driver::jobs(self, viewer, id)
    }
    fn job(&self, viewer: Option<&Tenant>, id: &AppId, job: u64) -> Result<Option<JobData>, DriverError> {
        Driver::job(self, viewer, id, job)
    }
    fn stages(&self, viewer: Option<&Tenant>, id: &AppId) -> Result<Vec<StageData>, DriverError> {
        Driver::stages(self, viewer, id)
    }
    fn stage(
        &self,
        viewer: Option<&Tenant>,
        id: &AppId,
        stage: u64,
    ) -> Result<Option<(StageData, Vec<TaskData>)>, DriverError> {
        Driver::stage(self, viewer, id, stage)
    }
    fn storage(&self, viewer: Option<&Tenant>, id: &AppId) -> Result<Vec<DatasetStorage>, DriverError> {
        Driver::storage(self, viewer, id)
    }
    fn kill(&self, viewer: Option<&Tenant>, id: &AppId) -> Result<(bool, ApplicationState), DriverError> {
        Driver::kill(self, viewer, id)
    }
    fn authenticate(&self, tenant: Option<&str>, token: Option<&str>) -> Result<Arc<Tenant>, AuthError> {
        self.tenants.authenticate(tenant, token)
    }
    fn tenants_configured(&self) -> bool {
        self.tenants.configured()
    }
    fn before_scrape(&self) {
        crate::metrics::snapshot(self);
    }
    fn environment(&self) -> Vec<ConfigEntry> {
        crate::api::environment::environment(&self.config)
    }
}
