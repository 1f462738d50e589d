//! GitHub Actions workflow commands: one annotation per finding, then a summary.

use std::fmt::Write as _;

use checks::engine::Report;
use checks::finding::Severity;

use super::relative_path;

/// `%`, CR and LF must be escaped in a command's message.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Property values additionally escape `:` and `,`.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let command = match (f.severity, f.waived.is_some() || f.in_baseline) {
            (_, true) | (Severity::Info, _) => "notice",
            (Severity::Warning, _) => "warning",
            (Severity::Error, _) => "error",
        };
        let mut props = Vec::new();
        if let Some(l) = f.evidence.iter().find_map(|e| e.location.as_ref()) {
            props.push(format!("file={}", property(&relative_path(&l.path))));
            props.push(format!("line={}", l.line.max(1)));
            props.push(format!("col={}", l.column.max(1)));
        }
        props.push(format!(
            "title={}",
            property(&format!("{} {}", f.code, f.name))
        ));
        let mut message = f.message.clone();
        if !f.fix.summary.is_empty() {
            message.push_str(&format!("\nFix: {}", f.fix.summary));
        }
        if let Some(w) = &f.waived {
            message.push_str(&format!("\nWaived: {} ({})", w.reason, w.by));
        }
        let _ = writeln!(out, "::{command} {}::{}", props.join(","), data(&message));
    }
    let counts = |s: Severity| {
        report
            .findings
            .iter()
            .filter(|f| f.severity == s && f.fails(report.fail_on))
            .count()
    };
    let _ = writeln!(
        out,
        "istio-peer {:?}: {} → {}: {} failing error(s), {} failing warning(s), {} finding(s) in all",
        report.verdict,
        report.client.name,
        report.server.name,
        counts(Severity::Error),
        counts(Severity::Warning),
        report.findings.len()
    );
    out.trim_end().to_string()
}
