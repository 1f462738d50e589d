//! `istio-peer rules test DIR`: runs each rule of DIR against the fixture objects of
//! `DIR/tests/*.yaml` and compares with the expected outcome, like `conftest verify`.
//!
//! A test case is one YAML document:
//!
//! ```yaml
//! rule: U-001                 # the rule's code
//! case: DR without SANs       # what the case shows (optional)
//! mesh: client                # client (default) or server
//! object: {kind: DestinationRule, ...}   # or `route: {...}` for a route rule
//! violated: true
//! message: "does not pin"     # optional: a substring the rendered message must contain
//! ```

use std::io::Write;
use std::path::Path;

use checks::model::Side;
use checks::user::rules::{self, Outcome, Rule, Target};
use checks::yaml::{self, Budget};
use serde_json::Value;

use crate::cli::EXIT_USAGE;
use crate::user_checks::{load_rules, yaml_files};

const CASE_KEYS: &[&str] = &[
    "rule", "case", "mesh", "object", "route", "violated", "message",
];

struct Case {
    label: String,
    rule: String,
    mesh: Side,
    input: Value,
    /// The case gives a `route` (else an `object`).
    is_route: bool,
    violated: bool,
    message: Option<String>,
}

/// Returns the exit code: 0 every case passed, 1 a case failed, 2 a rule or case is invalid.
pub fn run(dir: &Path, out: &mut impl Write) -> u8 {
    let rules = match load_rules(&[dir.to_path_buf()]) {
        Ok(r) => r,
        Err(errors) => {
            for e in errors {
                eprintln!("istio-peer: {e}");
            }
            return EXIT_USAGE;
        }
    };
    let cases = match load_cases(&dir.join("tests"), &rules) {
        Ok(c) => c,
        Err(errors) => {
            for e in errors {
                eprintln!("istio-peer: {e}");
            }
            return EXIT_USAGE;
        }
    };
    let mut failed = 0;
    for case in &cases {
        let Some(rule) = rules.iter().find(|r| r.code == case.rule) else {
            continue;
        };
        match verdict(rule, case) {
            Ok(()) => {
                let _ = writeln!(out, "PASS {} {}: {}", rule.code, rule.name, case.label);
            }
            Err(why) => {
                failed += 1;
                let _ = writeln!(
                    out,
                    "FAIL {} {}: {} — {why}",
                    rule.code, rule.name, case.label
                );
            }
        }
    }
    let untested: Vec<&str> = rules
        .iter()
        .filter(|r| !cases.iter().any(|c| c.rule == r.code))
        .map(|r| r.code.as_str())
        .collect();
    let _ = writeln!(
        out,
        "\n{} rule(s), {} case(s): {} passed, {failed} failed{}",
        rules.len(),
        cases.len(),
        cases.len() - failed,
        if untested.is_empty() {
            String::new()
        } else {
            format!("; without a case: {}", untested.join(", "))
        }
    );
    u8::from(failed > 0)
}

fn verdict(rule: &Rule, case: &Case) -> Result<(), String> {
    let wanted_route = rule.target == Target::Route;
    if wanted_route != case.is_route {
        return Err(if wanted_route {
            "a route rule needs `route:` in the case".into()
        } else {
            "an object rule needs `object:` in the case".into()
        });
    }
    if let Target::Kinds(kinds) = &rule.target {
        let kind = case.input["kind"].as_str().unwrap_or("(none)");
        if !rule.applies_to_kind(kind) {
            return Err(format!(
                "the case's object is a {kind}; the rule applies to {}",
                kinds.join(", ")
            ));
        }
    }
    // The rule sees Secrets as `doctor` hands them over: redacted.
    let mut redacted = case.input.clone();
    if redacted["kind"] == "Secret" {
        checks::redact::redact_secret(&mut redacted);
    }
    let input = &redacted;
    match rule.evaluate(input, case.mesh) {
        Outcome::Error(e) => Err(format!("the condition failed to evaluate: {e}")),
        Outcome::Violated if !case.violated => Err("violated, expected to pass".into()),
        Outcome::Passed if case.violated => Err("passed, expected a violation".into()),
        Outcome::Violated => {
            let message = rendered(rule, input, case.mesh);
            match &case.message {
                Some(want) if !message.contains(want.as_str()) => {
                    Err(format!("message `{message}` does not contain `{want}`"))
                }
                _ => Ok(()),
            }
        }
        Outcome::Passed => Ok(()),
    }
}

/// The message a finding would carry for this input.
fn rendered(rule: &Rule, input: &Value, mesh: Side) -> String {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let values: Vec<(&str, String)> = match rule.target {
        Target::Route => vec![
            ("namespace", text(&input["client_namespace"])),
            (
                "name",
                format!("{}:{}", text(&input["host"]), text(&input["port"])),
            ),
            ("kind", "Route".into()),
            ("mesh", mesh.as_str().into()),
            ("route", text(&input["id"])),
            ("host", text(&input["host"])),
            ("port", text(&input["port"])),
        ],
        Target::Kinds(_) => vec![
            ("namespace", text(&input["metadata"]["namespace"])),
            ("name", text(&input["metadata"]["name"])),
            ("kind", text(&input["kind"])),
            ("mesh", mesh.as_str().into()),
        ],
    };
    rules::render(&rule.message, &values)
}

fn load_cases(dir: &Path, rules: &[Rule]) -> Result<Vec<Case>, Vec<String>> {
    let files = if dir.is_dir() {
        yaml_files(dir).map_err(|e| vec![format!("{}: {e}", dir.display())])?
    } else {
        Vec::new()
    };
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        let label = file.display().to_string();
        let Ok(text) = std::fs::read_to_string(&file) else {
            errors.push(format!("{label}: cannot read as UTF-8 text"));
            continue;
        };
        let decoded = yaml::decode(&text, Budget::default());
        if let Some(e) = &decoded.error {
            errors.push(format!(
                "{label}:{}:{}: invalid YAML: {}",
                e.position.line, e.position.column, e.message
            ));
        }
        for doc in decoded.documents.iter().filter(|d| !d.value.is_null()) {
            let line = doc.start.line;
            match case_of(&doc.value, rules) {
                Ok(mut case) => {
                    if case.label.is_empty() {
                        case.label = format!("{label}:{line}");
                    }
                    cases.push(case);
                }
                Err(message) => errors.push(format!("{label}:{line}: {message}")),
            }
        }
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}

fn case_of(doc: &Value, rules: &[Rule]) -> Result<Case, String> {
    let map = doc.as_object().ok_or("a test case is a mapping")?;
    if let Some(key) = map.keys().find(|k| !CASE_KEYS.contains(&k.as_str())) {
        return Err(format!(
            "unknown field `{key}` (a case has: {})",
            CASE_KEYS.join(", ")
        ));
    }
    let rule = map
        .get("rule")
        .and_then(Value::as_str)
        .ok_or("missing `rule` (a rule code)")?;
    if !rules.iter().any(|r| r.code == rule) {
        return Err(format!("no rule {rule} in this directory"));
    }
    let violated = map
        .get("violated")
        .and_then(Value::as_bool)
        .ok_or("missing `violated: true|false`")?;
    let mesh = match map.get("mesh").and_then(Value::as_str) {
        None | Some("client") => Side::Client,
        Some("server") => Side::Server,
        Some(other) => return Err(format!("mesh `{other}` is neither client nor server")),
    };
    let (input, is_route) = match (map.get("object"), map.get("route")) {
        (Some(o), None) => (o.clone(), false),
        (None, Some(r)) => (r.clone(), true),
        _ => return Err("a case has either `object` or `route`".into()),
    };
    Ok(Case {
        label: map
            .get("case")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        rule: rule.to_string(),
        mesh,
        input,
        is_route,
        violated,
        message: map
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}
