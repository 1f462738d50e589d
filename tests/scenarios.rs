//! Every fixture scenario, run through the real binary: the exact codes, the root causes and
//! the exit code its `scenario.toml` promises.

use std::collections::BTreeSet;
use std::fs;

use crate::common::{doctor, root};

#[derive(serde::Deserialize)]
struct Expectation {
    description: String,
    at: String,
    expect: Vec<String>,
    #[serde(default)]
    root_causes: Vec<String>,
    exit: i32,
    /// Extra `doctor` arguments (e.g. `--host`).
    #[serde(default)]
    args: Vec<String>,
}

fn scenarios() -> Vec<(String, Expectation)> {
    let dir = root().join("fixtures/scenarios");
    let mut out: Vec<(String, Expectation)> = fs::read_dir(&dir)
        .expect("fixtures/scenarios")
        .flatten()
        .filter(|e| e.path().join("scenario.toml").is_file())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let text = fs::read_to_string(e.path().join("scenario.toml")).unwrap();
            let exp: Expectation =
                toml::from_str(&text).unwrap_or_else(|err| panic!("{name}/scenario.toml: {err}"));
            (name, exp)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn every_scenario_reports_exactly_its_expected_codes() {
    let mut failures = Vec::new();
    for (name, exp) in scenarios() {
        assert!(!exp.description.is_empty(), "{name}: describe the scenario");
        let mut args = vec!["-o", "json"];
        args.extend(exp.args.iter().map(String::as_str));
        let run = doctor(
            &root().join("fixtures/scenarios").join(&name),
            &exp.at,
            &args,
        );
        let report = run.json();
        let findings = report["findings"].as_array().unwrap();
        let got: BTreeSet<String> = findings
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect();
        let want: BTreeSet<String> = exp.expect.iter().cloned().collect();
        let got_roots: BTreeSet<String> = findings
            .iter()
            .filter(|f| f["root_cause"] == true)
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect();
        let want_roots: BTreeSet<String> = if exp.root_causes.is_empty() {
            want.clone()
        } else {
            exp.root_causes.iter().cloned().collect()
        };
        if got != want {
            failures.push(format!("{name}: codes {got:?}, expected {want:?}"));
        }
        if got_roots != want_roots {
            failures.push(format!(
                "{name}: root causes {got_roots:?}, expected {want_roots:?}"
            ));
        }
        if run.code != exp.exit {
            failures.push(format!(
                "{name}: exit {}, expected {} ({})",
                run.code, exp.exit, run.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_check_has_a_failing_scenario_and_the_healthy_pair_passes() {
    let all = scenarios();
    let covered: BTreeSet<String> = all
        .iter()
        .flat_map(|(_, e)| e.expect.iter().cloned())
        .collect();
    // Live checks (L) need a peer or running proxies, not manifests: tests/probes.rs covers
    // L001–L008 with real TLS servers, tests/inspect.rs L009–L010 with fake Envoy admin
    // servers. E003 comes from the policy step (a waiver that matched nothing):
    // tests/ci_gate.rs covers it; E004 from user checks: tests/user_checks.rs.
    let missing: Vec<&str> = checks::registry::all()
        .iter()
        .map(|c| c.info.code)
        .filter(|code| !code.starts_with('L') && !matches!(*code, "E003" | "E004"))
        .filter(|code| !covered.contains(*code))
        .collect();
    assert!(
        missing.is_empty(),
        "checks without a failing fixture: {missing:?}"
    );
    let healthy = all
        .iter()
        .find(|(n, _)| n == "healthy")
        .expect("a healthy scenario");
    assert!(healthy.1.expect.is_empty() && healthy.1.exit == 0);
}

#[test]
fn the_healthy_route_is_east_west_and_ok() {
    let run = doctor(
        &root().join("fixtures/scenarios/healthy"),
        "2027-06-01T00:00:00Z",
        &["-o", "json"],
    );
    let report = run.json();
    assert_eq!(report["verdict"], "pass");
    let route = &report["routes"][0];
    assert_eq!(route["id"], "shop → api.payments.mesh-b.global:8080");
    assert_eq!(route["topology"], "east-west");
    assert_eq!(route["verdict"], "ok");
    assert_eq!(route["address"], "203.0.113.10:15443");
    assert_eq!(
        route["sni"],
        "outbound_.8080_._.api.payments.svc.cluster.local"
    );
    assert_eq!(
        route["server_identities"][0],
        "spiffe://mesh-b.local/ns/payments/sa/api"
    );
    assert_eq!(
        route["caller_identities"][0],
        "spiffe://mesh-a.local/ns/shop/sa/frontend"
    );
    assert_eq!(
        report["server"]["accepted_trust_domains"][1]["trust_domain"],
        "mesh-a.local"
    );
}

#[test]
fn findings_point_at_the_field_line_in_the_file() {
    let run = doctor(
        &root().join("fixtures/scenarios/server-identity-mismatch"),
        "2027-06-01T00:00:00Z",
        &["-o", "json"],
    );
    let report = run.json();
    let finding = &report["findings"][0];
    assert_eq!(finding["code"], "I002");
    let evidence = &finding["evidence"][0];
    assert_eq!(evidence["kind"], "DestinationRule");
    assert_eq!(evidence["field"], "spec.trafficPolicy.tls.subjectAltNames");
    let location = &evidence["location"];
    let path = location["path"].as_str().unwrap();
    let line = location["line"].as_u64().unwrap() as usize;
    let text = fs::read_to_string(path).unwrap();
    let at_line = text.lines().nth(line - 1).unwrap();
    assert!(
        at_line.trim_start().starts_with("subjectAltNames:"),
        "line {line} is `{at_line}`"
    );
}

#[test]
fn consequences_name_their_root_cause() {
    let run = doctor(
        &root().join("fixtures/scenarios/split-roots-self-signed"),
        "2027-06-01T00:00:00Z",
        &["-o", "json"],
    );
    let report = run.json();
    let t001 = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "T001")
        .unwrap();
    assert_eq!(t001["root_cause"], false);
    assert_eq!(t001["caused_by"], serde_json::json!(["T007"]));
    assert_eq!(
        report["routes"][0]["root_causes"],
        serde_json::json!(["T007"])
    );
    // Root causes come first.
    assert_eq!(report["findings"][0]["code"], "T007");
}

#[test]
fn the_table_leads_with_the_verdict_and_root_cause_fix() {
    let run = doctor(
        &root().join("fixtures/scenarios/chain-incomplete"),
        "2027-06-01T00:00:00Z",
        &[],
    );
    assert_eq!(run.code, 1);
    let first = run.stdout.lines().next().unwrap();
    assert!(first.starts_with("FAIL"), "{first}");
    let roots = run.stdout.find("Root causes").unwrap();
    let t005 = run
        .stdout
        .find("error T005 chain-incomplete [server]")
        .unwrap();
    let consequences = run.stdout.find("Consequences").unwrap();
    assert!(roots < t005 && t005 < consequences);
    assert!(run.stdout.contains("fix: Add every intermediate"));
    assert!(
        !run.stdout.contains("\x1b["),
        "no colours when NO_COLOR is set / not a TTY"
    );
}

#[test]
fn host_filter_limits_routes() {
    let dir = root().join("fixtures/scenarios/healthy");
    let run = doctor(
        &dir,
        "2027-06-01T00:00:00Z",
        &["-o", "json", "--host", "other.example.com"],
    );
    let report = run.json();
    let routes = report["routes"].as_array().unwrap();
    assert!(
        routes.iter().all(|r| r["host"] == "other.example.com"),
        "{routes:?}"
    );
    let run = doctor(
        &dir,
        "2027-06-01T00:00:00Z",
        &["-o", "json", "--host", "api.payments.mesh-b.global"],
    );
    assert_eq!(run.json()["routes"].as_array().unwrap().len(), 1);
}
