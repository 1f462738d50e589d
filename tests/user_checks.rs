//! User checks: plug-in executables (the protocol, failures, selection) and declarative CEL
//! rules (errors, evaluation, `rules test`), sharing findings, overrides, waivers and outputs
//! with the built-in catalogue. The examples in `examples/` are exercised here.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{
    Run, codes, copy_fixture, doctor, istio_peer, istio_peer_in, root, with_code,
    write_plugin as plugin,
};

const AT: &str = "2027-06-01T00:00:00Z";

fn scenario(name: &str) -> PathBuf {
    root().join("fixtures/scenarios").join(name)
}

fn examples(sub: &str) -> String {
    root().join("examples").join(sub).display().to_string()
}

/// `doctor -o json` on the healthy scenario with the plug-ins of `dir`.
fn healthy_with_plugins(dir: &Path, timeout_seconds: &str) -> Run {
    let checks_dir = dir.display().to_string();
    doctor(
        &scenario("healthy"),
        AT,
        &[
            "--checks-dir",
            &checks_dir,
            "--plugin-timeout",
            timeout_seconds,
            "-o",
            "json",
        ],
    )
}

/// `doctor -o json` on the healthy scenario with one rules file.
fn healthy_with_rule_file(name: &str, text: &str) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(name), text).expect("write rules");
    let rules_dir = dir.path().display().to_string();
    doctor(
        &scenario("healthy"),
        AT,
        &["--rules", &rules_dir, "-o", "json"],
    )
}

/// The healthy scenario with A's remote host renamed (breaks the naming convention only).
fn renamed_host() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let healthy = scenario("healthy");
    copy_fixture(&healthy.join("client"), &dir.path().join("client"), |t| {
        t.replace("api.payments.mesh-b.global", "payments-api.example.com")
    });
    copy_fixture(&healthy.join("server"), &dir.path().join("server"), |t| t);
    dir
}

#[test]
fn the_model_handed_to_plugins_matches_the_published_schema_and_holds_no_key() {
    let schema_run = istio_peer(&["schema"]);
    assert_eq!(schema_run.code, 0);
    let schema: Value = serde_json::from_str(&schema_run.stdout).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let dir = tempfile::tempdir().expect("tempdir");
    let captured = dir.path().join("input.json");
    plugin(
        dir.path(),
        "capture",
        &format!(
            "cat > '{}'\necho '{{\"findings\": []}}'",
            captured.display()
        ),
    );
    let run = healthy_with_plugins(dir.path(), "10");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&captured).expect("the plug-in got its input");
    let input: Value = serde_json::from_str(&text).expect("input is JSON");
    let errors: Vec<String> = validator
        .iter_errors(&input)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(input["schema_version"], 1);
    assert_eq!(
        input["routes"][0]["id"],
        "shop → api.payments.mesh-b.global:8080"
    );
    // The objects are there, Secrets without their keys.
    let objects = input["meshes"]["client"]["objects"]
        .as_array()
        .expect("objects");
    let cacerts = objects
        .iter()
        .find(|o| o["kind"] == "Secret" && o["metadata"]["name"] == "cacerts")
        .expect("cacerts is handed over");
    assert!(cacerts["data"].get("ca-key.pem").is_none(), "{cacerts}");
    assert!(cacerts["data"].get("ca-cert.pem").is_some());
    assert!(cacerts["metadata"]["annotations"]["istio-peer.io/key-facts"].is_string());
    assert!(!text.contains("PRIVATE KEY"));
    let fixture = std::fs::read_to_string(scenario("healthy").join("client/istio-system.yaml"))
        .expect("fixture");
    let key_b64 = fixture
        .lines()
        .find_map(|l| l.trim().strip_prefix("ca-key.pem: "))
        .expect("the fixture holds a CA key");
    assert!(
        !text.contains(key_b64.trim()),
        "the CA key leaked to a plug-in"
    );
    // The answer shape is in the schema too, and an example answer satisfies it.
    let output_schema =
        serde_json::json!({"$ref": "#/$defs/pluginOutput", "$defs": schema["$defs"]});
    let output_validator = jsonschema::validator_for(&output_schema).expect("output schema");
    let answer = serde_json::json!({"schema_version": 1, "findings": [{"code": "X-a-001", "name": "a", "severity": "info", "message": "m", "fix": "f"}]});
    assert!(output_validator.is_valid(&answer));
    assert!(!output_validator.is_valid(&serde_json::json!({"findings": [{"code": "T001", "name": "a", "severity": "info", "message": "m"}]})));
}

#[test]
fn the_example_plugin_reports_with_the_file_and_line_of_the_object_it_cites() {
    let renamed = renamed_host();
    let plugins = examples("plugins");
    let run = crate::common::doctor_on(
        &renamed.path().join("client"),
        &renamed.path().join("server"),
        AT,
        &["--checks-dir", &plugins, "-o", "json"],
    );
    let report = run.json();
    let found = with_code(&report, "X-host-naming-001");
    assert_eq!(found.len(), 1, "{}\n{}", run.stdout, run.stderr);
    let f = found[0];
    assert_eq!(f["category"], "plug-in");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["route"], "shop → payments-api.example.com:8080");
    let evidence = &f["evidence"][0];
    assert_eq!(evidence["kind"], "ServiceEntry");
    assert!(
        evidence["location"]["path"]
            .as_str()
            .unwrap_or("")
            .ends_with("client/shop.yaml"),
        "{evidence}"
    );
    assert!(
        evidence["location"]["line"].as_u64().unwrap_or(0) > 1,
        "{evidence}"
    );
    // A warning: the gate passes.
    assert_eq!(run.code, 0);
    // The healthy scenario follows the convention.
    let healthy = doctor(
        &scenario("healthy"),
        AT,
        &["--checks-dir", &plugins, "-o", "json"],
    );
    assert!(with_code(&healthy.json(), "X-host-naming-001").is_empty());
}

#[test]
fn each_failing_plugin_is_one_e004_naming_it_and_the_run_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    plugin(dir.path(), "crashes", "echo 'boom: no model' >&2\nexit 3");
    plugin(dir.path(), "hangs", "sleep 30");
    plugin(dir.path(), "garbled", "echo 'not json'");
    plugin(
        dir.path(),
        "future",
        "echo '{\"schema_version\": 2, \"findings\": []}'",
    );
    plugin(
        dir.path(),
        "squatter",
        "echo '{\"findings\": [{\"code\": \"T001\", \"name\": \"x\", \"severity\": \"error\", \"message\": \"m\"}]}'",
    );
    plugin(
        dir.path(),
        "fine",
        "cat > /dev/null\necho '{\"findings\": [{\"code\": \"X-fine-001\", \"name\": \"all-good\", \"severity\": \"info\", \"message\": \"looked\"}]}'",
    );
    let run = healthy_with_plugins(dir.path(), "1");
    let report = run.json();
    let e004 = with_code(&report, "E004");
    let message = |name: &str| {
        e004.iter()
            .find(|f| {
                f["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains(&format!("plug-in `{name}`"))
            })
            .and_then(|f| f["message"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no E004 for {name}: {}", run.stdout))
    };
    assert!(message("crashes").contains("exited with status 3 (stderr: boom: no model)"));
    assert!(message("hangs").contains("timed out after 1 s"));
    assert!(message("garbled").contains("invalid findings JSON"));
    assert!(message("future").contains("schema version 2"));
    assert!(message("squatter").contains("code `T001`"));
    assert_eq!(e004.len(), 5, "{}", run.stdout);
    assert_eq!(with_code(&report, "X-fine-001").len(), 1);
    // Nothing failed, but five checks could not say: inconclusive.
    assert_eq!(run.code, 3);
    assert_eq!(report["verdict"], "inconclusive");
}

#[test]
fn plugins_are_selected_listed_and_disabled() {
    let plugins = examples("plugins");
    let rules = examples("rules");
    let renamed = renamed_host();
    let (client, server) = (renamed.path().join("client"), renamed.path().join("server"));
    let on = |extra: &[&str]| {
        let mut args = vec!["--checks-dir", plugins.as_str(), "-o", "json"];
        args.extend_from_slice(extra);
        crate::common::doctor_on(&client, &server, AT, &args)
    };
    assert!(
        codes(&on(&["--no-plugins"]).json())
            .iter()
            .all(|c| !c.starts_with("X-"))
    );
    assert!(
        codes(&on(&["--skip", "host-naming"]).json())
            .iter()
            .all(|c| !c.starts_with("X-"))
    );
    // --check runs only what it names (and the environment findings).
    let only = on(&["--check", "host-naming"]).json();
    assert_eq!(codes(&only), ["X-host-naming-001"]);
    assert_eq!(
        codes(&on(&["--check", "X-host-naming-001"]).json()),
        ["X-host-naming-001"]
    );
    assert!(codes(&on(&["--check", "X-host-naming-002"]).json()).is_empty());
    // Selecting what does not exist is a usage error, not a green run that checked nothing.
    for missing in ["no-such-check", "U-010", "X-other-001"] {
        let bad = on(&["--check", missing]);
        assert_eq!(bad.code, 2, "{missing}");
        assert!(bad.stderr.contains(missing), "{}", bad.stderr);
    }
    // A plug-in's name is not a finding's name: an override by it would do nothing.
    assert_eq!(on(&["--deny", "host-naming"]).code, 2);
    let denied = on(&["--deny", "X-host-naming-001"]);
    assert_eq!(denied.code, 1, "{}", denied.stdout);
    // `checks` lists plug-ins and rules beside the catalogue.
    let listed = istio_peer(&[
        "checks",
        "-o",
        "json",
        "--checks-dir",
        &plugins,
        "--rules",
        &rules,
    ])
    .json();
    let entries = listed["checks"].as_array().expect("checks");
    for (code, category) in [
        ("X-host-naming-*", "plug-in"),
        ("U-001", "rule"),
        ("U-002", "rule"),
        ("T001", "trust"),
    ] {
        assert!(
            entries
                .iter()
                .any(|e| e["code"] == code && e["category"] == category),
            "{code} not listed"
        );
    }
}

#[test]
fn the_example_rules_fire_with_locations_and_pass_on_the_healthy_pair() {
    let rules = examples("rules");
    let run = doctor(
        &scenario("verification-disabled"),
        AT,
        &["--rules", &rules, "-o", "json"],
    );
    let report = run.json();
    let u001 = with_code(&report, "U-001");
    assert_eq!(u001.len(), 1, "{}", run.stdout);
    assert_eq!(u001[0]["category"], "rule");
    assert_eq!(
        u001[0]["message"],
        "DestinationRule shop/api-payments-mesh-b sends traffic to mesh B without pinning the identities B presents."
    );
    let location = &u001[0]["evidence"][0]["location"];
    assert!(
        location["path"]
            .as_str()
            .unwrap_or("")
            .ends_with("client/shop.yaml"),
        "{location}"
    );
    assert_eq!(
        u001[0]["fix"]["summary"],
        "List the SPIFFE IDs of B's workloads in trafficPolicy.tls.subjectAltNames."
    );
    let u002 = with_code(&report, "U-002");
    assert_eq!(u002.len(), 1);
    assert_eq!(u002[0]["route"], "shop → api.payments.mesh-b.global:8080");
    assert!(
        u002[0]["evidence"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["kind"] == "DestinationRule"))
    );
    assert_eq!(run.code, 1);
    let healthy = doctor(&scenario("healthy"), AT, &["--rules", &rules, "-o", "json"]);
    assert_eq!(healthy.code, 0, "{}", healthy.stdout);
    assert!(codes(&healthy.json()).iter().all(|c| !c.starts_with("U-")));
}

#[test]
fn rule_errors_stop_the_run_before_analysis_with_file_and_line() {
    let run = healthy_with_rule_file(
        "bad.yaml",
        "code: U-010\nname: broken\nseverity: error\nkinds: [DestinationRule]\ncondition: \"object.spec.host ==\"\nmessage: m\n---\ncode: U-11\nname: Bad Name\nseverity: error\nroute: true\ncondition: \"route.tls_mode == 'x'\"\nmessage: m\ncolour: red\n",
    );
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty(), "no analysis: {}", run.stdout);
    for expected in [
        "bad.yaml:5:1: condition is not valid CEL",
        "bad.yaml:8:1: code `U-11` must be U-NNN",
        "bad.yaml:9:1: name `Bad Name` must be kebab-case",
        "bad.yaml:14:1: unknown field `colour`",
    ] {
        assert!(
            run.stderr.contains(expected),
            "missing `{expected}` in:\n{}",
            run.stderr
        );
    }
}

#[test]
fn a_rule_that_cannot_evaluate_is_e004_naming_it() {
    let run = healthy_with_rule_file(
        "r.yaml",
        "code: U-020\nname: needs-guard\nseverity: error\nkinds: [Service]\ncondition: \"object.spec.externalName.size() > 0\"\nmessage: m\n",
    );
    let e004 = with_code(&run.json(), "E004")
        .into_iter()
        .map(|f| f["message"].as_str().unwrap_or("").to_string())
        .collect::<Vec<_>>();
    assert_eq!(e004.len(), 1, "{e004:?}");
    assert!(
        e004[0].contains("rule U-020 needs-guard") && e004[0].contains("No such key: externalName"),
        "{e004:?}"
    );
    assert_eq!(run.code, 3);
}

#[test]
fn rules_test_runs_the_cases() {
    let good = istio_peer(&["rules", "test", &examples("rules")]);
    assert_eq!(good.code, 0, "{}{}", good.stdout, good.stderr);
    assert!(
        good.stdout
            .contains("2 rule(s), 6 case(s): 6 passed, 0 failed"),
        "{}",
        good.stdout
    );
    // A case whose expectation is wrong fails with the reason.
    let dir = tempfile::tempdir().expect("tempdir");
    copy_fixture(&root().join("examples/rules"), dir.path(), |t| t);
    copy_fixture(
        &root().join("examples/rules/tests"),
        &dir.path().join("tests"),
        |t| t.replacen("violated: true", "violated: false", 1),
    );
    let bad = istio_peer(&["rules", "test", &dir.path().display().to_string()]);
    assert_eq!(bad.code, 1);
    assert!(bad.stdout.contains("FAIL U-001 remote-dr-pins-sans: a DestinationRule to mesh B without SANs — violated, expected to pass"), "{}", bad.stdout);
    // A case must give an object the rule applies to, and Secrets are seen redacted, as in
    // `doctor`.
    let secrets = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(secrets.path().join("tests")).expect("dir");
    std::fs::write(
        secrets.path().join("keys.yaml"),
        "code: U-030\nname: no-keys-in-secrets\nseverity: error\nkinds: [Secret]\ncondition: \"'tls.key' in object.data\"\nmessage: m\n",
    )
    .expect("write");
    std::fs::write(
        secrets.path().join("tests/keys.yaml"),
        "rule: U-030\ncase: a key is never visible\nobject: {kind: Secret, metadata: {name: t}, data: {tls.key: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCg==}}\nviolated: false\n---\nrule: U-030\ncase: wrong kind\nobject: {kind: ConfigMap, metadata: {name: t}, data: {}}\nviolated: false\n",
    )
    .expect("write");
    let checked = istio_peer(&["rules", "test", &secrets.path().display().to_string()]);
    assert_eq!(checked.code, 1, "{}", checked.stdout);
    assert!(
        checked
            .stdout
            .contains("PASS U-030 no-keys-in-secrets: a key is never visible"),
        "{}",
        checked.stdout
    );
    assert!(
        checked
            .stdout
            .contains("wrong kind — the case's object is a ConfigMap; the rule applies to Secret"),
        "{}",
        checked.stdout
    );
    // A case naming a rule that does not exist is a usage error.
    std::fs::write(
        dir.path().join("tests/ghost.yaml"),
        "rule: U-999\nobject: {kind: X}\nviolated: true\n",
    )
    .expect("write");
    let invalid = istio_peer(&["rules", "test", &dir.path().display().to_string()]);
    assert_eq!(invalid.code, 2);
    assert!(
        invalid.stderr.contains("ghost.yaml:1: no rule U-999"),
        "{}",
        invalid.stderr
    );
}

#[test]
fn user_findings_take_overrides_waivers_and_every_output_format() {
    let rules = examples("rules");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("policy.toml");
    std::fs::write(
        &config,
        "allow = [\"U-001\"]\n\n[[waivers]]\ncode = \"U-00*\"\nroute = \"shop → *\"\nreason = \"migration to ISTIO_MUTUAL, NET-42\"\n",
    )
    .expect("write config");
    let sarif = dir.path().join("out.sarif");
    let junit = dir.path().join("out.xml");
    let run = doctor(
        &scenario("verification-disabled"),
        AT,
        &[
            "--rules",
            &rules,
            "--config",
            &config.display().to_string(),
            "-o",
            "json",
            "-o",
            &format!("sarif={}", sarif.display()),
            "-o",
            &format!("junit={}", junit.display()),
        ],
    );
    let report = run.json();
    assert_eq!(
        with_code(&report, "U-001")[0]["severity"],
        "info",
        "--allow applies"
    );
    let u002 = with_code(&report, "U-002");
    assert_eq!(
        u002[0]["waived"]["reason"],
        "migration to ISTIO_MUTUAL, NET-42"
    );
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif).expect("sarif")).expect("json");
    let invalid: Vec<String> = crate::ci_gate::sarif_validator()
        .iter_errors(&sarif)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(invalid.is_empty(), "{invalid:?}");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    let u001 = results
        .iter()
        .find(|r| r["ruleId"] == "U-001")
        .expect("U-001 in SARIF");
    assert!(
        u001["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap_or("")
            .ends_with("client/shop.yaml"),
        "{u001}"
    );
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    let index = u001["ruleIndex"].as_u64().expect("ruleIndex") as usize;
    assert_eq!(rules[index]["id"], "U-001", "the result points at its rule");
    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert!(xml.contains("U-002"), "{xml}");
}

#[test]
fn rules_in_the_default_directory_are_picked_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_fixture(
        &root().join("examples/rules"),
        &dir.path().join(".istio-peer/rules"),
        |t| t,
    );
    let s = scenario("verification-disabled");
    let (client, server) = (s.join("client"), s.join("server"));
    let run = istio_peer_in(
        dir.path(),
        &[
            "doctor",
            "--client",
            &client.display().to_string(),
            "--server",
            &server.display().to_string(),
            "--at",
            AT,
            "-o",
            "json",
        ],
    );
    assert_eq!(with_code(&run.json(), "U-001").len(), 1, "{}", run.stderr);
}

#[test]
fn plugin_pipes_are_drained_and_left_behind_children_do_not_hold_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let answer = "echo '{\"findings\": [{\"code\": \"X-NAME-001\", \"name\": \"ok\", \"severity\": \"info\", \"message\": \"answered\"}]}'";
    // 20 MB on stderr, then a valid answer.
    plugin(
        dir.path(),
        "chatty",
        &format!(
            "head -c 20000000 /dev/zero | tr '\\0' x >&2\n{}",
            answer.replace("NAME", "chatty")
        ),
    );
    // A background child keeps stdout open after the plug-in answered and exited.
    plugin(
        dir.path(),
        "forks",
        &format!("{}\n(sleep 30 &)\nexit 0", answer.replace("NAME", "forks")),
    );
    // More than 16 MiB on stdout.
    plugin(
        dir.path(),
        "flood",
        "head -c 20000000 /dev/zero | tr '\\0' x",
    );
    let run = healthy_with_plugins(dir.path(), "20");
    let report = run.json();
    assert_eq!(
        with_code(&report, "X-chatty-001").len(),
        1,
        "{}",
        run.stdout
    );
    assert_eq!(with_code(&report, "X-forks-001").len(), 1, "{}", run.stdout);
    let e004 = with_code(&report, "E004");
    assert_eq!(e004.len(), 1, "{}", run.stdout);
    let message = e004[0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("plug-in `flood`") && message.contains("printed more than 16 MiB"),
        "{message}"
    );
}
