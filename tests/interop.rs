//! Interop with Istio's own published sample CA material (`../shared/istio/certs`).

use std::fs;
use std::path::Path;
use std::sync::Arc;

use checks::pki::{Bundle, Certificate, CertificateCache, Verification, verify};

use crate::common::{istio_peer, shared_istio};

const AT: &str = "2027-06-01T00:00:00Z";

fn bundle(dir: &Path, file: &str) -> Bundle {
    let bytes = fs::read(dir.join("certs").join(file)).unwrap();
    Bundle::decode(&bytes, &mut CertificateCache::default())
}

fn certs(dir: &Path, file: &str) -> Vec<Arc<Certificate>> {
    let b = bundle(dir, file);
    assert!(b.errors.is_empty(), "{file}: {:?}", b.errors);
    b.certificates
}

fn at() -> checks::time::Timestamp {
    checks::time::Timestamp::parse_rfc3339(AT).unwrap()
}

#[test]
fn workload_certificates_verify_to_their_root_only() {
    let Some(dir) = shared_istio() else { return };
    let foo = certs(&dir, "workload-foo-cert.pem");
    assert_eq!(foo.len(), 2, "leaf followed by ca-cert.pem");
    assert_eq!(
        foo[0].spiffe_id(),
        Some("spiffe://trust-domain-foo/ns/foo/sa/foo")
    );
    let root = certs(&dir, "root-cert.pem");
    let alt = certs(&dir, "root-cert-alt.pem");
    match verify(&foo[0], &foo[1..], &root, at()) {
        Verification::Trusted { path, problems } => {
            assert_eq!(path.len(), 3, "leaf → Istio CA → Root CA");
            assert!(problems.is_empty(), "{problems:?}");
        }
        other => panic!("should verify: {other:?}"),
    }
    assert!(!verify(&foo[0], &foo[1..], &alt, at()).is_trusted());
    // Without the intermediate the leaf cannot reach the root.
    assert!(!verify(&foo[0], &[], &root, at()).is_trusted());
}

#[test]
fn combined_root_bundles_hold_several_roots() {
    let Some(dir) = shared_istio() else { return };
    let combined = certs(&dir, "root-cert-combined.pem");
    assert_eq!(combined.len(), 2);
    assert!(combined.iter().all(|c| c.is_ca && c.self_issued));
    assert_ne!(combined[0].spki_fingerprint, combined[1].spki_fingerprint);
    // A cluster intermediate under the alternative root verifies against the combined bundle.
    let chain = certs(&dir, "cert-chain-alt.pem");
    assert!(verify(&chain[0], &chain[1..], &combined, at()).is_trusted());
}

#[test]
fn ca_keys_match_their_certificates_by_public_key() {
    let Some(dir) = shared_istio() else { return };
    let key = bundle(&dir, "ca-key.pem").keys.pop().expect("an RSA key");
    assert_eq!(key.algorithm, "RSA");
    assert_eq!(key.matches(&certs(&dir, "ca-cert.pem")[0]), Some(true));
    assert_eq!(key.matches(&certs(&dir, "ca-cert-alt.pem")[0]), Some(false));
    let alt_key = bundle(&dir, "ca-key-alt.pem").keys.pop().unwrap();
    assert_eq!(
        alt_key.matches(&certs(&dir, "ca-cert-alt.pem")[0]),
        Some(true)
    );
}

/// Writes a minimal mesh whose plug-in CA is one of Istio's samples.
fn write_mesh(
    dir: &Path,
    shared: &Path,
    trust_domain: &str,
    ca: &str,
    key: &str,
    chain: &str,
    root: &str,
) {
    fs::create_dir_all(dir).unwrap();
    let pem = |f: &str| {
        fs::read_to_string(shared.join("certs").join(f))
            .unwrap()
            .lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let yaml = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: istio, namespace: istio-system}}\ndata:\n  mesh: |\n    trustDomain: {trust_domain}\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata: {{name: cacerts, namespace: istio-system}}\nstringData:\n  ca-cert.pem: |\n{}\n  ca-key.pem: |\n{}\n  cert-chain.pem: |\n{}\n  root-cert.pem: |\n{}\n",
        pem(ca),
        pem(key),
        pem(chain),
        pem(root)
    );
    fs::write(dir.join("mesh.yaml"), yaml).unwrap();
}

#[test]
fn doctor_on_meshes_built_from_istio_samples() {
    let Some(shared) = shared_istio() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    // Two clusters with intermediates under the same alternative root: they trust each other.
    write_mesh(
        &a,
        &shared,
        "cluster1.local",
        "ca-cert-alt.pem",
        "ca-key-alt.pem",
        "cert-chain-alt.pem",
        "root-cert-alt.pem",
    );
    write_mesh(
        &b,
        &shared,
        "cluster2.local",
        "ca-cert-alt-2.pem",
        "ca-key-alt-2.pem",
        "cert-chain-alt-2.pem",
        "root-cert-alt.pem",
    );
    // A mesh under the other root.
    write_mesh(
        &c,
        &shared,
        "cluster3.local",
        "ca-cert.pem",
        "ca-key.pem",
        "cert-chain.pem",
        "root-cert.pem",
    );
    let run = |client: &Path, server: &Path| {
        istio_peer(&[
            "doctor",
            "--client",
            client.to_str().unwrap(),
            "--server",
            server.to_str().unwrap(),
            "--at",
            AT,
            "-o",
            "json",
        ])
        .json()
    };
    let codes = |report: &serde_json::Value| -> Vec<String> {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect()
    };
    let shared_root = run(&a, &b);
    let found = codes(&shared_root);
    assert!(
        found.iter().all(|c| c != "T001" && c != "T002"),
        "{found:?}"
    );
    // Istio's published `ca-key-alt-2.pem` is not the key of `ca-cert-alt-2.pem` (openssl
    // agrees: their public keys differ), so the server's bundle is rightly reported.
    let t004 = shared_root["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "T004")
        .expect("T004");
    assert_eq!(t004["mesh"], "server");
    assert!(
        t004["message"]
            .as_str()
            .unwrap()
            .contains("`ca-key.pem` is not the private key of `ca-cert.pem`")
    );
    let split = run(&a, &c);
    let split_codes = codes(&split);
    assert!(
        split_codes.contains(&"T001".to_string()) && split_codes.contains(&"T002".to_string()),
        "{split_codes:?}"
    );
}
