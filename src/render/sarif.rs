//! SARIF 2.1.0 for GitHub code scanning and other SARIF consumers.

use checks::engine::Report;
use checks::finding::{Finding, Severity};
use checks::registry;
use serde_json::{Value, json};

use super::relative_path;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

pub fn render(report: &Report) -> String {
    let rules: Vec<Value> = registry::all()
        .iter()
        .map(|c| {
            let i = &c.info;
            let text = registry::explanation(i);
            json!({
                "id": i.code,
                "name": i.name,
                "shortDescription": { "text": i.summary },
                "fullDescription": { "text": text },
                "help": { "text": text, "markdown": text },
                "defaultConfiguration": { "level": level(i.severity) },
                "properties": { "category": i.category.as_str(), "tags": ["istio", "mtls", i.category.as_str()] },
            })
        })
        .collect();
    // User checks (plug-ins, rules) that reported: a rule each, after the catalogue.
    let mut user_codes: Vec<&Finding> = Vec::new();
    for f in &report.findings {
        if registry::find(&f.code).is_none() && !user_codes.iter().any(|u| u.code == f.code) {
            user_codes.push(f);
        }
    }
    let mut rules = rules;
    rules.extend(user_codes.iter().map(|f| {
        json!({
            "id": f.code,
            "name": f.name,
            "shortDescription": { "text": format!("{} ({} check)", f.name, f.category.as_str()) },
            "defaultConfiguration": { "level": level(f.severity) },
            "properties": { "category": f.category.as_str(), "tags": ["istio", "mtls", f.category.as_str()] },
        })
    }));
    let index_of = |code: &str| {
        registry::all()
            .iter()
            .position(|c| c.info.code == code)
            .or_else(|| {
                user_codes
                    .iter()
                    .position(|u| u.code == code)
                    .map(|i| registry::all().len() + i)
            })
    };
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| result(f, index_of(&f.code)))
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "istio-peer",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://istio.io/latest/docs/ops/configuration/security/",
                "rules": rules,
            }},
            "results": results,
            "properties": { "verdict": report.verdict, "client": report.client.name, "server": report.server.name },
        }],
    });
    serde_json::to_string_pretty(&log).unwrap_or_default()
}

fn result(f: &Finding, rule_index: Option<usize>) -> Value {
    let locations: Vec<Value> = f
        .evidence
        .iter()
        .filter_map(|e| e.location.as_ref().map(|l| (e, l)))
        .take(1)
        .map(|(e, l)| {
            json!({
                "physicalLocation": {
                    "artifactLocation": { "uri": relative_path(&l.path), "uriBaseId": "%SRCROOT%" },
                    "region": { "startLine": l.line.max(1), "startColumn": l.column.max(1) },
                },
                "message": { "text": e.note },
            })
        })
        .collect();
    let related: Vec<Value> = f
        .evidence
        .iter()
        .filter_map(|e| e.location.as_ref().map(|l| (e, l)))
        .skip(1)
        .enumerate()
        .map(|(i, (e, l))| {
            json!({
                "id": i + 1,
                "physicalLocation": {
                    "artifactLocation": { "uri": relative_path(&l.path), "uriBaseId": "%SRCROOT%" },
                    "region": { "startLine": l.line.max(1), "startColumn": l.column.max(1) },
                },
                "message": { "text": e.note },
            })
        })
        .collect();
    let mut text = f.message.clone();
    if !f.fix.summary.is_empty() {
        text.push_str(&format!(" Fix: {}", f.fix.summary));
    }
    let mut result = json!({
        "ruleId": f.code,
        "level": level(f.severity),
        "message": { "text": text },
        "locations": locations,
        "partialFingerprints": { "istioPeerFinding/v1": f.fingerprint },
        "properties": {
            "mesh": f.mesh.as_str(),
            "route": f.route,
            "rootCause": f.root_cause,
            "causedBy": f.caused_by,
            "inBaseline": f.in_baseline,
        },
    });
    if let Some(i) = rule_index {
        result["ruleIndex"] = json!(i);
    }
    if !related.is_empty() {
        result["relatedLocations"] = json!(related);
    }
    if let Some(w) = &f.waived {
        result["suppressions"] = json!([{ "kind": "external", "status": "accepted", "justification": format!("{} ({})", w.reason, w.by) }]);
    }
    if f.in_baseline {
        result["baselineState"] = json!("unchanged");
    }
    result
}
