//! Broadcast values: pulled from the driver the first time a task of the
//! application asks, then kept until the application ends or unpersists them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use spindle_proto::ids::AppId;
use tokio::sync::OnceCell;

use crate::{Executor, ExecutorError};

/// Why a broadcast value could not be had.
#[derive(Debug)]
pub enum BroadcastError {
    /// The driver has no such value (a guest bug: the task fails, not retried).
    Unknown(String),
    /// The driver could not be asked (retryable).
    Failed(ExecutorError),
}

type Slot = Arc<OnceCell<Bytes>>;

/// The broadcast values kept on this executor.
#[derive(Default)]
pub struct BroadcastCache {
    values: Mutex<HashMap<(AppId, u64), Slot>>,
}

impl BroadcastCache {
    /// The value, fetched once per application however many tasks ask at once.
    pub async fn get(&self, exec: &Arc<Executor>, app: &AppId, id: u64) -> Result<Bytes, BroadcastError> {
        let slot = self.values.lock().expect("broadcasts lock").entry((app.clone(), id)).or_default().clone();
        let value = slot
            .get_or_try_init(|| async {
                match exec.source.fetch_broadcast(app.clone(), id).await {
                    Ok(Some(v)) => Ok(v),
                    Ok(None) => Err(BroadcastError::Unknown(format!("application {app} has no broadcast value {id}"))),
                    Err(e) => Err(BroadcastError::Failed(e)),
                }
            })
            .await?;
        Ok(value.clone())
    }

    /// Drops one value.
    pub fn remove(&self, app: &AppId, id: u64) -> u64 {
        u64::from(self.values.lock().expect("broadcasts lock").remove(&(app.clone(), id)).is_some())
    }

    /// Drops an application's values.
    pub fn release_app(&self, app: &AppId) -> u64 {
        let mut values = self.values.lock().expect("broadcasts lock");
        let before = values.len();
        values.retain(|(a, _), _| a != app);
        (before - values.len()) as u64
    }

    /// How many values are kept.
    pub fn len(&self) -> usize {
        self.values.lock().expect("broadcasts lock").len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
