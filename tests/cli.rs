//! The command-line contract: exit codes, JSON shape, input errors, key redaction.

use std::fs;

use crate::common::{copy_fixture, doctor, doctor_on, istio_peer, root};

const AT: &str = "2027-06-01T00:00:00Z";

#[test]
fn json_report_has_the_documented_shape() {
    let report = doctor(
        &root().join("fixtures/scenarios/trust-domain-not-accepted"),
        AT,
        &["-o", "json"],
    )
    .json();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["verdict"], "fail");
    for key in ["client", "server", "routes", "findings"] {
        assert!(!report[key].is_null(), "missing {key}");
    }
    let f = &report["findings"][0];
    for key in [
        "code",
        "name",
        "severity",
        "category",
        "mesh",
        "route",
        "message",
        "evidence",
        "fix",
        "root_cause",
        "caused_by",
    ] {
        assert!(f.get(key).is_some(), "finding lacks {key}: {f}");
    }
    assert_eq!(f["code"], "I001");
    assert_eq!(f["category"], "identity");
    assert_eq!(f["mesh"], "server");
    assert_eq!(f["route"], "shop → api.payments.mesh-b.global:8080");
    assert!(
        f["fix"]["yaml"]
            .as_str()
            .unwrap()
            .contains("trustDomains: [\"mesh-a.local\"]")
    );
    assert_eq!(report["routes"][0]["verdict"], "fails");
    assert_eq!(
        report["routes"][0]["root_causes"],
        serde_json::json!(["I001"])
    );
}

#[test]
fn fail_on_moves_the_threshold_and_exit_codes_do_not_depend_on_format() {
    let dir = root().join("fixtures/scenarios/certificate-expiring");
    for format in ["table", "json"] {
        assert_eq!(
            doctor(&dir, AT, &["-o", format]).code,
            0,
            "a warning passes by default"
        );
        assert_eq!(
            doctor(&dir, AT, &["-o", format, "--fail-on", "warning"]).code,
            1
        );
    }
    let failing = root().join("fixtures/scenarios/certificate-expired");
    assert_eq!(doctor(&failing, AT, &["--fail-on", "never"]).code, 0);
    let report = doctor(&failing, AT, &["-o", "json", "--fail-on", "never"]).json();
    assert_eq!(report["verdict"], "pass");
}

#[test]
fn expiry_window_is_configurable() {
    let dir = root().join("fixtures/scenarios/certificate-expiring");
    let report = doctor(&dir, AT, &["-o", "json", "--expiry-warning", "5"]).json();
    assert!(
        report["findings"].as_array().unwrap().is_empty(),
        "10 days left is outside a 5-day window"
    );
}

#[test]
fn missing_input_is_inconclusive_not_a_pass() {
    let run = doctor(
        &root().join("fixtures/scenarios/ca-material-missing"),
        AT,
        &["-o", "json"],
    );
    assert_eq!(run.code, 3);
    let report = run.json();
    assert_eq!(report["verdict"], "inconclusive");
    let e001 = &report["findings"][0];
    assert!(
        e001["message"]
            .as_str()
            .unwrap()
            .contains("skipped: T001, T002"),
        "{e001}"
    );
}

#[test]
fn unreadable_input_path_and_bad_flags_are_usage_errors() {
    let run = istio_peer(&[
        "doctor",
        "--client",
        "/nonexistent/a",
        "--server",
        "/nonexistent/b",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cannot read input `/nonexistent/a`"),
        "{}",
        run.stderr
    );
    let healthy = root().join("fixtures/scenarios/healthy");
    let h = healthy.join("client");
    let bad_at = istio_peer(&[
        "doctor",
        "--client",
        h.to_str().unwrap(),
        "--server",
        h.to_str().unwrap(),
        "--at",
        "yesterday",
    ]);
    assert_eq!(bad_at.code, 2);
    assert_eq!(istio_peer(&["doctor"]).code, 2);
    assert_eq!(istio_peer(&["frobnicate"]).code, 2);
}

#[test]
fn malformed_documents_are_reported_with_position_and_the_rest_is_analysed() {
    let run = doctor(
        &root().join("fixtures/scenarios/malformed-input"),
        AT,
        &["-o", "json"],
    );
    let report = run.json();
    let e002 = &report["findings"][0];
    assert_eq!(e002["code"], "E002");
    let location = &e002["evidence"][0]["location"];
    assert!(location["path"].as_str().unwrap().ends_with("broken.yaml"));
    assert!(location["line"].as_u64().unwrap() > 1);
    // The good objects were still read: the route exists and is otherwise healthy.
    assert_eq!(report["routes"][0]["topology"], "east-west");
}

#[test]
fn hostile_files_in_an_input_directory_do_not_stop_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let client = tmp.path().join("client");
    copy_fixture(
        &root().join("fixtures/scenarios/healthy/client"),
        &client,
        |t| t,
    );
    fs::write(client.join("binary.yaml"), [0x66, 0x6f, 0xff, 0xfe, 0x0a]).unwrap();
    fs::write(client.join("wrong-types.yaml"), "apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: shop}\nspec:\n  ports:\n  - port: abc\n").unwrap();
    fs::write(client.join("list.yaml"), "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: extra}\n").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&client, client.join("loop")).unwrap();
    let run = doctor_on(
        &client,
        &root().join("fixtures/scenarios/healthy/server"),
        AT,
        &["-o", "json"],
    );
    let report = run.json();
    let e002: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "E002")
        .collect();
    assert_eq!(e002.len(), 2, "{e002:?}");
    assert!(
        e002.iter()
            .any(|f| f["message"].as_str().unwrap().contains("not UTF-8"))
    );
    let types = e002
        .iter()
        .find(|f| f["message"].as_str().unwrap().contains("Service shop/x"))
        .unwrap();
    assert_eq!(types["evidence"][0]["field"], "spec.ports[0].port");
    assert_eq!(report["routes"][0]["verdict"], "ok");
    assert_eq!(run.code, 1);
}

#[test]
fn private_keys_never_appear_in_any_output() {
    // Every scenario holds CA keys in its Secrets; collect the key bodies and look for them.
    let scenarios = root().join("fixtures/scenarios");
    let mut key_lines = Vec::new();
    for entry in fs::read_dir(&scenarios).unwrap().flatten() {
        for side in ["client", "server"] {
            for file in fs::read_dir(entry.path().join(side))
                .into_iter()
                .flatten()
                .flatten()
            {
                let text = fs::read_to_string(file.path()).unwrap_or_default();
                for (key, value) in base64_values(&text) {
                    if key.contains("key") {
                        key_lines.push(value);
                    }
                }
            }
        }
    }
    assert!(
        !key_lines.is_empty(),
        "fixtures should contain keys for this test to mean anything"
    );
    for name in ["healthy", "ca-bundle-invalid", "split-roots-self-signed"] {
        for format in ["table", "json"] {
            let run = doctor(&scenarios.join(name), AT, &["-o", format]);
            let all = format!("{}{}", run.stdout, run.stderr);
            assert!(
                !all.contains("PRIVATE KEY"),
                "{name}/{format} printed a PEM key header"
            );
            for key in &key_lines {
                assert!(
                    !all.contains(key.as_str()),
                    "{name}/{format} printed key material"
                );
            }
        }
    }
}

/// `key: base64` pairs from Secret `data` blocks (long values only).
fn base64_values(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.trim().split_once(": "))
        .filter(|(_, v)| {
            v.len() > 40
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c))
        })
        .map(|(k, v)| (k.to_string(), v[..40].to_string()))
        .collect()
}
