//! `doctor --inspect-proxies` against fake clusters whose `pods/portforward` leads to fake
//! Envoy admin servers serving `fixtures/proxies/CASE/POD` (Envoy's real document formats).

use std::path::Path;

use serde_json::Value;

use checks::engine::Options;
use checks::model::{ClusterTls, ProxyObservation, ProxyRole, ProxyState, Side, Snapshot};

use crate::common::{Run, copy_fixture, istio_peer_async as run, root, with_code};
use crate::fake_api::Behaviour;
use crate::fake_envoy::FakeEnvoy;
use crate::live::{Clusters, clusters_at, live_args};

/// The pods of the healthy scenario the inspector reaches: (pod, mesh).
const PODS: &[(&str, &str)] = &[
    ("frontend-0", "client"),
    ("istio-eastwestgateway-0", "server"),
    ("api-0", "server"),
];

struct Rig {
    clusters: Clusters,
    envoys: Vec<(&'static str, FakeEnvoy)>,
}

impl Rig {
    fn envoy(&self, pod: &str) -> &FakeEnvoy {
        &self
            .envoys
            .iter()
            .find(|(p, _)| *p == pod)
            .expect("an envoy per pod")
            .1
    }
}

/// Fake clusters for the healthy scenario; each pod's admin port is a fake Envoy serving the
/// case's documents. `client`/`server` add misbehaviour.
async fn rig(case: &str, client: Behaviour, server: Behaviour) -> Rig {
    rig_at(
        &root().join("fixtures/scenarios/healthy"),
        case,
        client,
        server,
    )
    .await
}

/// [`rig`] with well-behaved fake API servers.
async fn plain_rig(case: &str) -> Rig {
    rig(case, Behaviour::default(), Behaviour::default()).await
}

async fn rig_at(scenario: &Path, case: &str, mut client: Behaviour, mut server: Behaviour) -> Rig {
    let mut envoys = Vec::new();
    for (pod, mesh) in PODS {
        let envoy = FakeEnvoy::start(&root().join("fixtures/proxies").join(case).join(pod)).await;
        let target = if *mesh == "client" {
            &mut client
        } else {
            &mut server
        };
        if !target.port_forward_pods.iter().any(|(p, _)| p == pod) {
            target.port_forward_pods.push((pod.to_string(), envoy.addr));
        }
        envoys.push((*pod, envoy));
    }
    // Further replicas of a Deployment share its first pod's documents.
    for (behaviour, first) in [(&mut client, "frontend-0"), (&mut server, "api-0")] {
        behaviour.port_forward_to = envoys
            .iter()
            .find(|(p, _)| *p == first)
            .map(|(_, e)| e.addr);
    }
    Rig {
        clusters: clusters_at(scenario, client, server).await,
        envoys,
    }
}

async fn inspect(rig: &Rig, extra: &[&str]) -> Run {
    let mut args = vec!["--inspect-proxies", "--inspect-interval", "0.3"];
    args.extend_from_slice(extra);
    run(live_args(&rig.clusters.kubeconfig, &args)).await
}

/// The pod a finding's evidence names.
fn cites_pod(finding: &Value, namespace: &str, pod: &str, context: &str) -> bool {
    finding["evidence"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| {
            e["kind"] == "Pod"
                && e["namespace"] == namespace
                && e["name"] == pod
                && e["cluster"] == context
        })
}

const PROXY_CODES: &[&str] = &["T008", "I005", "C002", "L009", "L010", "E001"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistent_proxies_add_no_finding_and_only_read_endpoints_are_requested() {
    let rig = plain_rig("consistent").await;
    let out = inspect(&rig, &[]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = out.json();
    for code in PROXY_CODES {
        assert!(
            with_code(&report, code).is_empty(),
            "{code}: {}",
            out.stdout
        );
    }
    // Every pod was read, with what the admin API said.
    let proxies = report["proxies"].as_array().expect("proxies in the report");
    let pods: Vec<&str> = proxies.iter().filter_map(|p| p["pod"].as_str()).collect();
    assert_eq!(pods.len(), 3, "{pods:?}");
    let frontend = proxies
        .iter()
        .find(|p| p["pod"] == "frontend-0")
        .expect("frontend");
    assert_eq!(frontend["role"], "client-workload");
    assert_eq!(
        frontend["state"]["clusters"][0]["name"], "outbound|8080||api.payments.mesh-b.global",
        "only the route's cluster is kept"
    );
    assert_eq!(
        frontend["state"]["clusters"].as_array().map(Vec::len),
        Some(1)
    );
    // Read-only: GETs to /certs, /config_dump (clusters only, for clients) and /stats.
    for (pod, envoy) in &rig.envoys {
        let requests = envoy.requests();
        assert!(
            requests.iter().any(|r| r == "GET /certs"),
            "{pod}: {requests:?}"
        );
        assert_eq!(
            requests
                .iter()
                .filter(|r| *r == "GET /stats?filter=ssl")
                .count(),
            2,
            "{pod}: two counter samples: {requests:?}"
        );
        let dumps = requests
            .iter()
            .filter(|r| r.starts_with("GET /config_dump"))
            .count();
        assert_eq!(
            dumps,
            usize::from(*pod == "frontend-0"),
            "{pod}: {requests:?}"
        );
        for r in &requests {
            assert!(r.starts_with("GET /"), "{pod}: {r}");
        }
    }
    // The API servers saw only GETs (port-forwards are WebSocket GETs too).
    for api in [&rig.clusters.client, &rig.clusters.server] {
        assert!(api.requests().iter().all(|r| r.method == "GET"));
        assert!(
            api.requests()
                .iter()
                .any(|r| r.path_and_query.contains("/portforward"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_holding_an_old_root_is_t008_with_the_pod_to_restart() {
    let rig = plain_rig("stale-root").await;
    let out = inspect(&rig, &[]).await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    let report = out.json();
    let t008 = with_code(&report, "T008");
    assert_eq!(t008.len(), 1, "{}", out.stdout);
    let f = t008[0];
    assert_eq!(f["mesh"], "client");
    assert!(cites_pod(f, "shop", "frontend-0", "mesh-a"), "{f}");
    assert!(
        f["message"]
            .as_str()
            .unwrap_or("")
            .contains("shop/frontend-0")
    );
    assert!(
        f["fix"]["command"]
            .as_str()
            .unwrap_or("")
            .contains("kubectl --context mesh-a -n shop rollout restart deployment/frontend"),
        "{f}"
    );
    // B's api sidecar exposes no ssl counters (Istio's default): said once, as info. The
    // passthrough gateway counts no handshake anyway and is not mentioned.
    let silent = with_code(&report, "L010");
    assert_eq!(silent.len(), 1, "{}", out.stdout);
    assert_eq!(silent[0]["severity"], "info");
    assert!(cites_pod(silent[0], "payments", "api-0", "mesh-b"));
    assert!(!cites_pod(
        silent[0],
        "istio-system",
        "istio-eastwestgateway-0",
        "mesh-b"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_in_the_old_trust_domain_is_i005() {
    let rig = plain_rig("trust-domain-migration").await;
    let out = inspect(&rig, &[]).await;
    let report = out.json();
    let i005 = with_code(&report, "I005");
    assert_eq!(i005.len(), 1, "{}", out.stdout);
    let f = i005[0];
    assert_eq!(f["mesh"], "client");
    assert!(
        f["message"]
            .as_str()
            .unwrap_or("")
            .contains("`old-a.local`"),
        "{f}"
    );
    assert!(cites_pod(f, "shop", "frontend-0", "mesh-a"));
    // A warning: the gate passes, the finding is there.
    assert_eq!(out.code, 0, "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drifted_san_list_is_l009_on_the_route() {
    let rig = plain_rig("san-drift").await;
    let out = inspect(&rig, &[]).await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    let report = out.json();
    let l009 = with_code(&report, "L009");
    assert_eq!(l009.len(), 1, "{}", out.stdout);
    let f = l009[0];
    assert_eq!(f["route"], "shop → api.payments.mesh-b.global:8080");
    let message = f["message"].as_str().unwrap_or("");
    assert!(
        message.contains("verifies SANs [spiffe://mesh-b.local/ns/payments/sa/api-legacy] instead of [spiffe://mesh-b.local/ns/payments/sa/api]"),
        "{message}"
    );
    assert!(!message.contains("SNI"), "the SNI did not drift: {message}");
    assert!(cites_pod(f, "shop", "frontend-0", "mesh-a"));
    assert_eq!(f["root_cause"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rising_counters_say_which_side_rejects_whom() {
    let rig = plain_rig("failing-counters").await;
    let out = inspect(&rig, &[]).await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    let report = out.json();
    let l010 = with_code(&report, "L010");
    assert_eq!(l010.len(), 2, "{}", out.stdout);
    let server = l010
        .iter()
        .find(|f| f["mesh"] == "server")
        .expect("B's side");
    let message = server["message"].as_str().unwrap_or("");
    assert!(
        message.contains("ssl.fail_verify_error 57 (+8"),
        "{message}"
    );
    assert!(
        message.contains("rejects the clients' certificates"),
        "{message}"
    );
    assert_eq!(server["severity"], "error");
    assert!(cites_pod(server, "payments", "api-0", "mesh-b"));
    let client = l010
        .iter()
        .find(|f| f["mesh"] == "client")
        .expect("A's side");
    let message = client["message"].as_str().unwrap_or("");
    assert!(message.contains("ssl.connection_error 57 (+8"), "{message}");
    assert!(
        message.contains("the server rejects the client's certificate"),
        "{message}"
    );
    assert_eq!(client["route"], "shop → api.payments.mesh-b.global:8080");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_past_renewal_is_c002_and_a_fresh_one_is_not() {
    let rig = plain_rig("renewal-overdue").await;
    let out = inspect(&rig, &[]).await;
    let report = out.json();
    let c002 = with_code(&report, "C002");
    // Only the frontend: the other pods' 24-hour certificates are at half-life, as Istio
    // keeps them, though they too expire within the 30-day window.
    assert_eq!(c002.len(), 1, "{}", out.stdout);
    assert!(cites_pod(c002[0], "shop", "frontend-0", "mesh-a"));
    assert!(
        c002[0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("not renewed")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_port_forward_and_dead_admin_port_are_e001_and_the_rest_stands() {
    let forbidden = Behaviour {
        forbidden: vec!["pods/portforward".into()],
        ..Behaviour::default()
    };
    // A's frontend: the port-forward lands on a closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = closed.local_addr().expect("addr");
    drop(closed);
    let client = Behaviour {
        port_forward_pods: vec![("frontend-0".into(), dead)],
        ..Behaviour::default()
    };
    let rig = rig("stale-root", client, forbidden).await;
    let out = inspect(&rig, &[]).await;
    let report = out.json();
    let e001 = with_code(&report, "E001");
    let server = e001
        .iter()
        .find(|f| f["mesh"] == "server")
        .expect("B's E001");
    let yaml = server["fix"]["yaml"].as_str().unwrap_or("");
    assert!(
        yaml.contains("pods/portforward") && yaml.contains("create"),
        "{server}"
    );
    assert!(
        server["message"]
            .as_str()
            .unwrap_or("")
            .contains("forbidden")
    );
    let client = e001
        .iter()
        .find(|f| f["mesh"] == "client")
        .expect("A's E001");
    assert!(
        client["message"]
            .as_str()
            .unwrap_or("")
            .contains("admin port of pod shop/frontend-0"),
        "{client}"
    );
    // Nothing was read, so the stale root cannot be seen; everything else is the healthy
    // report, and nothing fails: inconclusive.
    assert!(with_code(&report, "T008").is_empty());
    assert!(report["proxies"].as_array().is_none_or(Vec::is_empty));
    assert_eq!(out.code, 3, "{}", out.stdout);
    assert!(rig.envoy("api-0").requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_limit_bounds_pods_per_workload_and_offline_is_a_usage_error() {
    let scenario = tempfile::tempdir().expect("tempdir");
    let healthy = root().join("fixtures/scenarios/healthy");
    copy_fixture(
        &healthy.join("server"),
        &scenario.path().join("server"),
        |t| t,
    );
    copy_fixture(
        &healthy.join("client"),
        &scenario.path().join("client"),
        |text| {
            text.replace(
                "  replicas: 1\n  selector:\n    matchLabels:\n      app: frontend",
                "  replicas: 5\n  selector:\n    matchLabels:\n      app: frontend",
            )
        },
    );
    let rig = rig_at(
        scenario.path(),
        "consistent",
        Behaviour::default(),
        Behaviour::default(),
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let table = dir.path().join("report.txt");
    let table_arg = format!("table={}", table.display());
    let out = inspect(&rig, &["--inspect-limit", "2", "-o", &table_arg]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let client_pods: Vec<String> = out.json()["proxies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["mesh"] == "client")
        .filter_map(|p| p["pod"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        client_pods,
        ["frontend-0", "frontend-1"],
        "5 replicas, limit 2"
    );
    let text = std::fs::read_to_string(&table).expect("table written");
    assert!(text.contains("Running proxies"), "{text}");
    assert!(
        text.contains("cluster outbound|8080||api.payments.mesh-b.global: ISTIO_MUTUAL"),
        "{text}"
    );
    let dir = root().join("fixtures/scenarios/healthy");
    let offline = run(vec![
        "doctor".into(),
        "--client".into(),
        dir.join("client").display().to_string(),
        "--server".into(),
        dir.join("server").display().to_string(),
        "--inspect-proxies".into(),
    ])
    .await;
    assert_eq!(offline.code, 2);
    assert!(
        offline.stderr.contains("--client-context"),
        "{}",
        offline.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_from_an_admin_port_is_e001_naming_the_endpoint() {
    let case = tempfile::tempdir().expect("tempdir");
    for (pod, _) in PODS {
        let dir = case.path().join(pod);
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("certs.json"), b"\xff\xfe not json {").expect("write");
        std::fs::write(dir.join("stats.txt"), "listener.x.ssl.handshake: 1\n").expect("write");
    }
    let case_dir = case.path().display().to_string();
    let rig = plain_rig(&case_dir).await;
    let out = inspect(&rig, &[]).await;
    let report = out.json();
    let e001 = with_code(&report, "E001");
    assert!(!e001.is_empty(), "{}", out.stdout);
    for f in e001 {
        assert!(
            f["message"]
                .as_str()
                .unwrap_or("")
                .contains("GET /certs: not JSON"),
            "{f}"
        );
    }
    assert_eq!(out.code, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_in_a_proxy_is_c001() {
    let rig = plain_rig("expired-leaf").await;
    let out = inspect(&rig, &[]).await;
    let report = out.json();
    let c001 = with_code(&report, "C001");
    assert_eq!(c001.len(), 1, "{}", out.stdout);
    assert!(cites_pod(c001[0], "shop", "frontend-0", "mesh-a"));
    assert!(
        with_code(&report, "C002").is_empty(),
        "expired is not expiring"
    );
    assert_eq!(out.code, 1);
}

/// A mesh read from a directory, in process.
fn mesh_from(dir: &Path, name: &str) -> checks::model::Mesh {
    let mut builder = checks::model::MeshBuilder::new(name);
    let mut texts = istio_peer::load::SourceTexts::default();
    istio_peer::load::load_paths(&[dir.to_path_buf()], &mut builder, &mut texts)
        .expect("fixture readable");
    builder.finish()
}

/// What the frontend's proxy would hold for the route's cluster.
fn frontend_with_cluster(route: &str, cluster: ClusterTls) -> ProxyObservation {
    ProxyObservation {
        mesh: Side::Client,
        context: "mesh-a".into(),
        namespace: "shop".into(),
        pod: "frontend-0".into(),
        role: ProxyRole::ClientWorkload,
        workload: "Deployment shop/frontend".into(),
        routes: vec![route.into()],
        ports: Vec::new(),
        state: ProxyState {
            roots: Vec::new(),
            certificates: Vec::new(),
            clusters: vec![cluster],
            counters: Vec::new(),
            ssl_stats_exposed: None,
            sample_millis: 0,
        },
    }
}

/// L009 on a MUTUAL route: Istio leaves the SNI to Envoy's auto_sni unless the
/// DestinationRule sets one, so an empty SNI is drift only when `tls.sni` is set.
#[test]
fn l009_leaves_sni_to_auto_sni_unless_the_destination_rule_sets_one() {
    let explicit = root().join("fixtures/scenarios/alpn-missing");
    let implicit = tempfile::tempdir().expect("tempdir");
    copy_fixture(
        &explicit.join("client"),
        &implicit.path().join("client"),
        |t| {
            t.replace(
                "      sni: outbound_.8080_._.api.payments.svc.cluster.local\n",
                "",
            )
        },
    );
    copy_fixture(
        &explicit.join("server"),
        &implicit.path().join("server"),
        |t| t,
    );
    for (dir, sni_is_drift) in [(explicit.as_path(), true), (implicit.path(), false)] {
        let mut snapshot = Snapshot {
            at: checks::time::Timestamp::parse_rfc3339(crate::live::AT).expect("at"),
            expiry_warning_days: 30,
            client: mesh_from(&dir.join("client"), "A"),
            server: mesh_from(&dir.join("server"), "B"),
            hosts: Vec::new(),
            probes: Vec::new(),
            proxies: Vec::new(),
        };
        let report = checks::engine::run(&snapshot, &Options::default());
        let route = &report.routes[0];
        assert_eq!(route.tls_mode, "MUTUAL");
        let mut sans = route.expected_sans.clone();
        sans.sort();
        snapshot.proxies = vec![frontend_with_cluster(
            &route.id,
            ClusterTls {
                name: format!("outbound|{}||{}", route.port, route.host),
                mode: "MUTUAL".into(),
                auto: false,
                sni: None,
                sans,
                alpn: Vec::new(),
                client_certificate: Some(
                    "file-cert:/etc/certs/cert-chain.pem~/etc/certs/key.pem".into(),
                ),
            },
        )];
        let report = checks::engine::run(&snapshot, &Options::default());
        let l009: Vec<&str> = report
            .findings
            .iter()
            .filter(|f| f.code == "L009")
            .map(|f| f.message.as_str())
            .collect();
        assert_eq!(
            !l009.is_empty(),
            sni_is_drift,
            "{}: {l009:?}",
            dir.display()
        );
        if sni_is_drift {
            assert!(l009[0].contains("SNI (none) instead of"), "{l009:?}");
        }
    }
}

/// L009 with auto-mTLS: no DestinationRule TLS, so Istio builds `tlsMode=istio` matches and
/// TLS is decided per endpoint. The model judged the endpoints (plaintext: R002); a cluster
/// with auto matches is what Istio builds then, not drift.
#[test]
fn l009_leaves_per_endpoint_tls_to_the_model() {
    let healthy = root().join("fixtures/scenarios/healthy");
    let dir = tempfile::tempdir().expect("tempdir");
    copy_fixture(&healthy.join("client"), &dir.path().join("client"), |t| {
        t.split("---\n")
            .filter(|doc| !doc.contains("kind: DestinationRule"))
            .collect::<Vec<_>>()
            .join("---\n")
            .replace("      security.istio.io/tlsMode: istio\n", "")
    });
    copy_fixture(&healthy.join("server"), &dir.path().join("server"), |t| t);
    let mut snapshot = Snapshot {
        at: checks::time::Timestamp::parse_rfc3339(crate::live::AT).expect("at"),
        expiry_warning_days: 30,
        client: mesh_from(&dir.path().join("client"), "A"),
        server: mesh_from(&dir.path().join("server"), "B"),
        hosts: Vec::new(),
        probes: Vec::new(),
        proxies: Vec::new(),
    };
    let report = checks::engine::run(&snapshot, &Options::default());
    let route = &report.routes[0];
    assert_eq!(route.tls_mode, "DISABLE");
    assert!(report.findings.iter().any(|f| f.code == "R002"));
    let auto = |auto: bool| ClusterTls {
        name: format!("outbound|{}||{}", route.port, route.host),
        mode: "ISTIO_MUTUAL".into(),
        auto,
        sni: Some(format!("outbound_.{}_._.{}", route.port, route.host)),
        sans: Vec::new(),
        alpn: vec!["istio-peer-exchange".into(), "istio".into()],
        client_certificate: Some("default".into()),
    };
    let l009 = |cluster: ClusterTls, snapshot: &mut Snapshot| {
        snapshot.proxies = vec![frontend_with_cluster(&route.id, cluster)];
        checks::engine::run(snapshot, &Options::default())
            .findings
            .iter()
            .filter(|f| f.code == "L009")
            .map(|f| f.message.clone())
            .collect::<Vec<_>>()
    };
    assert!(l009(auto(true), &mut snapshot).is_empty());
    // TLS for every endpoint, whatever their labels: that is drift from plaintext.
    let forced = l009(auto(false), &mut snapshot);
    assert!(
        forced
            .iter()
            .any(|m| m.contains("TLS mode ISTIO_MUTUAL instead of DISABLE")),
        "{forced:?}"
    );
}
