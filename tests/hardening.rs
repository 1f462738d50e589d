//! Hostile inputs and peers: every one ends in a clear finding or a usage error, never a
//! panic, a hang or a leaked key.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::common::{Run, copy_fixture, doctor_on, istio_peer, istio_peer_async, root};

const AT: &str = "2027-06-01T00:00:00Z";

/// A copy of the healthy pair's client side plus `extra` files, against the healthy server.
fn with_extra_client_files(extra: &[(&str, Vec<u8>)]) -> (tempfile::TempDir, Run) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let client = tmp.path().join("client");
    copy_fixture(
        &root().join("fixtures/scenarios/healthy/client"),
        &client,
        |t| t,
    );
    for (name, bytes) in extra {
        fs::write(client.join(name), bytes).expect("write");
    }
    let run = doctor_on(
        &client,
        &root().join("fixtures/scenarios/healthy/server"),
        AT,
        &["-o", "json"],
    );
    (tmp, run)
}

fn codes(run: &Run) -> Vec<String> {
    crate::common::codes(&run.json())
}

fn messages(run: &Run) -> String {
    run.json()["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| f["message"].as_str().unwrap_or("").to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The rest of the input is still analysed: the healthy route is found and OK.
fn route_still_analysed(run: &Run) {
    let report = run.json();
    assert_eq!(
        report["routes"][0]["topology"], "east-west",
        "{}",
        run.stdout
    );
}

#[test]
fn malformed_yaml_is_reported_with_the_limit_or_position() {
    let mut bomb = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb, namespace: shop}\ndata:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n",
    );
    for i in 1..9 {
        let p = i - 1;
        bomb.push_str(&format!(
            "  a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let deep: String = (0..300)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    let (_tmp, run) = with_extra_client_files(&[
        ("bomb.yaml", bomb.into_bytes()),
        ("deep.yaml", deep.into_bytes()),
        ("dup.yaml", b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  name: b\n".to_vec()),
        ("list-for-map.yaml", b"apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g, namespace: shop}\nspec:\n  servers: {port: 1}\n".to_vec()),
        ("map-for-list.yaml", b"apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: shop}\nspec: [1, 2]\n".to_vec()),
        ("scalar.yaml", b"just a string\n".to_vec()),
        ("tabs.yaml", b"kind: Service\n\tspec: 1\n".to_vec()),
    ]);
    assert_eq!(run.code, 1);
    let text = messages(&run);
    assert!(
        text.contains("limit of 1000000 nodes"),
        "alias bomb names its limit:\n{text}"
    );
    assert!(
        text.contains("limit of 128 levels"),
        "nesting names its limit:\n{text}"
    );
    assert!(text.contains("duplicate key `name`"), "{text}");
    assert!(
        text.contains("Gateway shop/g") && text.contains("spec.servers"),
        "{text}"
    );
    assert!(text.contains("Service shop/s"), "{text}");
    assert!(text.contains("not a mapping"), "{text}");
    assert!(
        codes(&run).iter().filter(|c| *c == "E002").count() >= 7,
        "{:?}",
        codes(&run)
    );
    route_still_analysed(&run);
}

#[test]
fn huge_and_unreadable_files_and_empty_directories() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let big = tmp.path().join("big.yaml");
    let file = fs::File::create(&big).expect("create");
    file.set_len(200 * 1024 * 1024)
        .expect("a 200 MB (sparse) file");
    let broken_link = tmp.path().join("dangling.yaml");
    #[cfg(unix)]
    std::os::unix::fs::symlink(tmp.path().join("nowhere.yaml"), &broken_link).expect("symlink");
    let client = root().join("fixtures/scenarios/healthy/client");
    let server = root().join("fixtures/scenarios/healthy/server");
    let started = Instant::now();
    let run = istio_peer(&[
        "doctor",
        "--client",
        client.to_str().unwrap_or(""),
        "--client",
        tmp.path().to_str().unwrap_or(""),
        "--server",
        server.to_str().unwrap_or(""),
        "--at",
        AT,
        "-o",
        "json",
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the 200 MB file is not read"
    );
    let text = messages(&run);
    assert!(text.contains("over the limit of 67108864 bytes"), "{text}");
    route_still_analysed(&run);

    let empty = tempfile::tempdir().expect("tempdir");
    let run = istio_peer(&[
        "doctor",
        "--client",
        empty.path().to_str().unwrap_or(""),
        "--server",
        empty.path().to_str().unwrap_or(""),
        "--at",
        AT,
        "-o",
        "json",
    ]);
    assert_eq!(
        run.code, 3,
        "nothing to analyse is inconclusive: {}",
        run.stdout
    );
    // Both empty meshes default to trust domain cluster.local, so I004 is right to warn.
    let found = codes(&run);
    assert!(
        found.contains(&"E001".to_string()) && found.iter().all(|c| c == "E001" || c == "I004"),
        "{found:?}"
    );
}

/// A Secret `cacerts` for the client whose `key` value is `value` (base64-encoded `data`).
fn secret_with(key: &str, value: &[u8], raw_base64: Option<&str>) -> Vec<u8> {
    let encoded = raw_base64.map_or_else(|| STANDARD.encode(value), str::to_string);
    format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: gw-cred\n  namespace: shop\ndata:\n  {key}: {encoded}\n").into_bytes()
}

#[test]
fn garbage_certificates_are_c005_with_their_line() {
    let truncated = b"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUW\n".to_vec();
    // Looks like DER (a SEQUENCE) but is not a certificate; and bytes that are neither.
    let garbage_der: Vec<u8> = [0x30u8, 0x82, 0x01, 0xfc]
        .into_iter()
        .chain((0..508u32).map(|i| (i * 7 % 251) as u8))
        .collect();
    let garbage_bytes: Vec<u8> = (0..64u32).map(|i| (i * 13 % 251) as u8 | 0x80).collect();
    let not_a_cert =
        b"-----BEGIN CERTIFICATE-----\nAQIDBAUGBwgJ\n-----END CERTIFICATE-----\n".to_vec();
    let (_tmp, run) = with_extra_client_files(&[
        ("truncated.yaml", secret_with("tls.crt", &truncated, None)),
        ("garbage.yaml", secret_with("ca.crt", &garbage_der, None)),
        ("bytes.yaml", secret_with("tls.key", &garbage_bytes, None)),
        ("notcert.yaml", secret_with("cert.pem", &not_a_cert, None)),
        (
            "notb64.yaml",
            secret_with("root-cert.pem", b"", Some("\"!!not base64!!\"")),
        ),
    ]);
    let text = messages(&run);
    assert!(text.contains("never closed (truncated PEM?)"), "{text}");
    assert!(text.contains("not a DER X.509 certificate"), "{text}");
    assert!(text.contains("value is not base64"), "{text}");
    assert!(text.contains("neither PEM text nor DER"), "{text}");
    let c = codes(&run);
    assert!(
        c.contains(&"C005".to_string()) && c.contains(&"E002".to_string()),
        "{c:?}"
    );
    route_still_analysed(&run);
}

#[test]
fn a_chain_of_ten_thousand_certificates_is_bounded() {
    let cert =
        fs::read_to_string(root().join("fixtures/scenarios/healthy/client/istio-system.yaml"))
            .expect("fixture");
    // Take the published root's PEM and repeat it 10,000 times in a cert-chain.pem.
    let start = cert
        .find("-----BEGIN CERTIFICATE-----")
        .expect("a certificate");
    let end = cert[start..]
        .find("-----END CERTIFICATE-----")
        .map(|e| start + e + 25)
        .expect("end");
    let one: String = cert[start..end]
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    let chain = one.repeat(10_000);
    let started = Instant::now();
    let (_tmp, run) = with_extra_client_files(&[(
        "long-chain.yaml",
        secret_with("cert-chain.pem", chain.as_bytes(), None),
    )]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    route_still_analysed(&run);
}

#[test]
fn debug_printing_never_shows_keys() {
    let key = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";
    let body = serde_json::json!({"kind": "Secret", "metadata": {"name": "cacerts"}, "stringData": {"ca-key.pem": key, "ca-cert.pem": "x"}});
    let raw = checks::model::RawObject::new(body.clone(), checks::model::Origin::Default);
    assert!(!format!("{raw:?}").contains("PRIVATE KEY"));
    let (blocks, _) = checks::pki::parse_blocks(key.as_bytes());
    assert!(!format!("{blocks:?}").contains("MIGHAgEAMBMG"));
    let body = serde_json::json!({"kind": "Secret", "metadata": {"name": "cacerts"}, "stringData": {"ca-key.pem": key, "ca-cert.pem": "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"}});
    if let Some(ca) = istio_peer::probe::SigningCa::from_secret(&body) {
        assert!(!format!("{ca:?}").contains("PRIVATE KEY"));
    }
}

/// Every private key held by the fixtures, in every encoding it could leak in.
fn key_material(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for side in ["client", "server"] {
        for file in fs::read_dir(dir.join(side)).into_iter().flatten().flatten() {
            let text = fs::read_to_string(file.path()).unwrap_or_default();
            for line in text.lines() {
                let Some((key, value)) = line.trim().split_once(": ") else {
                    continue;
                };
                if !key.contains("key") || value.len() < 40 {
                    continue;
                }
                out.push(value[..40].to_string()); // the base64 of the PEM, as in `data`
                let Ok(pem) = STANDARD.decode(value) else {
                    continue;
                };
                let pem = String::from_utf8_lossy(&pem).into_owned();
                let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
                out.push(body[..40.min(body.len())].to_string()); // the PEM body
                if let Ok(der) = STANDARD.decode(&body) {
                    let hex: String = der
                        .iter()
                        .skip(8)
                        .take(16)
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    out.push(hex); // and its hex
                }
            }
        }
    }
    out
}

#[test]
fn no_command_or_format_prints_a_private_key() {
    let dir = root().join("fixtures/scenarios/ca-bundle-invalid");
    let secrets = key_material(&dir);
    assert!(
        secrets.len() >= 6,
        "the fixture must hold keys for this test to mean anything"
    );
    let client = dir.join("client").display().to_string();
    let server = dir.join("server").display().to_string();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut outputs = Vec::new();
    for format in ["table", "json", "sarif", "junit", "github", "markdown"] {
        let run = istio_peer(&[
            "doctor",
            "--client",
            &client,
            "--server",
            &server,
            "--at",
            AT,
            "-o",
            format,
            "--verbose",
            "--probe",
            "--probe-address",
            "127.0.0.1:9",
        ]);
        outputs.push(format!("{}{}", run.stdout, run.stderr));
    }
    for args in [
        vec!["explain", "T004"],
        vec!["checks", "-o", "json"],
        vec!["schema"],
    ] {
        let run = istio_peer(&args);
        outputs.push(format!("{}{}", run.stdout, run.stderr));
    }
    // User checks: a plug-in that keeps its whole input, and a rule that quotes Secrets.
    let plugins = tmp.path().join("plugins");
    fs::create_dir_all(&plugins).expect("plug-in dir");
    let captured = tmp.path().join("plugin-input.json");
    crate::common::write_plugin(
        &plugins,
        "keep",
        &format!(
            "cat > '{}'\necho '{{\"findings\": []}}'",
            captured.display()
        ),
    );
    let rules = tmp.path().join("rules");
    fs::create_dir_all(&rules).expect("rules dir");
    fs::write(
        rules.join("secrets.yaml"),
        "code: U-001\nname: every-secret\nseverity: info\nkinds: [Secret]\ncondition: \"true\"\nmessage: \"{{namespace}}/{{name}}\"\n",
    )
    .expect("write rule");
    let run = istio_peer(&[
        "doctor",
        "--client",
        &client,
        "--server",
        &server,
        "--checks-dir",
        &plugins.display().to_string(),
        "--rules",
        &rules.display().to_string(),
        "-o",
        "json",
    ]);
    outputs.push(format!("{}{}", run.stdout, run.stderr));
    let input = fs::read_to_string(&captured).expect("the plug-in ran");
    assert!(
        input.contains("\"kind\":\"Secret\""),
        "Secrets are handed over, redacted"
    );
    outputs.push(input);
    let written = tmp.path().join("report.sarif");
    let _ = istio_peer(&[
        "doctor",
        "--client",
        &client,
        "--server",
        &server,
        "-o",
        &format!("sarif={}", written.display()),
    ]);
    outputs.push(fs::read_to_string(&written).unwrap_or_default());
    for (i, out) in outputs.iter().enumerate() {
        assert!(
            !out.contains("PRIVATE KEY"),
            "output {i} shows a PEM key header"
        );
        for secret in &secrets {
            assert!(
                !out.contains(secret.as_str()),
                "output {i} leaks key material `{secret}`"
            );
        }
    }
}

/// A fake API pair for hostile-server tests; the server side misbehaves.
async fn hostile(
    behaviour: crate::fake_api::Behaviour,
    extra: Vec<serde_json::Value>,
    timeout: &str,
) -> Run {
    use crate::fake_api::{Behaviour, FakeApi, Pki, kubeconfig};
    let pki = Pki::new();
    let dir = root().join("fixtures/scenarios/healthy");
    let client = FakeApi::start(&pki, &dir.join("client"), Behaviour::default()).await;
    let server = FakeApi::start_with(&pki, &dir.join("server"), behaviour, extra).await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("kubeconfig");
    fs::write(
        &path,
        kubeconfig(
            &pki,
            &[
                ("mesh-a", client.addr, &client.token),
                ("mesh-b", server.addr, &server.token),
            ],
        ),
    )
    .expect("write");
    let args: Vec<String> = [
        "doctor",
        "--client-context",
        "mesh-a",
        "--server-context",
        "mesh-b",
        "--kubeconfig",
        path.to_str().unwrap_or(""),
        "--no-probe",
        "--at",
        AT,
        "-o",
        "json",
        "--timeout",
        timeout,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    istio_peer_async(args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_api_servers_end_in_findings() {
    use crate::fake_api::Behaviour;
    let run = hostile(
        Behaviour {
            invalid_json: vec!["services".into()],
            ..Behaviour::default()
        },
        Vec::new(),
        "10",
    )
    .await;
    assert!(
        messages(&run).contains("invalid JSON from /api/v1/services"),
        "{}",
        run.stdout
    );
    assert_eq!(run.code, 3);

    let run = hostile(
        Behaviour {
            server_error: vec!["gateways".into()],
            ..Behaviour::default()
        },
        Vec::new(),
        "10",
    )
    .await;
    assert!(messages(&run).contains("HTTP 500"), "{}", run.stdout);

    let started = Instant::now();
    let run = hostile(
        Behaviour {
            delay: Some(Duration::from_secs(60)),
            ..Behaviour::default()
        },
        Vec::new(),
        "2",
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "an endlessly slow server is cut off"
    );
    assert!(
        messages(&run).contains("cluster `mesh-b`"),
        "{}",
        run.stdout
    );

    // A huge list (20,000 Deployments, in pages) is read completely.
    let run = hostile(
        Behaviour::default(),
        crate::fake_api::many_deployments(20_000),
        "60",
    )
    .await;
    assert_eq!(
        run.json()["server"]["objects_read"]
            .as_u64()
            .map(|n| n > 20_000),
        Some(true),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_tls_peers_end_in_findings_within_the_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Garbage instead of a ServerHello.
    let garbage = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let garbage_addr = garbage.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = garbage.accept().await {
            let mut buf = [0u8; 512];
            let _ = tcp.read(&mut buf).await;
            let _ = tcp
                .write_all(&[0x16, 0x03, 0x03, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9])
                .await;
            let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
    // Accepts the connection and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_addr = silent.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = silent.accept().await {
            held.push(tcp);
        }
    });
    for (addr, label) in [(garbage_addr, "garbage"), (silent_addr, "silent")] {
        let started = Instant::now();
        let target = addr.to_string();
        let run = istio_peer_async(
            ["probe", &target, "--timeout", "2", "-o", "json"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        )
        .await;
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{label}: took {:?}",
            started.elapsed()
        );
        assert_eq!(run.code, 1, "{label}: {}", run.stdout);
        let code = run.json()["probe"]["outcome"]["outcome"]
            .as_str()
            .unwrap_or("")
            .to_string();
        assert!(
            matches!(code.as_str(), "other" | "closed-before-server-hello"),
            "{label}: {code}"
        );
    }
}
