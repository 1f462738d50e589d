//! A compact Markdown report for pull-request comments and `$GITHUB_STEP_SUMMARY`.

use std::fmt::Write as _;

use checks::engine::{Report, RouteVerdict, Verdict};
use checks::finding::Finding;

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let verdict = match report.verdict {
        Verdict::Pass => "✅ PASS",
        Verdict::Fail => "❌ FAIL",
        Verdict::Inconclusive => "⚠️ INCONCLUSIVE",
    };
    let _ = writeln!(
        out,
        "### istio-peer: {verdict} — mTLS {} → {}\n",
        report.client.name, report.server.name
    );
    let _ = writeln!(
        out,
        "Trust domains `{}` → `{}`, CAs {} / {}; evaluated at {}.\n",
        report.client.trust_domain,
        report.server.trust_domain,
        report.client.ca_mode,
        report.server.ca_mode,
        report.evaluated_at
    );
    if !report.routes.is_empty() {
        out.push_str("| route | topology | verdict | root causes |\n|---|---|---|---|\n");
        for r in &report.routes {
            let v = match r.verdict {
                RouteVerdict::Ok => "ok",
                RouteVerdict::Fails => "**fails**",
                RouteVerdict::Unknown => "unknown",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {v} | {} |",
                cell(&r.id),
                r.topology,
                r.root_causes.join(", ")
            );
        }
        out.push('\n');
    }
    let failing: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.fails(report.fail_on))
        .collect();
    let other: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| !f.fails(report.fail_on))
        .collect();
    if !failing.is_empty() {
        out.push_str("| | code | finding | fix |\n|---|---|---|---|\n");
        for f in &failing {
            let _ = writeln!(
                out,
                "| {} | `{}` {} | {} | {} |",
                if f.root_cause { "root cause" } else { "" },
                f.code,
                f.name,
                cell(&f.message),
                cell(&f.fix.summary)
            );
        }
        out.push('\n');
    }
    if !other.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>{} more finding(s) that do not fail the gate</summary>\n",
            other.len()
        );
        for f in &other {
            let note = match (&f.waived, f.in_baseline) {
                (Some(w), _) => format!(" — waived: {}", w.reason),
                (None, true) => " — in baseline".to_string(),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "- `{}` {} ({}): {}{note}",
                f.code,
                f.name,
                f.severity.as_str(),
                cell(&f.message)
            );
        }
        out.push_str("\n</details>\n");
    }
    if report.findings.is_empty() {
        out.push_str("No findings.\n");
    }
    out
}
