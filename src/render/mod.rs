//! Renderers: they only format findings, never decide anything.

pub mod github;
pub mod junit;
pub mod markdown;
pub mod sarif;

use std::fmt::Write as _;
use std::io::IsTerminal;

use checks::engine::{Report, RouteVerdict, Verdict};
use checks::finding::{Evidence, Finding, Severity};
use checks::registry;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use crate::load::SourceTexts;
use crate::user_checks::UserChecks;

/// Colours only on a terminal, and never when `NO_COLOR` is set.
pub fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Points evidence at the exact line of the field at fault, re-reading only those documents.
pub fn resolve_field_positions(report: &mut Report, texts: &SourceTexts) {
    for finding in &mut report.findings {
        for evidence in &mut finding.evidence {
            let (Some(location), Some(field)) = (&mut evidence.location, &evidence.field) else {
                continue;
            };
            // Parse from the document's own line: files with thousands of documents would
            // otherwise be re-read from the top for every piece of evidence.
            let Some(text) = texts.from_line(&location.path, location.line) else {
                continue;
            };
            // Secrets may carry the value in `stringData` rather than `data`.
            let alternative = field
                .strip_prefix("data.")
                .map(|k| format!("stringData.{k}"));
            let found = checks::yaml::locate(text, 0, field)
                .or_else(|| alternative.and_then(|f| checks::yaml::locate(text, 0, &f)));
            if let Some(pos) = found {
                location.line += pos.line - 1;
                location.column = pos.column;
            }
        }
    }
}

/// A path relative to the working directory when it lies below it (SARIF and GitHub want
/// repository-relative paths).
pub fn relative_path(path: &str) -> String {
    let p = std::path::Path::new(path);
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(&cwd).ok().map(|r| r.to_path_buf()));
    relative
        .unwrap_or_else(|| p.to_path_buf())
        .to_string_lossy()
        .trim_start_matches("./")
        .to_string()
}

pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn severity(&self, s: Severity) -> String {
        match s {
            Severity::Error => self.paint("1;31", "error"),
            Severity::Warning => self.paint("1;33", "warning"),
            Severity::Info => self.paint("1;36", "info"),
        }
    }
    fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
    fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }
}

/// The terminal report: verdict, routes, root causes with fixes, then the rest by category.
pub fn table(report: &Report, color: bool) -> String {
    let style = Style { color };
    let mut out = String::new();
    let _ = writeln!(out, "{}", verdict_line(report, &style));
    let _ = writeln!(
        out,
        "{}",
        style.dim(&format!(
            "client mesh \"{}\" (trust domain {}, CA {}) → server mesh \"{}\" (trust domain {}, CA {}); evaluated at {}",
            report.client.name,
            report.client.trust_domain,
            report.client.ca_mode,
            report.server.name,
            report.server.trust_domain,
            report.server.ca_mode,
            report.evaluated_at
        ))
    );
    if !report.routes.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("Routes"));
        for route in &report.routes {
            let verdict = match route.verdict {
                RouteVerdict::Ok => style.paint("32", "OK"),
                RouteVerdict::Fails => style.paint("1;31", "FAILS"),
                RouteVerdict::Unknown => style.paint("33", "UNKNOWN"),
            };
            let causes = if route.root_causes.is_empty() {
                String::new()
            } else {
                format!(
                    " — {}",
                    route
                        .root_causes
                        .iter()
                        .map(|c| named(c))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let _ = writeln!(out, "  {}: {verdict}{causes}", route.headline);
            for note in &route.notes {
                let _ = writeln!(out, "    {}", style.dim(note));
            }
        }
    }
    let (roots, rest): (Vec<&Finding>, Vec<&Finding>) =
        report.findings.iter().partition(|f| f.root_cause);
    if !roots.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("Root causes"));
        for f in &roots {
            write_finding(&mut out, f, &style, true);
        }
    }
    if !rest.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("Consequences"));
        let mut categories: Vec<_> = rest.iter().map(|f| f.category).collect();
        categories.sort();
        categories.dedup();
        for category in categories {
            let _ = writeln!(out, "  {}", style.dim(&format!("[{}]", category.as_str())));
            for f in rest.iter().filter(|f| f.category == category) {
                write_finding(&mut out, f, &style, false);
            }
        }
    }
    if !report.probes.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("Live probes"));
        for p in &report.probes {
            let code = p
                .outcome
                .code()
                .map(named)
                .unwrap_or_else(|| "unclassified".into());
            let _ = writeln!(
                out,
                "  {} → {}: {code}",
                p.route.as_deref().unwrap_or(""),
                p.target
            );
            write_probe_body(&mut out, p, &style, "      ");
        }
    }
    if !report.proxies.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("Running proxies"));
        for p in &report.proxies {
            write_proxy(&mut out, p, &style);
        }
    }
    if report.findings.is_empty() {
        let _ = writeln!(
            out,
            "\nNo findings: mTLS from {} to {} should work.",
            report.client.name, report.server.name
        );
    }
    out.trim_end().to_string()
}

/// One inspected proxy: identity, roots, the routes' clusters and failing counters.
fn write_proxy(out: &mut String, p: &checks::model::ProxyObservation, style: &Style) {
    let state = &p.state;
    let _ = writeln!(
        out,
        "  {}/{} {} ({}, {})",
        p.namespace,
        p.pod,
        style.dim(&format!("[{}]", p.mesh.as_str())),
        p.workload,
        p.role.as_str()
    );
    let identity = state
        .certificates
        .iter()
        .filter_map(|c| c.spiffe_id())
        .collect::<Vec<_>>()
        .join(", ");
    let roots = state
        .roots
        .iter()
        .map(|r| r.serial.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        out,
        "      presents {identity}; trusts root serial(s) {roots}"
    );
    for c in &state.clusters {
        let _ = writeln!(
            out,
            "      cluster {}: {}{}, SNI {}, SANs [{}]",
            c.name,
            c.mode,
            if c.auto { " (auto)" } else { "" },
            c.sni.as_deref().unwrap_or("(none)"),
            c.sans.join(", ")
        );
    }
    let failing: Vec<String> = state
        .counters
        .iter()
        .filter(|c| c.counter != "handshake" && c.value > 0)
        .map(|c| format!("{}.ssl.{} {} (+{})", c.owner, c.counter, c.value, c.rise))
        .collect();
    let handshakes: u64 = state
        .counters
        .iter()
        .filter(|c| c.counter == "handshake")
        .map(|c| c.value)
        .sum();
    if !failing.is_empty() {
        let _ = writeln!(out, "      failing: {}", failing.join(", "));
    } else if state.ssl_stats_exposed == Some(false) {
        let _ = writeln!(out, "      no ssl counters exposed for the routes");
    } else if state.ssl_stats_exposed == Some(true) {
        let _ = writeln!(
            out,
            "      ssl: {handshakes} handshake(s) counted, no failure"
        );
    }
}

fn named(code: &str) -> String {
    registry::find(code).map_or_else(|| code.to_string(), |c| format!("{code} {}", c.info.name))
}

fn verdict_line(report: &Report, style: &Style) -> String {
    let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    let counts = format!(
        "{} error(s), {} warning(s), {} info",
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info)
    );
    let verdict = match report.verdict {
        Verdict::Pass => style.paint("1;32", "PASS"),
        Verdict::Fail => style.paint("1;31", "FAIL"),
        Verdict::Inconclusive => style.paint("1;33", "INCONCLUSIVE"),
    };
    format!(
        "{verdict}  mTLS {} → {}: {counts}",
        report.client.name, report.server.name
    )
}

fn write_finding(out: &mut String, f: &Finding, style: &Style, with_fix: bool) {
    let route = f
        .route
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    let caused = if f.caused_by.is_empty() {
        String::new()
    } else {
        style.dim(&format!("  ← caused by {}", f.caused_by.join(", ")))
    };
    let _ = writeln!(
        out,
        "  {} {} {} [{}]{route}{caused}",
        style.severity(f.severity),
        style.bold(&f.code),
        f.name,
        f.mesh.as_str()
    );
    let _ = writeln!(out, "      {}", f.message);
    if let Some(p) = &f.probe {
        let label = if p.confirmed {
            style.paint("32", "probe:")
        } else {
            style.paint("1;33", "probe:")
        };
        let _ = writeln!(out, "      {label} {}", p.note);
    }
    for e in &f.evidence {
        let _ = writeln!(out, "      {} {}", style.dim("·"), evidence_line(e));
    }
    if with_fix && !f.fix.summary.is_empty() {
        let _ = writeln!(out, "      {} {}", style.paint("32", "fix:"), f.fix.summary);
        for block in [&f.fix.yaml, &f.fix.command].into_iter().flatten() {
            for line in block.lines() {
                let _ = writeln!(out, "        {}", style.dim(line));
            }
        }
    }
}

fn evidence_line(e: &Evidence) -> String {
    let mut parts = vec![e.mesh.as_str().to_string()];
    if !e.kind.is_empty() {
        let name = if e.namespace.is_empty() {
            e.name.clone()
        } else {
            format!("{}/{}", e.namespace, e.name)
        };
        parts.push(format!("{} {name}", e.kind));
    }
    if let Some(field) = &e.field {
        parts.push(field.clone());
    }
    let mut line = parts.join(" ");
    if let Some(loc) = &e.location {
        let _ = write!(line, " ({}:{}:{})", loc.path, loc.line, loc.column);
    }
    if let Some(cluster) = &e.cluster {
        let _ = write!(line, " (cluster {cluster})");
    }
    let _ = write!(line, ": {}", e.note);
    if let Some(c) = &e.certificate {
        let _ = write!(
            line,
            " [{} | sha256 {} | {} .. {}]",
            c.subject,
            &c.fingerprint_sha256[..c.fingerprint_sha256.len().min(16)],
            c.not_before,
            c.not_after
        );
    }
    line
}

/// One probe: stages, negotiated parameters, the presented chain, the outcome.
pub fn probe_report(p: &checks::model::ProbeObservation, color: bool) -> String {
    let style = Style { color };
    let mut out = String::new();
    let verdict = match p.outcome.code() {
        Some("L008") => style.paint("1;32", "PASS"),
        _ => style.paint("1;31", "FAIL"),
    };
    let code = p
        .outcome
        .code()
        .map(named)
        .unwrap_or_else(|| "unclassified".into());
    let _ = writeln!(out, "{verdict}  probe {} — {code}", p.target);
    write_probe_body(&mut out, p, &style, "  ");
    out.trim_end().to_string()
}

fn write_probe_body(
    out: &mut String,
    p: &checks::model::ProbeObservation,
    style: &Style,
    indent: &str,
) {
    let _ = writeln!(
        out,
        "{indent}SNI {}, ALPN {:?}, client identity {} ({})",
        p.sni.as_deref().unwrap_or("none"),
        p.alpn_offered,
        p.client_identity.as_deref().unwrap_or("none"),
        p.identity_source
    );
    for s in &p.stages {
        let mark = if s.ok {
            style.paint("32", "✓")
        } else {
            style.paint("31", "✗")
        };
        let _ = writeln!(
            out,
            "{indent}{mark} {:<22} {} ({} ms)",
            s.name, s.detail, s.millis
        );
    }
    if let Some(n) = &p.negotiated {
        let _ = writeln!(
            out,
            "{indent}negotiated {} {}, ALPN {}",
            n.version,
            n.cipher,
            n.alpn.as_deref().unwrap_or("none")
        );
    }
    for (i, c) in p.server_chain.iter().enumerate() {
        let sans = if c.uri_sans.is_empty() {
            String::new()
        } else {
            format!(" SANs {:?}", c.uri_sans)
        };
        let _ = writeln!(
            out,
            "{indent}chain[{i}] {} (issuer {}){sans} valid {} .. {} sha256 {}",
            c.subject,
            c.issuer,
            c.not_before,
            c.not_after,
            &c.fingerprint_sha256[..c.fingerprint_sha256.len().min(16)]
        );
    }
    for n in &p.negative {
        let _ = writeln!(
            out,
            "{indent}{} {}: {}",
            if n.accepted {
                style.paint("33", "!")
            } else {
                style.paint("32", "✓")
            },
            n.variant,
            if n.accepted { "ACCEPTED" } else { &n.detail }
        );
    }
    for u in &p.unconfirmed {
        let _ = writeln!(out, "{indent}{} {u}", style.dim("not checked:"));
    }
}

/// `istio-peer checks`: the catalogue as a table.
pub fn catalogue_table(user: &UserChecks) -> String {
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    table.set_header(["code", "name", "category", "severity", "summary"]);
    for check in registry::all() {
        let i = &check.info;
        table.add_row([
            i.code,
            i.name,
            i.category.as_str(),
            i.severity.as_str(),
            i.summary,
        ]);
    }
    for (code, name) in registry::RESERVED {
        table.add_row([*code, *name, "", "", "reserved: not implemented yet"]);
    }
    for row in user_rows(user) {
        table.add_row([
            row["code"].as_str().unwrap_or(""),
            row["name"].as_str().unwrap_or(""),
            row["category"].as_str().unwrap_or(""),
            row["severity"].as_str().unwrap_or(""),
            row["summary"].as_str().unwrap_or(""),
        ]);
    }
    table.to_string()
}

/// Plug-ins and rules as catalogue entries.
fn user_rows(user: &UserChecks) -> Vec<serde_json::Value> {
    let plugins = user.plugins.iter().map(|p| {
        serde_json::json!({
            "code": format!("X-{}-*", p.name),
            "name": p.name,
            "category": "plug-in",
            "severity": "",
            "summary": format!("plug-in {}", p.path.display()),
            "implemented": true,
            "path": p.path.display().to_string(),
        })
    });
    let rules = user.rules.iter().map(|r| {
        serde_json::json!({
            "code": r.code,
            "name": r.name,
            "category": "rule",
            "severity": r.severity.as_str(),
            "summary": format!("rule {}:{}", r.file, r.line),
            "implemented": true,
            "path": r.file,
        })
    });
    plugins.chain(rules).collect()
}

/// `istio-peer checks -o json`.
pub fn catalogue_json(user: &UserChecks) -> String {
    let implemented = registry::all().iter().map(|c| {
        serde_json::json!({
            "code": c.info.code,
            "name": c.info.name,
            "category": c.info.category.as_str(),
            "severity": c.info.severity.as_str(),
            "summary": c.info.summary,
            "implemented": true,
        })
    });
    let reserved = registry::RESERVED.iter().map(
        |(code, name)| serde_json::json!({ "code": code, "name": name, "implemented": false }),
    );
    let all: Vec<_> = implemented.chain(reserved).chain(user_rows(user)).collect();
    serde_json::to_string_pretty(&serde_json::json!({ "checks": all })).unwrap_or_default()
}

/// `istio-peer explain CODE|NAME|"error text"`: a check's explanation, or what an Envoy /
/// BoringSSL / curl error means.
pub fn explain(query: &str) -> Option<String> {
    if let Some(check) = registry::find(query.trim()) {
        let i = &check.info;
        return Some(format!(
            "{} {} ({}, default severity {})\n\n{}",
            i.code,
            i.name,
            i.category.as_str(),
            i.severity.as_str(),
            registry::explanation(i)
        ));
    }
    let diagnoses = checks::error_text::decode(query);
    if diagnoses.is_empty() {
        return None;
    }
    let mut out = String::new();
    for (n, d) in diagnoses.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{}", d.matched);
        let _ = writeln!(out, "  who rejected whom: {}", d.who_rejected);
        let _ = writeln!(out, "  meaning: {}", d.meaning);
        if !d.likely_codes.is_empty() {
            let named: Vec<String> = d.likely_codes.iter().map(|c| named(c)).collect();
            let _ = writeln!(out, "  likely causes: {}", named.join(", "));
        }
        for step in &d.next_steps {
            let _ = writeln!(out, "  next: {step}");
        }
    }
    Some(out.trim_end().to_string())
}
