//! The process launcher: each executor is a `spindle executor` child process of
//! the driver, which receives SIGTERM when released and when the driver dies.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

use super::{Launch, LaunchError, Launcher};

/// Starts executors as child processes running `program` (the `spindle` binary).
pub struct ProcessLauncher {
    program: PathBuf,
    /// The cluster secret, handed to children in their environment.
    secret: Option<String>,
    /// Children by launch id: their process id.
    children: Arc<Mutex<HashMap<String, u32>>>,
}

impl ProcessLauncher {
    /// Launches `program executor ...`, handing children `secret`.
    pub fn new(program: PathBuf, secret: Option<String>) -> Self {
        ProcessLauncher { program, secret, children: Arc::default() }
    }
}

impl Launcher for ProcessLauncher {
    fn launch<'a>(&'a self, launch: &'a Launch) -> BoxFuture<'a, Result<(), LaunchError>> {
        Box::pin(async move {
            let mut cmd = tokio::process::Command::new(&self.program);
            cmd.args(launch.executor_args()).stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null());
            if let Some(s) = &self.secret {
                cmd.env("SPINDLE_SECRET", s);
            }
            // SAFETY: prctl(2) only, between fork and exec: no allocation, no locks.
            unsafe {
                cmd.pre_exec(|| {
                    // The child gets SIGTERM when the driver dies, however it dies.
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let mut child = cmd.spawn().map_err(|e| LaunchError::Start {
                launch: launch.id.clone(),
                reason: format!("{}: {e}", self.program.display()),
            })?;
            let pid = child.id().unwrap_or_default();
            self.children.lock().expect("children lock").insert(launch.id.clone(), pid);
            let (children, id) = (self.children.clone(), launch.id.clone());
            // Reaps the child when it exits, whatever the reason.
            tokio::spawn(async move {
                let status = child.wait().await;
                children.lock().expect("children lock").remove(&id);
                tracing::info!(launch = %id, ?status, "executor process exited");
            });
            Ok(())
        })
    }

    fn release<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), LaunchError>> {
        Box::pin(async move {
            let pid = self.children.lock().expect("children lock").get(id).copied();
            let Some(pid) = pid.filter(|p| *p > 0) else { return Ok(()) };
            // SAFETY: kill(2) on our own child. Its pid is in the map until its
            // reaper has seen it exit; only in the instant between the reaping and
            // the removal could the pid be another process's.
            if unsafe { libc::kill(pid as i32, libc::SIGTERM) } != 0 {
                return Err(LaunchError::Release {
                    launch: id.to_string(),
                    reason: std::io::Error::last_os_error().to_string(),
                });
            }
            Ok(())
        })
    }
}
