//! The live path against HTTPS fake API servers: kube runs for real over TLS with a real
//! kubeconfig holding two contexts (two clusters).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{istio_peer_async as run, root};
use crate::fake_api::{Behaviour, FakeApi, Pki, kubeconfig};

pub const AT: &str = "2027-06-01T00:00:00Z";

/// Two fake clusters serving a scenario's client/ and server/ objects, and a kubeconfig.
pub struct Clusters {
    pub client: FakeApi,
    pub server: FakeApi,
    pub kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

pub async fn clusters(scenario: &str, client: Behaviour, server: Behaviour) -> Clusters {
    clusters_at(
        &root().join("fixtures/scenarios").join(scenario),
        client,
        server,
    )
    .await
}

/// Two fake clusters serving `dir`'s client/ and server/ objects.
pub async fn clusters_at(dir: &Path, client: Behaviour, server: Behaviour) -> Clusters {
    let _ = install_provider();
    let pki = Pki::new();
    let client = FakeApi::start(&pki, &dir.join("client"), client).await;
    let server = FakeApi::start(&pki, &dir.join("server"), server).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("kubeconfig");
    let config = kubeconfig(
        &pki,
        &[
            ("mesh-a", client.addr, &client.token),
            ("mesh-b", server.addr, &server.token),
        ],
    );
    std::fs::write(&path, config).expect("write kubeconfig");
    Clusters {
        client,
        server,
        kubeconfig: path,
        _dir: tmp,
    }
}

fn install_provider() -> Result<(), ()> {
    #[allow(deprecated)]
    rustls::crypto::ring::default_provider()
        .install_default()
        .map_err(|_| ())
}

pub fn live_args(kubeconfig: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "doctor",
        "--client-context",
        "mesh-a",
        "--server-context",
        "mesh-b",
        "--kubeconfig",
        kubeconfig.to_str().unwrap_or_default(),
        "--at",
        AT,
        "-o",
        "json",
        "--client-name",
        "A",
        "--server-name",
        "B",
        // Probes would dial the fixtures' documentation addresses (203.0.113.0/24): never.
        "--no-probe",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn offline_args(client: &Path, server: &Path) -> Vec<String> {
    [
        "doctor",
        "--client",
        client.to_str().unwrap_or_default(),
        "--server",
        server.to_str().unwrap_or_default(),
        "--at",
        AT,
        "-o",
        "json",
        "--client-name",
        "A",
        "--server-name",
        "B",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// What must be equal between two runs: everything but where evidence came from.
fn comparable(report: &Value) -> Value {
    let findings: Vec<Value> = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            serde_json::json!({
                "code": f["code"], "severity": f["severity"], "mesh": f["mesh"], "route": f["route"],
                "message": f["message"], "root_cause": f["root_cause"], "caused_by": f["caused_by"],
            })
        })
        .collect();
    let routes: Vec<Value> = report["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| serde_json::json!({"id": r["id"], "topology": r["topology"], "verdict": r["verdict"], "sni": r["sni"], "root_causes": r["root_causes"]}))
        .collect();
    serde_json::json!({"verdict": report["verdict"], "findings": findings, "routes": routes})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_findings_equal_offline_findings_and_only_get_is_sent() {
    for scenario in [
        "split-roots-self-signed",
        "gateway-credential-untrusted-client",
        "authz-denies-client",
        "sni-not-routable",
    ] {
        let paged = Behaviour {
            max_page: 1,
            ..Behaviour::default()
        };
        let c = clusters(scenario, paged.clone(), paged).await;
        let live = run(live_args(&c.kubeconfig, &[])).await;
        let dir = root().join("fixtures/scenarios").join(scenario);
        let offline = run(offline_args(&dir.join("client"), &dir.join("server"))).await;
        assert_eq!(
            live.code, offline.code,
            "{scenario}: exit codes differ\n{}",
            live.stderr
        );
        assert_eq!(
            comparable(&live.json()),
            comparable(&offline.json()),
            "{scenario}: live and offline differ"
        );
        assert!(
            live.json()["findings"]
                .as_array()
                .is_some_and(|f| !f.is_empty()),
            "{scenario}: a failing scenario"
        );
        for fake in [&c.client, &c.server] {
            let requests = fake.requests();
            assert!(!requests.is_empty());
            let writes: Vec<_> = requests.iter().filter(|r| r.method != "GET").collect();
            assert!(writes.is_empty(), "non-GET requests: {writes:?}");
            assert!(
                requests
                    .iter()
                    .any(|r| r.path_and_query.contains("continue=")),
                "pagination was not followed"
            );
            assert!(
                !requests
                    .iter()
                    .any(|r| r.path_and_query.starts_with("/api/v1/secrets?")
                        && !r.path_and_query.contains("labelSelector")),
                "Secrets must not be listed wholesale"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_secrets_are_e001_naming_the_rbac_rule() {
    let denied = || Behaviour {
        forbidden: vec!["secrets".into()],
        ..Behaviour::default()
    };
    let c = clusters("healthy", Behaviour::default(), denied()).await;
    let run1 = run(live_args(&c.kubeconfig, &[])).await;
    if std::env::var_os("SHOW").is_some() {
        let args = live_args(&c.kubeconfig, &["--verbose"])
            .into_iter()
            .map(|a| if a == "json" { "table".to_string() } else { a })
            .collect();
        let table = run(args).await;
        eprintln!("{}\n{}", table.stdout, table.stderr);
    }
    assert_eq!(
        run1.code, 3,
        "nothing failed, something unreadable: inconclusive\n{}",
        run1.stdout
    );
    let report = run1.json();
    let e001: Vec<&Value> = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["code"] == "E001")
        .collect();
    assert!(!e001.is_empty());
    let text = serde_json::to_string(&e001).unwrap_or_default();
    assert!(
        text.contains("needs RBAC `get` on `secrets` `cacerts`"),
        "{text}"
    );
    assert!(
        text.contains("kind: Role"),
        "the fix is a Role to apply: {text}"
    );
    assert!(text.contains("in namespace istio-system"), "{text}");
    assert_eq!(report["verdict"], "inconclusive");

    // With a real failure as well, the run fails (exit 1).
    let c = clusters("authz-denies-client", Behaviour::default(), denied()).await;
    let run2 = run(live_args(&c.kubeconfig, &[])).await;
    assert_eq!(run2.code, 1, "{}", run2.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absent_istio_crds_are_reported_not_a_crash() {
    let no_istio = Behaviour {
        missing_groups: vec!["networking.istio.io".into(), "security.istio.io".into()],
        ..Behaviour::default()
    };
    let c = clusters("healthy", Behaviour::default(), no_istio).await;
    let out = run(live_args(&c.kubeconfig, &[])).await;
    let text = out.stdout.clone();
    assert!(
        text.contains("Istio not installed or its CRDs are absent"),
        "{text}\n{}",
        out.stderr
    );
    assert!(matches!(out.code, 1 | 3), "{}", out.code);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_slow_cluster_is_e001_within_the_timeout() {
    let slow = Behaviour {
        delay: Some(Duration::from_secs(30)),
        ..Behaviour::default()
    };
    let c = clusters("healthy", Behaviour::default(), slow).await;
    let started = Instant::now();
    let out = run(live_args(&c.kubeconfig, &["--timeout", "2"])).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(15),
        "took {elapsed:?} with --timeout 2"
    );
    assert_eq!(out.code, 3, "{}", out.stdout);
    assert!(out.stdout.contains("cluster `mesh-b`"), "{}", out.stdout);

    // Nothing listening at all.
    let pki = Pki::new();
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("kubeconfig");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    std::fs::write(
        &path,
        kubeconfig(
            &pki,
            &[
                ("mesh-a", c.client.addr, &c.client.token),
                ("mesh-b", closed, "t"),
            ],
        ),
    )
    .expect("write");
    let out = run(live_args(&path, &["--timeout", "5"])).await;
    assert_eq!(out.code, 3, "{}", out.stdout);
    assert!(out.stdout.contains("cluster `mesh-b`"), "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_round_trip_gives_identical_findings_and_holds_no_private_key() {
    for scenario in ["ca-bundle-invalid", "gateway-credential-untrusted-client"] {
        let c = clusters(scenario, Behaviour::default(), Behaviour::default()).await;
        let tmp = tempfile::tempdir().expect("tempdir");
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        for (ctx, dir) in [("mesh-a", &a), ("mesh-b", &b)] {
            let out = run(vec![
                "snapshot".into(),
                "--context".into(),
                ctx.into(),
                "--kubeconfig".into(),
                c.kubeconfig.to_string_lossy().into_owned(),
                "-o".into(),
                dir.to_string_lossy().into_owned(),
            ])
            .await;
            assert_eq!(out.code, 0, "snapshot {ctx}: {}", out.stderr);
            assert!(dir.join("snapshot.json").is_file());
        }
        let live = run(live_args(&c.kubeconfig, &[])).await;
        let offline = run(offline_args(&a, &b)).await;
        assert_eq!(
            comparable(&live.json()),
            comparable(&offline.json()),
            "{scenario}: snapshot differs from live"
        );
        for dir in [&a, &b] {
            for file in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let text = std::fs::read_to_string(file.path()).unwrap_or_default();
                assert!(
                    !text.contains("PRIVATE KEY"),
                    "{} holds a PEM key",
                    file.path().display()
                );
                // base64 of "-----BEGIN": any base64-encoded PEM key would start with it.
                assert!(
                    !text.contains("LS0tLS1CRUdJTiBQUklWQVRF")
                        && !text.contains("LS0tLS1CRUdJTiBFQyBQUklWQVRF"),
                    "{} holds an encoded key",
                    file.path().display()
                );
            }
        }
    }
}

#[test]
fn readme_rbac_covers_every_listed_resource() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap_or_default();
    let start = readme
        .find("name: istio-peer-reader")
        .expect("README shows the ClusterRole");
    let role = &readme[start..];
    for (group, resource) in istio_peer::live::listed_resources() {
        let group_line = format!("apiGroups: [\"{group}\"]");
        let at = role
            .find(&group_line)
            .unwrap_or_else(|| panic!("README ClusterRole lacks group `{group}`"));
        let rule = &role[at..];
        let rule = &rule[..rule[1..].find("- apiGroups").map_or(rule.len(), |e| e + 1)];
        let listed = rule.contains(&format!("\"{resource}\""))
            || role.matches(&group_line).count() > 1 && role.contains(&format!("\"{resource}\""));
        assert!(
            listed,
            "README ClusterRole lacks `list` on {resource} ({group})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "manual: serves a fake cluster for 40 s (kubectl experiments)"]
async fn serve_fake_cluster_for_manual_use() {
    let c = clusters("healthy", Behaviour::default(), Behaviour::default()).await;
    let keep = std::env::temp_dir().join("istio-peer-fake-kubeconfig");
    std::fs::copy(&c.kubeconfig, &keep).expect("copy");
    eprintln!("kubeconfig at {}", keep.display());
    tokio::time::sleep(Duration::from_secs(40)).await;
}
