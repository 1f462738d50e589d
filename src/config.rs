//! `.istio-peer.toml`: severity overrides, the fail threshold and waivers, checked strictly
//! (unknown keys, unknown codes and bad dates are errors with their line).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use checks::policy::{Override, OverrideAction, Policy, Waiver};
use checks::time::Timestamp;
use serde::Deserialize;
use toml::Spanned;

/// The file looked up in the working directory when `--config` is not given.
pub const DEFAULT_FILE: &str = ".istio-peer.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    fail_on: Option<String>,
    #[serde(default)]
    deny: Vec<Spanned<String>>,
    #[serde(default)]
    warn: Vec<Spanned<String>>,
    #[serde(default)]
    allow: Vec<Spanned<String>>,
    #[serde(default)]
    waivers: Vec<Spanned<WaiverEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiverEntry {
    code: String,
    route: Option<String>,
    resource: Option<String>,
    reason: String,
    expires: Option<String>,
}

/// What the config file says.
#[derive(Debug, Default)]
pub struct Config {
    pub fail_on: Option<String>,
    pub overrides: Vec<Override>,
    pub waivers: Vec<Waiver>,
}

/// Reads `--config PATH`, else `.istio-peer.toml` when it exists. Errors name file and line.
/// `known` tells which override selectors name a check (built-in or user).
pub fn load(explicit: Option<&Path>, known: &dyn Fn(&str) -> bool) -> Result<Config, String> {
    let path: PathBuf = match explicit {
        Some(p) => p.to_path_buf(),
        None if Path::new(DEFAULT_FILE).is_file() => PathBuf::from(DEFAULT_FILE),
        None => return Ok(Config::default()),
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
    parse(&text, &path.display().to_string(), known)
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

pub fn parse(text: &str, name: &str, known: &dyn Fn(&str) -> bool) -> Result<Config, String> {
    let file: File = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(0, |s| line_of(text, s.start));
        format!("{name}:{line}: {}", e.message())
    })?;
    if let Some(f) = &file.fail_on
        && !matches!(f.as_str(), "error" | "warning" | "never")
    {
        return Err(format!(
            "{name}: fail_on must be error, warning or never, not `{f}`"
        ));
    }
    let mut config = Config {
        fail_on: file.fail_on,
        ..Config::default()
    };
    for (list, action) in [
        (&file.deny, OverrideAction::Deny),
        (&file.warn, OverrideAction::Warn),
        (&file.allow, OverrideAction::Allow),
    ] {
        for selector in list {
            if !known(selector.get_ref()) {
                return Err(format!(
                    "{name}:{}: `{}` is not a check code, check name or category",
                    line_of(text, selector.span().start),
                    selector.get_ref()
                ));
            }
            config.overrides.push(Override {
                selector: selector.get_ref().clone(),
                action,
            });
        }
    }
    let codes: HashSet<&str> = checks::registry::all()
        .iter()
        .map(|c| c.info.code)
        .collect();
    for entry in &file.waivers {
        let line = line_of(text, entry.span().start);
        let w = entry.get_ref();
        // User checks are known only at run time: any glob that can only match their
        // namespaces (`X-…`, `U-…`) is accepted.
        let user_namespace = w.code.starts_with("X-") || w.code.starts_with("U-");
        let matches_some_code =
            user_namespace || codes.iter().any(|c| checks::policy::glob(&w.code, c));
        if !matches_some_code {
            return Err(format!(
                "{name}:{line}: waiver code `{}` matches no check",
                w.code
            ));
        }
        if w.reason.trim().is_empty() {
            return Err(format!("{name}:{line}: a waiver needs a reason"));
        }
        let expires = w
            .expires
            .as_deref()
            .map(|e| parse_expiry(e).map_err(|m| format!("{name}:{line}: {m}")))
            .transpose()?;
        config.waivers.push(Waiver {
            code: w.code.clone(),
            route: w.route.clone(),
            resource: w.resource.clone(),
            reason: w.reason.clone(),
            expires,
            source: format!("{name}:{line}"),
        });
    }
    Ok(config)
}

/// `2027-01-31` (end of that day, UTC) or a full RFC 3339 instant.
fn parse_expiry(text: &str) -> Result<Timestamp, String> {
    let full = if text.len() == 10 {
        format!("{text}T23:59:59Z")
    } else {
        text.to_string()
    };
    Timestamp::parse_rfc3339(&full)
        .map_err(|_| format!("expires `{text}` is not a date (YYYY-MM-DD) or an RFC 3339 instant"))
}

/// The policy from the config file plus command-line overrides (which win) and a baseline.
pub fn policy(
    config: &Config,
    cli_overrides: Vec<Override>,
    baseline: Option<&Path>,
) -> Result<Policy, String> {
    let mut overrides = config.overrides.clone();
    overrides.extend(cli_overrides);
    let baseline = baseline.map(read_baseline).transpose()?;
    Ok(Policy {
        overrides,
        waivers: config.waivers.clone(),
        baseline,
    })
}

/// The fingerprints of a previous `doctor -o json` report.
fn read_baseline(path: &Path) -> Result<HashSet<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read baseline {}: {e}", path.display()))?;
    let report: checks::engine::Report = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not an istio-peer JSON report ({e})", path.display()))?;
    Ok(report
        .findings
        .iter()
        .map(|f| {
            if f.fingerprint.is_empty() {
                f.compute_fingerprint()
            } else {
                f.fingerprint.clone()
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_overrides_and_waivers_with_lines() {
        let text = "fail_on = \"warning\"\ndeny = [\"T007\"]\nallow = [\"trust-domain-collision\"]\n\n[[waivers]]\ncode = \"I00*\"\nroute = \"shop → *\"\nreason = \"migration\"\nexpires = \"2027-01-31\"\n";
        let c = parse(text, "x.toml", &checks::policy::known_selector).expect("valid");
        assert_eq!(c.fail_on.as_deref(), Some("warning"));
        assert_eq!(c.overrides.len(), 2);
        assert_eq!(c.waivers[0].source, "x.toml:5");
        assert_eq!(
            c.waivers[0].expires.map(|t| t.to_string()).as_deref(),
            Some("2027-01-31T23:59:59Z")
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse(
            "deny = [\"T007\"]\nwarn = [\"Z999\"]\n",
            "x.toml",
            &checks::policy::known_selector,
        )
        .unwrap_err();
        assert!(e.starts_with("x.toml:2:"), "{e}");
        let e = parse(
            "deny = [\"T007\"\n",
            "x.toml",
            &checks::policy::known_selector,
        )
        .unwrap_err();
        assert!(e.starts_with("x.toml:"), "{e}");
        let e = parse(
            "[[waivers]]\ncode = \"T001\"\nreason = \"x\"\nexpires = \"soon\"\n",
            "x.toml",
            &checks::policy::known_selector,
        )
        .unwrap_err();
        assert!(e.contains("x.toml:1") && e.contains("not a date"), "{e}");
        let e = parse("bogus = 1\n", "x.toml", &checks::policy::known_selector).unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
    }
}
