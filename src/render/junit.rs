//! JUnit XML: one test suite per mesh pair, one test case per check and route.

use std::fmt::Write as _;

use checks::engine::Report;
use checks::finding::Finding;
use checks::registry;

pub fn render(report: &Report) -> String {
    let scopes: Vec<Option<&str>> = std::iter::once(None)
        .chain(report.routes.iter().map(|r| Some(r.id.as_str())))
        .collect();
    let skipped_codes = skipped_codes(report);
    let mut cases = String::new();
    let (mut tests, mut failures, mut skipped) = (0, 0, 0);
    for i in checks_of(report) {
        for scope in &scopes {
            tests += 1;
            let name = format!("{} {} [{}]", i.code, i.name, scope.unwrap_or("mesh-wide"));
            let findings: Vec<&Finding> = report
                .findings
                .iter()
                .filter(|f| f.code == i.code && f.route.as_deref() == *scope)
                .collect();
            let failing: Vec<&&Finding> = findings
                .iter()
                .filter(|f| f.fails(report.fail_on))
                .collect();
            let _ = writeln!(
                cases,
                "    <testcase classname=\"istio-peer.{}\" name=\"{}\">",
                xml(i.category),
                xml(&name)
            );
            if !failing.is_empty() {
                failures += 1;
                let message = failing
                    .iter()
                    .map(|f| f.message.as_str())
                    .collect::<Vec<_>>()
                    .join(" | ");
                let body = failing
                    .iter()
                    .map(|f| detail(f))
                    .collect::<Vec<_>>()
                    .join("\n\n");
                let _ = writeln!(
                    cases,
                    "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                    xml(&i.code),
                    xml(&message),
                    xml(&body)
                );
            } else if findings.is_empty() && skipped_codes.contains(&i.code) {
                skipped += 1;
                let _ = writeln!(
                    cases,
                    "      <skipped message=\"input unavailable (see E001)\"/>"
                );
            } else if !findings.is_empty() {
                let body = findings
                    .iter()
                    .map(|f| detail(f))
                    .collect::<Vec<_>>()
                    .join("\n\n");
                let _ = writeln!(cases, "      <system-out>{}</system-out>", xml(&body));
            }
            cases.push_str("    </testcase>\n");
        }
    }
    let suite = format!("{} → {}", report.client.name, report.server.name);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"istio-peer\" tests=\"{tests}\" failures=\"{failures}\" skipped=\"{skipped}\">\n  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" timestamp=\"{}\">\n{cases}  </testsuite>\n</testsuites>\n",
        xml(&suite),
        xml(&report.evaluated_at.to_string())
    )
}

/// A check as a test case: the catalogue's, then each user check (plug-in, rule) that
/// reported something.
struct CaseCheck {
    code: String,
    name: String,
    category: &'static str,
}

fn checks_of(report: &Report) -> Vec<CaseCheck> {
    let mut out: Vec<CaseCheck> = registry::all()
        .iter()
        .map(|c| CaseCheck {
            code: c.info.code.to_string(),
            name: c.info.name.to_string(),
            category: c.info.category.as_str(),
        })
        .collect();
    for f in &report.findings {
        if !out.iter().any(|c| c.code == f.code) {
            out.push(CaseCheck {
                code: f.code.clone(),
                name: f.name.clone(),
                category: f.category.as_str(),
            });
        }
    }
    out
}

/// Codes named as skipped by E001 findings.
fn skipped_codes(report: &Report) -> Vec<String> {
    report
        .findings
        .iter()
        .filter(|f| f.code == "E001")
        .flat_map(|f| {
            f.message
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| {
                    w.len() == 4
                        && w.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                        && w[1..].chars().all(|c| c.is_ascii_digit())
                })
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn detail(f: &Finding) -> String {
    let mut out = format!("[{}] {}", f.severity.as_str(), f.message);
    for e in &f.evidence {
        let at = e
            .location
            .as_ref()
            .map(|l| format!(" ({}:{})", l.path, l.line))
            .unwrap_or_default();
        let _ = write!(
            out,
            "\n  evidence: {} {}/{}{at}: {}",
            e.kind, e.namespace, e.name, e.note
        );
    }
    if !f.fix.summary.is_empty() {
        let _ = write!(out, "\n  fix: {}", f.fix.summary);
    }
    if let Some(w) = &f.waived {
        let _ = write!(out, "\n  waived: {} ({})", w.reason, w.by);
    }
    out
}

/// Escapes text for XML attributes and content (and drops characters XML 1.0 forbids).
pub fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}
