//! The pod launcher against recorded Kubernetes API responses
//! (`driver/tests/fixtures/kubernetes/`), served by a small HTTP server that
//! keeps every request, so the pod specs the launcher sends are checked.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use super::*;

const DRIVER_POD: &str = include_str!("../../../tests/fixtures/kubernetes/driver-pod.json");
const CREATED: &str = include_str!("../../../tests/fixtures/kubernetes/created-pod.json");
const DELETED: &str = include_str!("../../../tests/fixtures/kubernetes/deleted-pod.json");
const NOT_FOUND: &str = include_str!("../../../tests/fixtures/kubernetes/not-found.json");

/// (method, path, body) of each request the server got.
type Requests = Arc<Mutex<Vec<(String, String, String)>>>;

/// An API server answering from the recorded responses.
fn api_server() -> (String, Requests) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests: Requests = Arc::default();
    let seen = requests.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut out = conn;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let (method, path) =
                        (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
                    let mut length = 0;
                    loop {
                        let mut h = String::new();
                        reader.read_line(&mut h).unwrap();
                        if h.trim().is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':')
                            && k.eq_ignore_ascii_case("content-length")
                        {
                            length = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let path_only = path.split('?').next().unwrap_or("").to_string();
                    seen.lock().unwrap().push((method.clone(), path_only.clone(), String::from_utf8(body).unwrap()));
                    let (status, reply) = match (method.as_str(), path_only.as_str()) {
                        ("GET", "/api/v1/namespaces/analytics/pods/spindle-driver-7d9f8") => ("200 OK", DRIVER_POD),
                        ("POST", "/api/v1/namespaces/analytics/pods") => ("201 Created", CREATED),
                        ("DELETE", "/api/v1/namespaces/analytics/pods/spindle-driver-7d9f8-exec-1") => {
                            ("200 OK", DELETED)
                        }
                        _ => ("404 Not Found", NOT_FOUND),
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        reply.len()
                    );
                    out.write_all(head.as_bytes()).unwrap();
                    out.write_all(reply.as_bytes()).unwrap();
                }
            });
        }
    });
    (url, requests)
}

fn settings() -> PodSettings {
    PodSettings {
        namespace: "analytics".into(),
        image: "registry.example.com/spindle:0.1".into(),
        image_pull_policy: "IfNotPresent".into(),
        service_account: Some("spindle-executor".into()),
        cpu: Some("2".into()),
        memory: Some("4Gi".into()),
        labels: [("team".to_string(), "data".to_string())].into(),
        node_selector: [("pool".to_string(), "batch".to_string())].into(),
        secret: Some(("spindle".into(), "secret".into())),
        executor_port: 7078,
        driver_pod: Some("spindle-driver-7d9f8".into()),
    }
}

#[tokio::test]
async fn executor_pods_are_created_owned_by_the_driver_pod_and_deleted_on_release() {
    let (url, requests) = api_server();
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let launcher = PodLauncher::with_client(settings(), client);
    let launch = Launch {
        id: "launch-1".into(),
        driver_url: "http://spindle-driver.analytics.svc:7077".into(),
        slots: 4,
        args: vec!["--max-task-memory".into(), "1GiB".into()],
    };
    launcher.launch(&launch).await.unwrap();
    launcher.release("launch-1").await.unwrap();
    // A pod already gone is released without error.
    launcher.release("launch-2").await.unwrap();

    let requests = requests.lock().unwrap().clone();
    let calls: Vec<(&str, &str)> = requests.iter().map(|(m, p, _)| (m.as_str(), p.as_str())).collect();
    assert_eq!(
        calls,
        [
            ("GET", "/api/v1/namespaces/analytics/pods/spindle-driver-7d9f8"),
            ("POST", "/api/v1/namespaces/analytics/pods"),
            ("DELETE", "/api/v1/namespaces/analytics/pods/spindle-driver-7d9f8-exec-1"),
            ("DELETE", "/api/v1/namespaces/analytics/pods/spindle-driver-7d9f8-exec-2"),
        ]
    );
    let sent: serde_json::Value = serde_json::from_str(&requests[1].2).unwrap();
    let expected = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "spindle-driver-7d9f8-exec-1",
            "namespace": "analytics",
            "labels": {
                "app.kubernetes.io/name": "spindle",
                "app.kubernetes.io/component": "executor",
                "spindle.dev/driver": "spindle-driver-7d9f8",
                "spindle.dev/launch": "launch-1",
                "team": "data"
            },
            "ownerReferences": [{
                "apiVersion": "v1", "kind": "Pod", "name": "spindle-driver-7d9f8",
                "uid": "3f2c6a1e-9b7d-4c55-8e0a-2d41f6b0c9aa", "controller": true, "blockOwnerDeletion": true
            }]
        },
        "spec": {
            "restartPolicy": "Never",
            "serviceAccountName": "spindle-executor",
            "nodeSelector": {"pool": "batch"},
            "containers": [{
                "name": "executor",
                "image": "registry.example.com/spindle:0.1",
                "imagePullPolicy": "IfNotPresent",
                "args": [
                    "executor", "--driver", "http://spindle-driver.analytics.svc:7077", "--slots", "4",
                    "--launch-id", "launch-1", "--max-task-memory", "1GiB",
                    "--listen", "0.0.0.0:7078", "--advertise-host", "$(SPINDLE_POD_IP)"
                ],
                "env": [
                    {"name": "SPINDLE_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "SPINDLE_SECRET", "valueFrom": {"secretKeyRef": {"name": "spindle", "key": "secret"}}}
                ],
                "ports": [{"name": "executor", "containerPort": 7078}],
                "resources": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}}
            }]
        }
    });
    assert_eq!(sent, expected, "the pod spec sent:\n{}", serde_json::to_string_pretty(&sent).unwrap());
}

#[test]
fn pod_names_are_valid_dns_labels() {
    let long = "a".repeat(80);
    let name = pod_name(&long, "launch-123");
    assert!(name.len() <= 63 && name.ends_with("-exec-123"), "{name}");
    assert_eq!(pod_name("Spindle_Driver", "launch-7"), "spindle-driver-exec-7");
    let f: PodFile = toml::from_str("image = \"spindle:1\"\nimage_pull_policy = \"Sometimes\"").unwrap();
    assert!(PodSettings::from_file(Some(&f)).unwrap_err().contains("Always, IfNotPresent or Never"));
}
