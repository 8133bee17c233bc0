//! The driver's effective configuration, as `/api/v1/environment` and the web
//! UI's environment page show it: every setting with its value, secrets
//! (the cluster secret, tenants' tokens, store credentials) redacted.

use crate::DriverConfig;
use crate::api::model::ConfigEntry;

/// What a redacted value shows.
const REDACTED: &str = "(set; redacted)";

/// Every setting of `config`, in the order of docs/driver-config.md.
pub fn environment(config: &DriverConfig) -> Vec<ConfigEntry> {
    let bytes = |b: u64| spindle_sandbox::limits::bytes(b);
    let duration = |d: std::time::Duration| spindle_sandbox::limits::duration(d);
    let mut e = vec![
        (
            "config_files",
            if config.config_files.is_empty() {
                "(none)".into()
            } else {
                config.config_files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            },
        ),
        ("secret", if config.secret.is_some() { REDACTED.into() } else { "(none: an open cluster)".into() }),
        ("tls", format!("{:?}", config.tls)),
        ("max_task_attempts", config.max_task_attempts.to_string()),
        ("max_stage_attempts", config.max_stage_attempts.to_string()),
        ("liveness", format!("{:?}", config.liveness)),
        ("speculation", format!("{:?}", config.speculation)),
        ("exclude_on_failure", format!("{:?}", config.exclude_on_failure)),
        ("dynamic_allocation", format!("{:?}", config.dynamic_allocation)),
        ("locality_wait", duration(config.locality_wait)),
        ("launch_ahead", config.launch_ahead.to_string()),
        ("max_split_bytes", bytes(config.max_split_bytes)),
        ("fallback_parallelism", config.fallback_parallelism.to_string()),
        ("main_limits", format!("{:?}", config.main_limits)),
        ("task_limits", format!("{:?}", config.task_limits)),
        ("max_result_bytes", bytes(config.max_result_bytes)),
        ("max_component_bytes", bytes(config.max_component_bytes as u64)),
        ("app_log_budget", bytes(config.app_log_bytes as u64)),
        ("max_lineage_depth", config.max_lineage_depth.to_string()),
        ("max_task_pipelines", config.max_task_pipelines.to_string()),
        ("max_shuffle_memory", bytes(config.max_shuffle_memory)),
        ("compile_timeout", duration(config.compile_timeout)),
        ("component_budget", bytes(config.component_budget)),
        ("retained_applications", config.retained_applications.to_string()),
        ("application_retention", duration(config.application_retention)),
        ("event_log_dir", config.event_log_dir.as_ref().map_or("(none)".into(), |p| p.display().to_string())),
        ("event_log_rotate", bytes(config.event_log_rotate_bytes)),
        ("engine", format!("{:?}", config.engine)),
    ];
    for s in &config.stores {
        // The prefix and the option names; never their values.
        let options: Vec<&str> = s.options.keys().map(String::as_str).collect();
        e.push(("stores", format!("{} (options: {})", s.url, options.join(", "))));
    }
    for t in &config.tenants {
        let locations: Vec<&str> = t.locations.iter().map(|g| g.url.as_str()).collect();
        e.push((
            "tenants",
            format!(
                "{}: token {REDACTED}, weight {}, max_applications {}, max_slots {}, roots {:?}, locations {:?}",
                t.name, t.weight, t.max_applications, t.max_slots, t.roots, locations
            ),
        ));
    }
    e.into_iter().map(|(key, value)| ConfigEntry { key: key.into(), value }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_tokens_and_store_credentials_are_never_shown() {
        let config = DriverConfig::parse(
            r#"
            secret = "cluster-secret-value"
            [[stores]]
            url = "s3://lake/"
            options = { aws_access_key_id = "key-id", aws_secret_access_key = "store-secret-value", aws_region = "eu-west-1" }
            [[tenants]]
            name = "alice"
            token = "alice-token-value"
            "#,
        )
        .unwrap();
        let shown = format!("{:?}", environment(&config));
        for secret in ["cluster-secret-value", "alice-token-value", "store-secret-value"] {
            assert!(!shown.contains(secret), "{secret} shown: {shown}");
        }
        assert!(shown.contains("alice") && shown.contains("s3://lake") && shown.contains("aws_secret_access_key"));
    }
}
