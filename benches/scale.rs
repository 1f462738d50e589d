//! Scale benchmark: generated pairs of meshes at 1k, 10k and 100k objects per mesh.
//!
//! `cargo bench --bench scale [-- --sizes 1000,10000,100000] [--skip-live] [--skip-probes]`
//!
//! For each size it measures the release binary (wall time, CPU time and peak RSS of the child
//! process, plus the load and analysis phases from `--timings`): offline `doctor`, and live
//! `doctor --no-probe` against the fake API server of the tests serving the same objects,
//! compared in the same run with the sequential `kubectl get <kind> -A -o json` an engineer
//! would type (when kubectl is installed). Then 100 routes are probed against a local TLS
//! server. Results print as a Markdown table and go to `target/bench/results.md`.

#[path = "../tests/fake_api/mod.rs"]
#[allow(dead_code)]
mod fake_api;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Objects generated per namespace (see `namespace_objects`).
const PER_NAMESPACE: usize = 8;

struct Measurement {
    wall: Duration,
    cpu: Duration,
    max_rss_kib: i64,
    stderr: String,
    code: i32,
}

impl Measurement {
    fn phase(&self, name: &str) -> Option<u64> {
        let line = self.stderr.lines().find(|l| l.starts_with("timings:"))?;
        let field = line
            .split_whitespace()
            .find(|w| w.starts_with(&format!("{name}=")))?;
        field.split('=').nth(1)?.trim_end_matches("ms").parse().ok()
    }
}

/// Runs a command and measures it: peak RSS (`VmHWM`) and CPU time (`utime + stime`) are
/// sampled from `/proc/<pid>` until the child exits (no unsafe `wait4` needed).
fn measure(program: &Path, args: &[String]) -> Measurement {
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let stderr_pipe = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = stderr_pipe {
            use std::io::Read;
            let _ = pipe.read_to_string(&mut text);
        }
        text
    });
    let ticks = 100.0; // USER_HZ on Linux
    let (mut max_rss_kib, mut cpu) = (0i64, Duration::ZERO);
    let status = loop {
        if let Ok(text) = fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(hwm) = text.lines().find(|l| l.starts_with("VmHWM:"))
        {
            max_rss_kib = max_rss_kib.max(
                hwm.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            );
        }
        if let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) {
            let after_name = stat.rsplit(')').next().unwrap_or("");
            let fields: Vec<&str> = after_name.split_whitespace().collect();
            let utime: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
            let stime: f64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
            cpu = cpu.max(Duration::from_secs_f64((utime + stime) / ticks));
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("wait: {e}"),
        }
    };
    Measurement {
        wall: started.elapsed(),
        cpu,
        max_rss_kib,
        stderr: reader.join().unwrap_or_default(),
        code: status.code().unwrap_or(-1),
    }
}

fn release_binary() -> PathBuf {
    let status = Command::new("cargo")
        .args(["build", "--release", "--quiet", "--bin", "istio-peer"])
        .current_dir(ROOT)
        .status()
        .expect("cargo build");
    assert!(status.success(), "release build failed");
    Path::new(ROOT).join("target/release/istio-peer")
}

/// The PEM of the healthy fixture's root, to publish in every namespace.
fn fixture_root_configmap(side: &str) -> String {
    let text = fs::read_to_string(
        Path::new(ROOT)
            .join("fixtures/scenarios/healthy")
            .join(side)
            .join("istio-system.yaml"),
    )
    .expect("fixture");
    let start = text.find("name: istio-ca-root-cert").expect("configmap");
    let doc_start = text[..start].rfind("---\n").map_or(0, |i| i + 4);
    let doc_end = text[start..]
        .find("\n---")
        .map_or(text.len(), |i| start + i + 1);
    text[doc_start..doc_end].to_string()
}

/// The objects of one generated namespace. Every 20th client namespace calls mesh B through a
/// ServiceEntry (every 40th with a broken SNI, G002), so routes and findings grow with size.
fn namespace_objects(side: &str, i: usize, root_cm: &str) -> String {
    let ns = format!("team-{i:05}");
    let cm = root_cm.replace("namespace: istio-system", &format!("namespace: {ns}"));
    let mut out = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels:\n    istio-injection: enabled\n---\n{cm}---\n\
apiVersion: v1\nkind: Service\nmetadata:\n  name: app\n  namespace: {ns}\nspec:\n  selector:\n    app: app\n  ports:\n  - name: http\n    port: 8080\n    targetPort: 8080\n---\n\
apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: {ns}\nspec:\n  selector:\n    matchLabels:\n      app: app\n  template:\n    metadata:\n      labels:\n        app: app\n    spec:\n      serviceAccountName: app\n      containers:\n      - name: app\n        image: example/app:1\n        ports:\n        - containerPort: 8080\n---\n\
apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  namespace: {ns}\n---\n\
apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: default\n  namespace: {ns}\nspec:\n  mtls:\n    mode: STRICT\n---\n\
apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: allow-app\n  namespace: {ns}\nspec:\n  selector:\n    matchLabels:\n      app: app\n  action: ALLOW\n  rules:\n  - from:\n    - source:\n        namespaces: [\"{ns}\"]\n---\n"
    );
    if side == "client" && i.is_multiple_of(20) {
        let port = if i.is_multiple_of(40) { 9090 } else { 8080 };
        let _ = write!(
            out,
            "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: payments\n  namespace: {ns}\nspec:\n  hosts:\n  - api-{i}.payments.mesh-b.global\n  exportTo: [\".\"]\n  addresses: [\"240.0.{}.{}\"]\n  ports:\n  - number: 8080\n    name: http\n    protocol: HTTP\n  location: MESH_INTERNAL\n  resolution: STATIC\n  endpoints:\n  - address: 203.0.113.10\n    ports:\n      http: 15443\n    labels:\n      security.istio.io/tlsMode: istio\n---\n\
apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: payments\n  namespace: {ns}\nspec:\n  host: api-{i}.payments.mesh-b.global\n  trafficPolicy:\n    tls:\n      mode: ISTIO_MUTUAL\n      sni: outbound_.{port}_._.api.payments.svc.cluster.local\n      subjectAltNames:\n      - spiffe://mesh-b.local/ns/payments/sa/api\n---\n",
            (i / 250) % 250,
            i % 250
        );
    } else {
        let _ = write!(
            out,
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: app\n  namespace: {ns}\nspec:\n  host: app.{ns}.svc.cluster.local\n  trafficPolicy:\n    tls:\n      mode: ISTIO_MUTUAL\n---\n"
        );
    }
    out
}

/// Writes a pair of meshes of about `objects` objects each, on top of the healthy fixture.
fn generate(objects: usize) -> PathBuf {
    let dir = Path::new(ROOT)
        .join("target/bench/data")
        .join(objects.to_string());
    if dir.join("done").is_file() {
        return dir;
    }
    let _ = fs::remove_dir_all(&dir);
    for side in ["client", "server"] {
        let out = dir.join(side);
        fs::create_dir_all(&out).expect("dir");
        for file in fs::read_dir(
            Path::new(ROOT)
                .join("fixtures/scenarios/healthy")
                .join(side),
        )
        .expect("fixture")
        .flatten()
        {
            fs::copy(file.path(), out.join(file.file_name())).expect("copy");
        }
        let root_cm = fixture_root_configmap(side);
        let namespaces = objects / PER_NAMESPACE;
        for chunk in 0..namespaces.div_ceil(500) {
            let text: String = (chunk * 500..((chunk + 1) * 500).min(namespaces))
                .map(|i| namespace_objects(side, i, &root_cm))
                .collect();
            fs::write(out.join(format!("bulk-{chunk:04}.yaml")), text).expect("write");
        }
    }
    fs::write(dir.join("done"), "").expect("marker");
    dir
}

fn offline_args(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["doctor", "--client"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(dir.join("client").display().to_string());
    args.push("--server".into());
    args.push(dir.join("server").display().to_string());
    args.extend(
        ["--at", "2027-06-01T00:00:00Z", "-o", "json", "--timings"]
            .iter()
            .map(|s| s.to_string()),
    );
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

struct Row {
    objects: usize,
    offline: Measurement,
    /// Offline with the example rules and a plug-in that reads the whole model.
    user: Option<Measurement>,
    live: Option<(Measurement, Duration)>,
}

/// A plug-in that reads the model to the end and reports nothing: the cost of handing it over.
fn reading_plugin() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = Path::new(ROOT).join("target/bench/plugins");
    fs::create_dir_all(&dir).expect("plug-in dir");
    let path = dir.join("istio-peer-check-reader");
    fs::write(
        &path,
        "#!/bin/sh
wc -c > /dev/null
echo '{\"findings\": []}'\n",
    )
    .expect("write plug-in");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<usize> = args
        .iter()
        .position(|a| a == "--sizes")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 100_000]);
    let skip_live = args.iter().any(|a| a == "--skip-live");
    let skip_probes = args.iter().any(|a| a == "--skip-probes");
    let binary = release_binary();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut rows = Vec::new();
    for &objects in &sizes {
        eprintln!("generating {objects} objects per mesh…");
        let dir = generate(objects);
        eprintln!("offline doctor at {objects}…");
        let offline = measure(&binary, &offline_args(&dir, &[]));
        assert!(
            matches!(offline.code, 0 | 1),
            "doctor failed: {}",
            offline.stderr
        );
        eprintln!("offline doctor with rules and a plug-in at {objects}…");
        let plugins = reading_plugin().display().to_string();
        let rules = Path::new(ROOT).join("examples/rules").display().to_string();
        let user = measure(
            &binary,
            &offline_args(
                &dir,
                &[
                    "--rules",
                    &rules,
                    "--checks-dir",
                    &plugins,
                    "--plugin-timeout",
                    "600",
                ],
            ),
        );
        let user = matches!(user.code, 0 | 1).then_some(user);
        let live = (!skip_live).then(|| runtime.block_on(live_and_kubectl(&binary, &dir)));
        rows.push(Row {
            objects,
            offline,
            user,
            live,
        });
    }
    let probe = (!skip_probes).then(|| runtime.block_on(probe_100(&binary)));
    let report = render(&rows, probe);
    println!("{report}");
    let out = Path::new(ROOT).join("target/bench/results.md");
    let _ = fs::create_dir_all(out.parent().expect("parent"));
    fs::write(&out, &report).expect("write results");
    eprintln!("written to {}", out.display());
}

/// Live `doctor --no-probe` against two fake API servers, and sequential kubectl.
async fn live_and_kubectl(binary: &Path, dir: &Path) -> (Measurement, Duration) {
    let pki = fake_api::Pki::new();
    let client =
        fake_api::FakeApi::start(&pki, &dir.join("client"), fake_api::Behaviour::default()).await;
    let server =
        fake_api::FakeApi::start(&pki, &dir.join("server"), fake_api::Behaviour::default()).await;
    let kubeconfig = dir.join("kubeconfig");
    fs::write(
        &kubeconfig,
        fake_api::kubeconfig(
            &pki,
            &[
                ("mesh-a", client.addr, &client.token),
                ("mesh-b", server.addr, &server.token),
            ],
        ),
    )
    .expect("kubeconfig");
    let args: Vec<String> = [
        "doctor",
        "--client-context",
        "mesh-a",
        "--server-context",
        "mesh-b",
        "--kubeconfig",
        &kubeconfig.display().to_string(),
        "--no-probe",
        "-o",
        "json",
        "--timings",
        "--timeout",
        "120",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let binary = binary.to_path_buf();
    let live = tokio::task::spawn_blocking(move || measure(&binary, &args))
        .await
        .expect("live run");
    let kubectl = tokio::task::spawn_blocking({
        let kubeconfig = kubeconfig.clone();
        move || kubectl_baseline(&kubeconfig)
    })
    .await
    .expect("kubectl");
    let kubectl = kubectl.unwrap_or_else(|e| {
        eprintln!("kubectl baseline failed: {e}");
        Duration::ZERO
    });
    (live, kubectl)
}

/// `kubectl get <kind> -A -o json` for every kind doctor reads, both clusters, one after another.
fn kubectl_baseline(kubeconfig: &Path) -> Result<Duration, String> {
    let kinds = [
        "namespaces",
        "services",
        "configmaps",
        "secrets",
        "deployments",
        "statefulsets",
        "daemonsets",
        "gateways.networking.istio.io",
        "virtualservices",
        "destinationrules",
        "serviceentries",
        "sidecars",
        "workloadentries",
        "peerauthentications",
        "authorizationpolicies",
    ];
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        return Err("kubectl not installed (Debian package kubernetes-client)".into());
    }
    let started = Instant::now();
    for context in ["mesh-a", "mesh-b"] {
        for kind in kinds {
            let out = Command::new("kubectl")
                .args([
                    "--kubeconfig",
                    &kubeconfig.display().to_string(),
                    "--context",
                    context,
                    "get",
                    kind,
                    "-A",
                    "-o",
                    "json",
                ])
                .output()
                .map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(format!(
                    "kubectl get {kind}: {}",
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .last()
                        .unwrap_or("")
                ));
            }
        }
    }
    Ok(started.elapsed())
}

/// 100 routes probed against one local TLS server.
async fn probe_100(binary: &Path) -> Measurement {
    let dir = Path::new(ROOT).join("target/bench/data/probe-100");
    let _ = fs::remove_dir_all(&dir);
    for side in ["client", "server"] {
        fs::create_dir_all(dir.join(side)).expect("dir");
        for file in fs::read_dir(
            Path::new(ROOT)
                .join("fixtures/scenarios/healthy")
                .join(side),
        )
        .expect("fixture")
        .flatten()
        {
            fs::copy(file.path(), dir.join(side).join(file.file_name())).expect("copy");
        }
    }
    // Only the generated routes: drop the fixture's own ServiceEntry (visible everywhere).
    let shop = dir.join("client/shop.yaml");
    let kept: Vec<String> = fs::read_to_string(&shop)
        .expect("shop.yaml")
        .split("---\n")
        .filter(|doc| !doc.contains("kind: ServiceEntry"))
        .map(str::to_string)
        .collect();
    fs::write(&shop, kept.join("---\n")).expect("write");
    let root_cm = fixture_root_configmap("client");
    let text: String = (1..=100)
        .map(|i| namespace_objects("client", i * 20 + 20, &root_cm))
        .collect();
    fs::write(dir.join("client/routes.yaml"), text).expect("write");
    let addr = tls_server().await;
    let args = offline_args(
        &dir,
        &[
            "--probe",
            "--probe-address",
            &addr.to_string(),
            "--probe-timeout",
            "2",
        ],
    );
    let binary = binary.to_path_buf();
    tokio::task::spawn_blocking(move || measure(&binary, &args))
        .await
        .expect("probe run")
}

async fn tls_server() -> std::net::SocketAddr {
    use std::sync::Arc;
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    use tokio::io::AsyncReadExt;
                    let mut buf = [0u8; 16];
                    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf)).await;
                }
            });
        }
    });
    addr
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn render(rows: &[Row], probe: Option<Measurement>) -> String {
    let mut out = String::new();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Machine: {} cores, {cpu}; release build.\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    out.push_str("| objects/mesh | offline wall | CPU | peak RSS | load | analysis | live wall (no probe) | kubectl sequential | live/kubectl |\n");
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        let (live, kubectl, ratio) = match &r.live {
            Some((m, k)) if !k.is_zero() => (
                ms(m.wall),
                ms(*k),
                format!("{:.2}", m.wall.as_secs_f64() / k.as_secs_f64()),
            ),
            Some((m, _)) => (ms(m.wall), "n/a".into(), "n/a".into()),
            None => ("skipped".into(), "skipped".into(), "".into()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} MiB | {} ms | {} ms | {live} | {kubectl} | {ratio} |",
            r.objects,
            ms(r.offline.wall),
            ms(r.offline.cpu),
            r.offline.max_rss_kib / 1024,
            r.offline.phase("load").unwrap_or(0),
            r.offline.phase("analysis").unwrap_or(0),
        );
    }
    out.push_str("\nWith user checks (`--rules examples/rules` and a plug-in that reads the whole model on stdin):\n\n");
    out.push_str("| objects/mesh | wall | CPU | peak RSS | user checks phase |\n|---:|---:|---:|---:|---:|\n");
    for r in rows {
        match &r.user {
            Some(u) => {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} MiB | {} ms |",
                    r.objects,
                    ms(u.wall),
                    ms(u.cpu),
                    u.max_rss_kib / 1024,
                    u.phase("user-checks").unwrap_or(0)
                );
            }
            None => {
                let _ = writeln!(out, "| {} | failed | | | |", r.objects);
            }
        }
    }
    for pair in rows.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let size = b.objects as f64 / a.objects as f64;
        let _ = writeln!(
            out,
            "\n{}→{} objects (×{size:.0}): time ×{:.2}, peak RSS ×{:.2}",
            a.objects,
            b.objects,
            b.offline.wall.as_secs_f64() / a.offline.wall.as_secs_f64(),
            b.offline.max_rss_kib as f64 / a.offline.max_rss_kib.max(1) as f64
        );
    }
    if let Some(p) = probe {
        let _ = writeln!(
            out,
            "\nProbing 100 routes against a local TLS server: {} wall ({} in the probe phase).",
            ms(p.wall),
            p.phase("probe").unwrap_or(0)
        );
    }
    out
}
