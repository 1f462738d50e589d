//! The pre-deploy CI gate: every output format, severity overrides, waivers, opt-outs,
//! baselines, and exit codes that never depend on the format.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::{Run, copy_fixture, doctor_on, istio_peer, root};

const AT: &str = "2027-06-01T00:00:00Z";

fn scenario(name: &str) -> PathBuf {
    root().join("fixtures/scenarios").join(name)
}

/// `doctor` on a scenario with relative paths (as a CI job would run it), plus `extra`.
fn gate(name: &str, extra: &[&str]) -> Run {
    let client = format!("fixtures/scenarios/{name}/client");
    let server = format!("fixtures/scenarios/{name}/server");
    let mut args = vec![
        "doctor",
        "--client",
        &client,
        "--server",
        &server,
        "--at",
        AT,
        "--client-name",
        "mesh-a",
        "--server-name",
        "mesh-b",
    ];
    args.extend_from_slice(extra);
    istio_peer(&args)
}

#[test]
fn sarif_is_valid_sarif_2_1_0_with_locations_and_stable_fingerprints() {
    let validator = sarif_validator();
    for name in ["split-roots-self-signed", "sni-not-routable", "healthy"] {
        let run = gate(name, &["-o", "sarif"]);
        let sarif: serde_json::Value = serde_json::from_str(&run.stdout).expect("SARIF is JSON");
        let errors: Vec<String> = validator
            .iter_errors(&sarif)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{name}: SARIF violates the schema:\n{}",
            errors.join("\n")
        );
        let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .expect("rules");
        assert_eq!(
            rules.len(),
            checks::registry::all().len(),
            "one rule per catalogue code"
        );
        let results = sarif["runs"][0]["results"].as_array().expect("results");
        for r in results {
            let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap_or("");
            assert!(
                uri.starts_with("fixtures/scenarios/"),
                "{name}: relative uri expected, got `{uri}`"
            );
            assert!(
                r["locations"][0]["physicalLocation"]["region"]["startLine"]
                    .as_u64()
                    .unwrap_or(0)
                    >= 1
            );
            assert!(
                !r["partialFingerprints"]["istioPeerFinding/v1"]
                    .as_str()
                    .unwrap_or("")
                    .is_empty()
            );
        }
        let again: serde_json::Value =
            serde_json::from_str(&gate(name, &["-o", "sarif"]).stdout).expect("JSON");
        assert_eq!(
            fingerprints(&sarif),
            fingerprints(&again),
            "{name}: fingerprints must be stable across runs"
        );
    }
    let sarif: serde_json::Value =
        serde_json::from_str(&gate("sni-not-routable", &["-o", "sarif"]).stdout).expect("JSON");
    let g002 = sarif["runs"][0]["results"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["ruleId"] == "G002")
        .expect("G002");
    assert_eq!(g002["level"], "error");
    assert!(
        g002["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap_or("")
            .ends_with("client/shop.yaml")
    );
}

/// The vendored SARIF 2.1.0 schema.
pub fn sarif_validator() -> jsonschema::Validator {
    let text =
        fs::read_to_string(root().join("tests/data/sarif-2.1.0-rtm.5.json")).expect("schema");
    // The published schema's `language` patterns carry a stray `]` that no regex engine
    // compiles; fix that typo so the schema itself passes meta-validation.
    let text = text.replace(
        r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#,
        r#""^[a-zA-Z]{2}(-[a-zA-Z]{2})?$""#,
    );
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema JSON");
    jsonschema::draft4::new(&schema).expect("compile schema")
}

fn fingerprints(sarif: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = sarif["runs"][0]["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            r["partialFingerprints"]["istioPeerFinding/v1"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    out.sort();
    out
}

#[test]
fn junit_is_well_formed_with_failures_and_skips() {
    let run = gate("split-roots-self-signed", &["-o", "junit"]);
    let doc = roxmltree::Document::parse(&run.stdout).expect("JUnit XML parses");
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .expect("a testsuite");
    assert_eq!(suite.attribute("name"), Some("mesh-a → mesh-b"));
    let failures: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .filter_map(|n| n.attribute("type"))
        .collect();
    assert!(
        failures.contains(&"T001") && failures.contains(&"T002"),
        "{failures:?}"
    );
    assert!(
        !failures.contains(&"T007"),
        "a warning does not fail at --fail-on error"
    );
    let tests: usize = suite
        .attribute("tests")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    assert_eq!(
        tests,
        doc.descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .count()
    );
    assert_eq!(
        suite
            .attribute("failures")
            .and_then(|f| f.parse::<usize>().ok()),
        Some(failures.len())
    );

    let skipped = gate("ca-material-missing", &["-o", "junit"]);
    let doc = roxmltree::Document::parse(&skipped.stdout).expect("parses");
    let skipped_cases: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase") && n.children().any(|c| c.has_tag_name("skipped")))
        .filter_map(|n| n.attribute("name").map(str::to_string))
        .collect();
    assert!(
        skipped_cases.iter().any(|n| n.starts_with("T001")),
        "{skipped_cases:?}"
    );
    assert_eq!(skipped.code, 3);
}

#[test]
fn github_annotations_and_markdown_summary() {
    let run = gate("sni-not-routable", &["-o", "github"]);
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("::error "))
        .expect("an error annotation");
    assert!(
        line.contains("file=fixtures/scenarios/sni-not-routable/client/shop.yaml,line="),
        "{line}"
    );
    assert!(line.contains("title=G002 sni-not-routable::"), "{line}");
    assert!(
        run.stdout
            .lines()
            .last()
            .unwrap_or("")
            .starts_with("istio-peer Fail"),
        "{}",
        run.stdout
    );

    let md = gate("sni-not-routable", &["-o", "markdown"]);
    assert!(
        md.stdout.starts_with("### istio-peer: ❌ FAIL"),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout.contains("| `G002` sni-not-routable |"),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout
            .contains("| shop → api.payments.mesh-b.global:8080 | east-west | **fails** | G002 |"),
        "{}",
        md.stdout
    );
}

#[test]
fn several_formats_in_one_run_and_output_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sarif = tmp.path().join("r.sarif");
    let junit = tmp.path().join("r.xml");
    let sarif_arg = format!("sarif={}", sarif.display());
    let junit_path = junit.display().to_string();
    let run = gate(
        "authz-denies-client",
        &[
            "-o",
            "table",
            "-o",
            &sarif_arg,
            "-o",
            "junit",
            "--output-file",
            &junit_path,
        ],
    );
    assert_eq!(run.code, 1);
    assert!(run.stdout.starts_with("FAIL"), "the table goes to stdout");
    assert!(
        fs::read_to_string(&sarif)
            .expect("sarif file")
            .contains("\"ruleId\": \"I003\"")
    );
    assert!(
        fs::read_to_string(&junit)
            .expect("junit file")
            .contains("<testsuites")
    );
    let two_on_stdout = gate("healthy", &["-o", "table", "-o", "json"]);
    assert_eq!(two_on_stdout.code, 2);
    assert_eq!(gate("healthy", &["-o", "pdf"]).code, 2);
}

fn write_config(dir: &Path, text: &str) -> String {
    let path = dir.join("istio-peer.toml");
    fs::write(&path, text).expect("write config");
    path.display().to_string()
}

#[test]
fn severity_overrides_from_flags_and_config() {
    // I004 is a warning: passes by default, fails when denied, by code or by category.
    assert_eq!(gate("trust-domain-collision", &[]).code, 0);
    assert_eq!(gate("trust-domain-collision", &["--deny", "I004"]).code, 1);
    assert_eq!(
        gate("trust-domain-collision", &["--deny", "identity"]).code,
        1
    );
    // Allowing the only error makes the run pass, and the finding is still reported as info.
    let allowed = gate(
        "sni-not-routable",
        &["--allow", "sni-not-routable", "-o", "json"],
    );
    assert_eq!(allowed.code, 0);
    assert_eq!(allowed.json()["findings"][0]["severity"], "info");
    assert_eq!(gate("healthy", &["--deny", "Z999"]).code, 2);
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = write_config(tmp.path(), "fail_on = \"warning\"\n");
    assert_eq!(
        gate("trust-domain-collision", &["--config", &config]).code,
        1
    );
    assert_eq!(
        gate(
            "trust-domain-collision",
            &["--config", &config, "--fail-on", "error"]
        )
        .code,
        0,
        "flags win"
    );
}

#[test]
fn waivers_waive_report_expire_and_go_stale() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let active = write_config(
        tmp.path(),
        "[[waivers]]\ncode = \"G002\"\nroute = \"shop → *\"\nreason = \"mesh-b migration, JIRA-42\"\nexpires = \"2099-01-01\"\n",
    );
    let run = gate("sni-not-routable", &["--config", &active, "-o", "json"]);
    assert_eq!(run.code, 0, "waived findings do not fail");
    let report = run.json();
    let g002 = &report["findings"][0];
    assert_eq!(g002["code"], "G002", "the waived finding is still reported");
    assert_eq!(g002["waived"]["reason"], "mesh-b migration, JIRA-42");
    assert!(
        g002["waived"]["by"]
            .as_str()
            .unwrap_or("")
            .ends_with("istio-peer.toml:1")
    );

    let expired = write_config(
        tmp.path(),
        "[[waivers]]\ncode = \"G002\"\nreason = \"old\"\nexpires = \"2027-01-01\"\n",
    );
    let run = gate("sni-not-routable", &["--config", &expired, "-o", "json"]);
    assert_eq!(run.code, 1, "an expired waiver stops waiving");
    assert_eq!(run.json()["findings"][0]["waiver_expired"]["reason"], "old");

    let stale = write_config(
        tmp.path(),
        "[[waivers]]\ncode = \"T001\"\nreason = \"long fixed\"\n",
    );
    let run = gate("healthy", &["--config", &stale, "-o", "json"]);
    assert_eq!(run.code, 0);
    let e003 = &run.json()["findings"][0];
    assert_eq!(e003["code"], "E003");
    assert_eq!(e003["severity"], "info");

    let broken = write_config(
        tmp.path(),
        "[[waivers]]\ncode = \"T001\"\nreason = \"x\"\nwhen = \"later\"\n",
    );
    let run = gate("healthy", &["--config", &broken]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("istio-peer.toml:"), "{}", run.stderr);
}

#[test]
fn in_resource_opt_out_is_recorded() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let client = tmp.path().join("client");
    // Annotate the DestinationRule that sets the SNI.
    copy_fixture(
        &scenario("sni-not-routable").join("client"),
        &client,
        |text| {
            text.replace(
            "kind: DestinationRule\nmetadata:\n",
            "kind: DestinationRule\nmetadata:\n  annotations:\n    istio-peer.io/ignore: \"G002\"\n",
        )
        },
    );
    let run = doctor_on(
        &client,
        &scenario("sni-not-routable").join("server"),
        AT,
        &["-o", "json"],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    let g002 = &run.json()["findings"][0];
    assert_eq!(g002["code"], "G002");
    assert!(
        g002["waived"]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("istio-peer.io/ignore on DestinationRule shop/"),
        "{g002}"
    );
}

#[test]
fn baseline_only_fails_new_findings() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let baseline = tmp.path().join("baseline.json");
    let first = gate(
        "split-roots-self-signed",
        &["-o", &format!("json={}", baseline.display())],
    );
    assert_eq!(first.code, 1);
    let base = baseline.display().to_string();
    let again = gate(
        "split-roots-self-signed",
        &["--baseline", &base, "-o", "json"],
    );
    assert_eq!(again.code, 0, "nothing new");
    assert!(
        again.json()["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|f| f["in_baseline"] == true)
    );
    let other = gate("sni-not-routable", &["--baseline", &base]);
    assert_eq!(other.code, 1, "a new finding fails");
    assert_eq!(
        gate("healthy", &["--baseline", "/nonexistent.json"]).code,
        2
    );
}

#[test]
fn exit_codes_do_not_depend_on_the_format() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let waiver = write_config(
        tmp.path(),
        "[[waivers]]\ncode = \"T00*\"\nreason = \"known\"\n",
    );
    let baseline = tmp.path().join("b.json");
    let _ = gate(
        "split-roots-self-signed",
        &["-o", &format!("json={}", baseline.display())],
    );
    let base = baseline.display().to_string();
    let cases: Vec<(&str, Vec<&str>, i32)> = vec![
        ("split-roots-self-signed", vec![], 1),
        ("split-roots-self-signed", vec!["--fail-on", "never"], 0),
        ("split-roots-self-signed", vec!["--config", &waiver], 0),
        (
            "split-roots-self-signed",
            vec!["--config", &waiver, "--fail-on", "warning"],
            0,
        ),
        ("split-roots-self-signed", vec!["--baseline", &base], 0),
        ("trust-domain-collision", vec!["--fail-on", "warning"], 1),
        ("trust-domain-collision", vec![], 0),
        ("ca-material-missing", vec![], 3),
        ("healthy", vec![], 0),
    ];
    for (name, extra, expected) in cases {
        for format in ["table", "json", "sarif", "junit", "github", "markdown"] {
            let mut args = extra.clone();
            args.extend(["-o", format]);
            let run = gate(name, &args);
            assert_eq!(
                run.code, expected,
                "{name} {extra:?} -o {format}: {}",
                run.stderr
            );
        }
    }
}

#[test]
fn golden_reports() {
    // Golden files for each format on two fixtures; UPDATE_SNAPSHOTS=1 rewrites them.
    for name in ["sni-not-routable", "gateway-credential-untrusted-client"] {
        for (format, ext) in [
            ("table", "txt"),
            ("json", "json"),
            ("sarif", "sarif"),
            ("junit", "xml"),
            ("github", "github"),
            ("markdown", "md"),
        ] {
            let run = gate(name, &["-o", format]);
            let actual = normalise(&run.stdout);
            let path = root().join("tests/golden").join(format!("{name}.{ext}"));
            if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
                fs::create_dir_all(path.parent().expect("parent")).expect("dir");
                fs::write(&path, &actual).expect("write golden");
            }
            let expected = fs::read_to_string(&path).unwrap_or_default();
            assert!(
                actual == expected,
                "{} differs from its golden file; review and run with UPDATE_SNAPSHOTS=1",
                path.display()
            );
        }
    }
}

/// What may differ between machines: the tool version.
fn normalise(text: &str) -> String {
    text.replace(env!("CARGO_PKG_VERSION"), "<version>")
}
