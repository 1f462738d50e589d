//! Live TLS probes against real peers: an in-process rustls server and `openssl s_server`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use checks::model::ProbeOutcome;
use checks::pki::{Bundle, Certificate, CertificateCache};
use istio_peer::probe::{Identity, ProbeSpec, SigningCa, probe};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::common::{istio_peer_async as run, root};

const SERVER_ID: &str = "spiffe://mesh-b.local/ns/payments/sa/api";
const CLIENT_ID: &str = "spiffe://mesh-a.local/ns/shop/sa/frontend";

#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A CA that can issue.
struct Ca {
    params: CertificateParams,
    key: KeyPair,
    der: CertificateDer<'static>,
}

impl Ca {
    fn root(name: &str) -> Ca {
        let key = KeyPair::generate().expect("key");
        let params = ca_params(name);
        let der = params.self_signed(&key).expect("root").der().clone();
        Ca { params, key, der }
    }

    fn intermediate(name: &str, parent: &Ca) -> Ca {
        let key = KeyPair::generate().expect("key");
        let params = ca_params(name);
        let der = params
            .signed_by(&key, &parent.issuer())
            .expect("intermediate")
            .der()
            .clone();
        Ca { params, key, der }
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }

    fn pem(&self) -> String {
        pem("CERTIFICATE", self.der.as_ref())
    }

    /// A workload leaf for a SPIFFE ID; returns (chain with this CA, key).
    fn workload(&self, spiffe_id: &str) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.subject_alt_names = vec![SanType::URI(spiffe_id.try_into().expect("uri"))];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let leaf = params
            .signed_by(&key, &self.issuer())
            .expect("leaf")
            .der()
            .clone();
        (
            vec![leaf, self.der.clone()],
            PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
    }
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let body: Vec<String> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        body.join("\n")
    )
}

fn parsed(der: &CertificateDer<'_>) -> Arc<Certificate> {
    Arc::new(Certificate::from_der(der.as_ref()).expect("certificate"))
}

/// The two meshes' PKI: a shared root with one intermediate per mesh, and a foreign root.
struct Pki {
    shared: Ca,
    mesh_a: Ca,
    mesh_b: Ca,
    foreign: Ca,
}

impl Pki {
    fn new() -> Pki {
        let shared = Ca::root("Shared Root");
        let mesh_a = Ca::intermediate("Mesh A CA", &shared);
        let mesh_b = Ca::intermediate("Mesh B CA", &shared);
        let foreign = Ca::root("Foreign Root");
        Pki {
            shared,
            mesh_a,
            mesh_b,
            foreign,
        }
    }

    fn client(&self) -> Identity {
        let (chain, key) = self.mesh_a.workload(CLIENT_ID);
        Identity {
            chain,
            key: Arc::new(key),
            name: CLIENT_ID.into(),
            source: "test".into(),
        }
    }
}

/// How the in-process server behaves.
struct ServerSetup {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// Client roots; `None` = no client authentication.
    client_roots: Option<Vec<CertificateDer<'static>>>,
    tls13_only: bool,
}

/// Starts a rustls server that keeps each connection open until the client leaves.
async fn rustls_server(setup: ServerSetup) -> SocketAddr {
    let versions: &[&rustls::SupportedProtocolVersion] = if setup.tls13_only {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .expect("versions");
    let builder = match setup.client_roots {
        Some(roots) => {
            let mut store = rustls::RootCertStore::empty();
            for r in roots {
                store.add(r).expect("root");
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(store),
                provider(),
            )
            .build()
            .expect("verifier");
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(setup.chain, setup.key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let mut buf = [0u8; 64];
                    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut buf)).await;
                }
            });
        }
    });
    addr
}

fn spec(addr: SocketAddr, pki: &Pki, identity: Option<Identity>) -> ProbeSpec {
    ProbeSpec {
        route: None,
        target: addr.to_string(),
        sni: Some("outbound_.8080_._.api.payments.svc.cluster.local".into()),
        alpn: vec!["istio-peer-exchange".into(), "istio".into()],
        roots: vec![parsed(&pki.shared.der)],
        expected_sans: vec![SERVER_ID.into()],
        identity,
        versions: (12, 13),
        stage_timeout: Duration::from_secs(3),
        at: checks::time::Timestamp(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
        ),
        negative: true,
        via: None,
    }
}

fn healthy_server(pki: &Pki) -> ServerSetup {
    let (chain, key) = pki.mesh_b.workload(SERVER_ID);
    ServerSetup {
        chain,
        key,
        client_roots: Some(vec![pki.shared.der.clone()]),
        tls13_only: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustls_peer_outcomes_map_to_the_catalogue() {
    let pki = Pki::new();

    let healthy = rustls_server(healthy_server(&pki)).await;
    let p = probe(&spec(healthy, &pki, Some(pki.client()))).await;
    assert_eq!(p.outcome, ProbeOutcome::HandshakeOk, "{p:#?}");
    assert_eq!(p.presented_sans, vec![SERVER_ID.to_string()]);
    assert_eq!(p.client_certificate_requested, Some(true));
    assert!(
        p.negative.iter().all(|n| !n.accepted),
        "client auth is enforced: {:?}",
        p.negative
    );
    assert_eq!(
        p.negotiated.as_ref().and_then(|n| n.alpn.clone()),
        None,
        "the test server speaks no ALPN"
    );

    // Split roots: the server's chain is foreign to the client (L003).
    let (chain, key) = pki.foreign.workload(SERVER_ID);
    let split = rustls_server(ServerSetup {
        chain,
        key,
        client_roots: Some(vec![pki.shared.der.clone()]),
        tls13_only: false,
    })
    .await;
    let p = probe(&spec(split, &pki, Some(pki.client()))).await;
    assert!(
        matches!(p.outcome, ProbeOutcome::ServerChainUntrusted { .. }),
        "{:?}",
        p.outcome
    );
    assert_eq!(
        p.server_chain.len(),
        2,
        "the chain is captured even though it fails verification"
    );

    // The server does not trust the client's root: TLS 1.3 rejects after the handshake (L005).
    let (chain, key) = pki.mesh_b.workload(SERVER_ID);
    let distrust = rustls_server(ServerSetup {
        chain,
        key,
        client_roots: Some(vec![pki.foreign.der.clone()]),
        tls13_only: false,
    })
    .await;
    let p = probe(&spec(distrust, &pki, Some(pki.client()))).await;
    assert_eq!(
        p.outcome,
        ProbeOutcome::ClientCertificateRejected {
            alert: "unknown_ca".into()
        },
        "{:#?}",
        p.stages
    );

    // No client authentication at all (L006 through the negative probes).
    let (chain, key) = pki.mesh_b.workload(SERVER_ID);
    let open = rustls_server(ServerSetup {
        chain,
        key,
        client_roots: None,
        tls13_only: false,
    })
    .await;
    let p = probe(&spec(open, &pki, Some(pki.client()))).await;
    assert_eq!(p.outcome, ProbeOutcome::HandshakeOk);
    assert!(p.negative.iter().all(|n| n.accepted), "{:?}", p.negative);

    // SAN mismatch (L004).
    let mut s = spec(healthy, &pki, Some(pki.client()));
    s.expected_sans = vec!["spiffe://mesh-b.local/ns/payments/sa/other".into()];
    let p = probe(&s).await;
    assert!(
        matches!(
            p.outcome,
            ProbeOutcome::ServerIdentityUnexpected {
                non_spiffe: false,
                ..
            }
        ),
        "{:?}",
        p.outcome
    );

    // TLS 1.3-only server, TLS 1.2-only client (L007).
    let mut setup = healthy_server(&pki);
    setup.tls13_only = true;
    let modern = rustls_server(setup).await;
    let mut s = spec(modern, &pki, Some(pki.client()));
    s.versions = (12, 12);
    let p = probe(&s).await;
    assert_eq!(
        p.outcome,
        ProbeOutcome::ParametersRejected {
            alert: "protocol_version".into()
        },
        "{:#?}",
        p.stages
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_and_closed_peers_are_told_apart() {
    let pki = Pki::new();
    // Nothing listening: L001, fast.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let started = Instant::now();
    let p = probe(&spec(closed, &pki, None)).await;
    assert!(
        matches!(p.outcome, ProbeOutcome::Unreachable { .. }),
        "{:?}",
        p.outcome
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refusal is immediate"
    );

    // A server that reads the ClientHello and closes, like a gateway without a filter chain.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                continue;
            };
            let mut buf = [0u8; 2048];
            let _ = tcp.read(&mut buf).await;
            drop(tcp);
        }
    });
    let p = probe(&spec(addr, &pki, Some(pki.client()))).await;
    assert!(
        matches!(p.outcome, ProbeOutcome::ClosedBeforeServerHello { .. }),
        "{:?}",
        p.outcome
    );
}

/// `openssl s_server` as an independent TLS stack, when the binary exists.
struct OpenSsl {
    child: std::process::Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for OpenSsl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openssl_available() -> bool {
    let found = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "openssl is required under CI (.ci/run installs it)"
        );
        eprintln!("skipped: openssl is not installed");
    }
    found
}

fn openssl_server(
    chain: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
    client_ca: Option<&str>,
    require: bool,
) -> OpenSsl {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert_path = dir.path().join("chain.pem");
    let key_path = dir.path().join("key.pem");
    // s_server reads only the first certificate of -cert; the rest goes to -cert_chain.
    std::fs::write(&cert_path, pem("CERTIFICATE", chain[0].as_ref())).expect("write");
    let chain_path = dir.path().join("intermediates.pem");
    std::fs::write(
        &chain_path,
        chain[1..]
            .iter()
            .map(|c| pem("CERTIFICATE", c.as_ref()))
            .collect::<String>(),
    )
    .expect("write");
    std::fs::write(&key_path, pem("PRIVATE KEY", key.secret_der())).expect("write");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut cmd = std::process::Command::new("openssl");
    cmd.args(["s_server", "-quiet", "-accept"])
        .arg(format!("127.0.0.1:{port}"));
    cmd.arg("-cert")
        .arg(&cert_path)
        .arg("-key")
        .arg(&key_path)
        .arg("-cert_chain")
        .arg(&chain_path);
    if let Some(ca) = client_ca {
        let ca_path = dir.path().join("client-ca.pem");
        std::fs::write(&ca_path, ca).expect("write");
        cmd.arg(if require { "-Verify" } else { "-verify" })
            .arg("2")
            .arg("-CAfile")
            .arg(&ca_path);
        // Without it, s_server only prints verification errors and carries on.
        cmd.arg("-verify_return_error");
    }
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let child = cmd.spawn().expect("openssl s_server");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    OpenSsl {
        child,
        addr,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_peer_outcomes_map_to_the_catalogue() {
    if !openssl_available() {
        return;
    }
    let pki = Pki::new();
    let (chain, key) = pki.mesh_b.workload(SERVER_ID);
    let healthy = openssl_server(&chain, &key, Some(&pki.shared.pem()), true);
    let mut s = spec(healthy.addr, &pki, Some(pki.client()));
    s.negative = false;
    let p = probe(&s).await;
    assert_eq!(p.outcome, ProbeOutcome::HandshakeOk, "{:#?}", p.stages);

    let distrust = openssl_server(&chain, &key, Some(&pki.foreign.pem()), true);
    let mut s = spec(distrust.addr, &pki, Some(pki.client()));
    s.negative = false;
    let p = probe(&s).await;
    assert!(
        matches!(p.outcome, ProbeOutcome::ClientCertificateRejected { .. }),
        "{:#?}",
        p
    );

    let (foreign_chain, foreign_key) = pki.foreign.workload(SERVER_ID);
    let split = openssl_server(&foreign_chain, &foreign_key, Some(&pki.shared.pem()), true);
    let mut s = spec(split.addr, &pki, Some(pki.client()));
    s.negative = false;
    let p = probe(&s).await;
    assert!(
        matches!(p.outcome, ProbeOutcome::ServerChainUntrusted { .. }),
        "{:?}",
        p.outcome
    );

    let open = openssl_server(&chain, &key, None, false);
    let p = probe(&spec(open.addr, &pki, Some(pki.client()))).await;
    assert_eq!(p.outcome, ProbeOutcome::HandshakeOk);
    assert!(
        p.negative.iter().any(|n| n.accepted),
        "openssl without -Verify accepts anyone: {:?}",
        p.negative
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_command_prints_stages_and_exits_by_verdict() {
    let pki = Pki::new();
    let server = rustls_server(healthy_server(&pki)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pki.shared.pem()).expect("write");
    let client = pki.client();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(
        &cert,
        client
            .chain
            .iter()
            .map(|c| pem("CERTIFICATE", c.as_ref()))
            .collect::<String>(),
    )
    .expect("write");
    std::fs::write(&key, pem("PRIVATE KEY", client.key.secret_der())).expect("write");
    let args = |expect: &str, format: &str| -> Vec<String> {
        [
            "probe",
            &server.to_string(),
            "--sni",
            "outbound_.8080_._.api.payments.svc.cluster.local",
            "--ca",
            ca.to_str().unwrap_or_default(),
            "--cert",
            cert.to_str().unwrap_or_default(),
            "--key",
            key.to_str().unwrap_or_default(),
            "--expect-san",
            expect,
            "-o",
            format,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let ok = run(args(SERVER_ID, "table")).await;
    assert_eq!(ok.code, 0, "{}\n{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.starts_with("PASS"), "{}", ok.stdout);
    for stage in [
        "resolve",
        "TCP connect",
        "TLS handshake",
        "verify chain",
        "check SAN",
        "read after handshake",
    ] {
        assert!(
            ok.stdout.contains(stage),
            "stage {stage} missing:\n{}",
            ok.stdout
        );
    }
    assert!(ok.stdout.contains("chain[0]") && ok.stdout.contains(SERVER_ID));
    assert!(!ok.stdout.contains("PRIVATE KEY"));
    let wrong = run(args("spiffe://mesh-b.local/ns/payments/sa/other", "json")).await;
    assert_eq!(wrong.code, 1);
    let json = wrong.json();
    assert_eq!(json["code"], "L004");
    assert_eq!(json["verdict"], "fail");
    assert_eq!(run(vec!["probe".into(), "no-port".into()]).await.code, 2);
}

/// The signing CA of a scenario mesh's fixture Secret (`cacerts` or `istio-ca-secret`).
fn fixture_ca(scenario: &str, side: &str) -> (SigningCa, Vec<Arc<Certificate>>) {
    let text = std::fs::read_to_string(
        root()
            .join("fixtures/scenarios")
            .join(scenario)
            .join(side)
            .join("istio-system.yaml"),
    )
    .expect("fixture");
    let docs = checks::yaml::decode(&text, checks::yaml::Budget::default()).documents;
    let ca = docs
        .iter()
        .find_map(|d| SigningCa::from_secret(&d.value))
        .expect("a CA secret");
    let mut cache = CertificateCache::default();
    let mut certs = Bundle::decode(ca.chain_pem.as_bytes(), &mut cache).certificates;
    certs.extend(Bundle::decode(ca.cert_pem.as_bytes(), &mut cache).certificates);
    let roots = certs.into_iter().filter(|c| c.self_issued).collect();
    (ca, roots)
}

/// Serves B's workload identity minted from the scenario's server CA, requiring client
/// certificates from the scenario's client root.
async fn scenario_server(scenario: &str) -> SocketAddr {
    scenario_server_signed_by(scenario, "server").await
}

/// Like `scenario_server`, with the server certificate minted by `side`'s CA.
async fn scenario_server_signed_by(scenario: &str, side: &str) -> SocketAddr {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let at = checks::time::Timestamp(now);
    let (server_ca, _) = fixture_ca(scenario, side);
    let (_, client_roots) = fixture_ca(scenario, "client");
    let id = server_ca.mint(SERVER_ID, at).expect("mint");
    let roots: Vec<CertificateDer<'static>> = client_roots
        .iter()
        .map(|c| CertificateDer::from(c.der().to_vec()))
        .collect();
    rustls_server(ServerSetup {
        chain: id.chain.clone(),
        key: id.key.clone_key(),
        client_roots: Some(roots),
        tls13_only: false,
    })
    .await
}

fn doctor_probe(scenario: &str, addr: SocketAddr) -> Vec<String> {
    let dir = root().join("fixtures/scenarios").join(scenario);
    let p = |side: &str| dir.join(side).to_string_lossy().into_owned();
    vec![
        "doctor".into(),
        "--client".into(),
        p("client"),
        "--server".into(),
        p("server"),
        "--at".into(),
        "2027-06-01T00:00:00Z".into(),
        "--probe".into(),
        "--probe-address".into(),
        addr.to_string(),
        "-o".into(),
        "json".into(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_probe_confirms_the_config_diagnosis() {
    // Healthy: the probe mints A's identity from A's cacerts and completes mTLS.
    let server = scenario_server("healthy").await;
    let out = run(doctor_probe("healthy", server)).await;
    let report = out.json();
    assert_eq!(out.code, 0, "{}", out.stdout);
    let l008 = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["code"] == "L008")
        .expect("L008");
    assert!(
        l008["message"]
            .as_str()
            .unwrap_or_default()
            .contains("spiffe://mesh-a.local/ns/shop/sa/frontend"),
        "{l008}"
    );
    assert_eq!(
        report["probes"][0]["identity_source"]
            .as_str()
            .map(|s| s.contains("minted")),
        Some(true)
    );

    // Split roots: config says T007 → T001; the probe sees the untrusted chain and confirms it.
    let server = scenario_server("split-roots-self-signed").await;
    let report = run(doctor_probe("split-roots-self-signed", server))
        .await
        .json();
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    let t001 = findings.iter().find(|f| f["code"] == "T001").expect("T001");
    assert_eq!(t001["probe"]["confirmed"], true, "{t001}");
    assert_eq!(t001["probe"]["by"], "L003");
    let l003 = findings.iter().find(|f| f["code"] == "L003").expect("L003");
    assert_eq!(
        l003["root_cause"], false,
        "L003 is folded under the configuration's root cause"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_that_contradicts_the_config_is_reported_as_such() {
    // Config: B's CA chains to a root A does not trust (T001). The live server, however,
    // presents a certificate under the root A does trust: the probe succeeds.
    let server = scenario_server_signed_by("server-ca-foreign-root", "client").await;
    let out = run(doctor_probe("server-ca-foreign-root", server)).await;
    let report = out.json();
    let t001 = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["code"] == "T001")
        .cloned()
        .expect("T001");
    assert_eq!(t001["probe"]["confirmed"], false, "{t001}");
    assert_eq!(
        t001["severity"], "warning",
        "contradicted findings are downgraded"
    );
    assert!(
        t001["probe"]["note"]
            .as_str()
            .unwrap_or_default()
            .contains("contradicted")
    );
    let _ = Path::new(".");
}

#[test]
fn every_probe_outcome_becomes_its_finding() {
    use checks::model::{MeshBuilder, NegativeProbe, ProbeObservation, Snapshot};
    let observation = |route: &str, outcome: ProbeOutcome, accepted: bool| ProbeObservation {
        route: Some(route.to_string()),
        target: "127.0.0.1:15443".into(),
        sni: None,
        alpn_offered: Vec::new(),
        client_identity: None,
        identity_source: "none".into(),
        stages: Vec::new(),
        negotiated: None,
        server_chain: Vec::new(),
        presented_sans: Vec::new(),
        expected_sans: Vec::new(),
        client_certificate_requested: None,
        outcome,
        negative: vec![NegativeProbe {
            variant: "no client certificate".into(),
            accepted,
            detail: String::new(),
        }],
        unconfirmed: Vec::new(),
    };
    let outcomes = [
        ProbeOutcome::Unreachable {
            reason: "refused".into(),
        },
        ProbeOutcome::ClosedBeforeServerHello {
            reason: "eof".into(),
        },
        ProbeOutcome::ServerChainUntrusted {
            reason: "unknown issuer".into(),
        },
        ProbeOutcome::ServerIdentityUnexpected {
            presented: vec![],
            non_spiffe: true,
        },
        ProbeOutcome::ClientCertificateRejected {
            alert: "unknown_ca".into(),
        },
        ProbeOutcome::ParametersRejected {
            alert: "protocol_version".into(),
        },
        ProbeOutcome::HandshakeOk,
    ];
    let expected = ["L001", "L002", "L003", "L004", "L005", "L007", "L008"];
    for (outcome, code) in outcomes.into_iter().zip(expected) {
        assert_eq!(outcome.code(), Some(code));
        let snapshot = Snapshot {
            at: checks::time::Timestamp(0),
            expiry_warning_days: 30,
            client: MeshBuilder::new("a").finish(),
            server: MeshBuilder::new("b").finish(),
            hosts: Vec::new(),
            probes: vec![observation("r", outcome, false)],
            proxies: Vec::new(),
        };
        let report = checks::engine::run(&snapshot, &checks::engine::Options::default());
        let codes: Vec<&str> = report
            .findings
            .iter()
            .map(|f| f.code.as_str())
            .filter(|c| c.starts_with('L'))
            .collect();
        assert_eq!(codes, vec![code]);
    }
    // L006: a negative probe that the server accepted; none when it refused.
    let run = |accepted: bool| {
        let snapshot = Snapshot {
            at: checks::time::Timestamp(0),
            expiry_warning_days: 30,
            client: MeshBuilder::new("a").finish(),
            server: MeshBuilder::new("b").finish(),
            hosts: Vec::new(),
            probes: vec![observation("r", ProbeOutcome::HandshakeOk, accepted)],
            proxies: Vec::new(),
        };
        checks::engine::run(&snapshot, &checks::engine::Options::default())
            .findings
            .iter()
            .any(|f| f.code == "L006")
    };
    assert!(run(true));
    assert!(!run(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_reach_an_internal_gateway_through_port_forward() {
    use crate::fake_api::{Behaviour, FakeApi, Pki as ApiPki, kubeconfig};
    let gateway = scenario_server("healthy").await;
    let api_pki = ApiPki::new();
    let dir = root().join("fixtures/scenarios/healthy");
    let run_with = |forbidden: Vec<String>| {
        let dir = dir.clone();
        let api_pki = &api_pki;
        async move {
            let client = FakeApi::start(api_pki, &dir.join("client"), Behaviour::default()).await;
            let server = FakeApi::start(
                api_pki,
                &dir.join("server"),
                Behaviour {
                    port_forward_to: Some(gateway),
                    forbidden,
                    ..Behaviour::default()
                },
            )
            .await;
            let tmp = tempfile::tempdir().expect("tempdir");
            let path = tmp.path().join("kubeconfig");
            std::fs::write(
                &path,
                kubeconfig(
                    api_pki,
                    &[
                        ("mesh-a", client.addr, &client.token),
                        ("mesh-b", server.addr, &server.token),
                    ],
                ),
            )
            .expect("write");
            let out = run(vec![
                "doctor".into(),
                "--client-context".into(),
                "mesh-a".into(),
                "--server-context".into(),
                "mesh-b".into(),
                "--kubeconfig".into(),
                path.to_string_lossy().into_owned(),
                "--probe-via".into(),
                "port-forward".into(),
                "--at".into(),
                "2027-06-01T00:00:00Z".into(),
                "-o".into(),
                "json".into(),
            ])
            .await;
            let requests = server.requests();
            (out, requests)
        }
    };
    let (out, requests) = run_with(Vec::new()).await;
    let report = out.json();
    assert_eq!(
        report["probes"][0]["outcome"]["outcome"],
        "handshake-ok",
        "{}",
        serde_json::to_string_pretty(&report["probes"]).unwrap_or_default()
    );
    assert!(
        report["probes"][0]["target"]
            .as_str()
            .unwrap_or_default()
            .contains("istio-eastwestgateway-0:15443 (port-forward)")
    );
    assert!(
        requests.iter().any(|r| r
            .path_and_query
            .contains("/pods/istio-eastwestgateway-0/portforward")
            && r.path_and_query.contains("ports=15443")),
        "{requests:?}"
    );
    assert!(
        requests.iter().all(|r| r.method == "GET"),
        "port-forward is a WebSocket GET"
    );

    // Without RBAC for pods/portforward: an L001 naming the rule, and the rest still runs.
    let (out, _) = run_with(vec!["pods/portforward".into()]).await;
    let report = out.json();
    let l001 = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["code"] == "L001")
        .cloned()
        .expect("L001");
    assert!(
        serde_json::to_string(&l001)
            .unwrap_or_default()
            .contains("pods/portforward"),
        "{l001}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_server_chain_ends_in_a_finding() {
    let pki = Pki::new();
    let (mut chain, key) = pki.mesh_b.workload(SERVER_ID);
    // 2,000 extra certificates (about 1 MB) after the real chain.
    let filler = chain[1].clone();
    chain.extend(std::iter::repeat_n(filler, 2_000));
    let server = rustls_server(ServerSetup {
        chain,
        key,
        client_roots: Some(vec![pki.shared.der.clone()]),
        tls13_only: false,
    })
    .await;
    let started = Instant::now();
    let p = probe(&spec(server, &pki, Some(pki.client()))).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    // The client refuses the oversized handshake message and says why.
    match &p.outcome {
        ProbeOutcome::Other { reason } => assert!(reason.contains("too large"), "{reason}"),
        other => panic!("{other:?}"),
    }
}
