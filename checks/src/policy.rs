//! What the user decided about findings: severity overrides, waivers with expiry, in-resource
//! opt-outs, a baseline of known findings. Applied after the checks, before the verdict.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::finding::{Evidence, Finding, Severity, Waived};
use crate::model::{Mesh, ObjectRef, Side, Snapshot};
use crate::registry;
use crate::time::Timestamp;

/// The annotation with which an object opts out of codes: `istio-peer.io/ignore: "T007,I004"`.
pub const IGNORE_ANNOTATION: &str = "istio-peer.io/ignore";

/// A severity override (`--deny`, `--warn`, `--allow`, or the config file's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    /// A code (`T001`), a check name, or a category (`trust`).
    pub selector: String,
    pub action: OverrideAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverrideAction {
    /// Report as an error.
    Deny,
    /// Report as a warning.
    Warn,
    /// Report as info: never fails the gate.
    Allow,
}

impl Override {
    fn matches(&self, finding: &Finding) -> bool {
        let s = self.selector.as_str();
        s.eq_ignore_ascii_case(&finding.code)
            || s.eq_ignore_ascii_case(&finding.name)
            || s.eq_ignore_ascii_case(finding.category.as_str())
    }
}

/// A waiver from the config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiver {
    /// Code (glob: `T00*`).
    pub code: String,
    /// Route id glob (`shop → *`); any route when absent.
    pub route: Option<String>,
    /// Object glob over `Kind namespace/name` (`Secret istio-system/*`); any when absent.
    pub resource: Option<String>,
    pub reason: String,
    /// After this instant the waiver stops waiving.
    pub expires: Option<Timestamp>,
    /// Where it is written (`.istio-peer.toml:14`).
    pub source: String,
}

impl Waiver {
    fn matches(&self, finding: &Finding) -> bool {
        glob(&self.code, &finding.code)
            && self
                .route
                .as_deref()
                .is_none_or(|r| finding.route.as_deref().is_some_and(|fr| glob(r, fr)))
            && self
                .resource
                .as_deref()
                .is_none_or(|r| finding.evidence.iter().any(|e| glob(r, &object_label(e))))
    }

    fn as_waived(&self) -> Waived {
        Waived {
            reason: self.reason.clone(),
            by: self.source.clone(),
            expires: self.expires.map(|e| e.to_string()),
        }
    }
}

/// Everything the user decided.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub overrides: Vec<Override>,
    pub waivers: Vec<Waiver>,
    /// Fingerprints of the baseline report's findings.
    pub baseline: Option<HashSet<String>>,
}

/// `Secret istio-system/cacerts`
fn object_label(e: &Evidence) -> String {
    if e.namespace.is_empty() {
        format!("{} {}", e.kind, e.name)
    } else {
        format!("{} {}/{}", e.kind, e.namespace, e.name)
    }
}

/// `*` matches any run of characters; everything else literally.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first)
        || !text[first.len()..].ends_with(last)
        || text.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

/// Applies overrides, opt-outs, waivers and the baseline; returns E003 findings for waivers
/// that matched nothing.
pub fn apply(findings: &mut [Finding], policy: &Policy, snapshot: &Snapshot) -> Vec<Finding> {
    for finding in findings.iter_mut() {
        if let Some(o) = policy.overrides.iter().rev().find(|o| o.matches(finding)) {
            finding.severity = match o.action {
                OverrideAction::Deny => Severity::Error,
                OverrideAction::Warn => Severity::Warning,
                OverrideAction::Allow => Severity::Info,
            };
        }
    }
    let opt_outs = opt_outs(snapshot);
    for finding in findings.iter_mut() {
        if let Some(w) = opt_out_for(finding, &opt_outs) {
            finding.waived = Some(w);
        }
    }
    let mut used = vec![false; policy.waivers.len()];
    for finding in findings.iter_mut().filter(|f| f.waived.is_none()) {
        for (i, waiver) in policy.waivers.iter().enumerate() {
            if !waiver.matches(finding) {
                continue;
            }
            used[i] = true;
            if waiver.expires.is_some_and(|e| e < snapshot.at) {
                finding.waiver_expired = Some(waiver.as_waived());
            } else {
                finding.waived = Some(waiver.as_waived());
                finding.waiver_expired = None;
                break;
            }
        }
    }
    if let Some(baseline) = &policy.baseline {
        for finding in findings.iter_mut() {
            finding.in_baseline = baseline.contains(&finding.fingerprint);
        }
    }
    policy
        .waivers
        .iter()
        .zip(used)
        .filter(|(_, used)| !used)
        .map(|(w, _)| unused_waiver(w))
        .collect()
}

fn unused_waiver(w: &Waiver) -> Finding {
    let info = &crate::checks::e003_waiver_unused::CHECK.info;
    let scope = [
        w.route.as_deref().map(|r| format!("route `{r}`")),
        w.resource.as_deref().map(|r| format!("resource `{r}`")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    let mut f = Finding::new(
        info,
        Side::Both,
        format!(
            "The waiver for `{}`{} at {} matched no finding: remove it.",
            w.code,
            if scope.is_empty() {
                String::new()
            } else {
                format!(" ({scope})")
            },
            w.source
        ),
    )
    .evidence(Evidence::fact(Side::Both, format!("waiver: {}", w.reason)))
    .fix(format!("Delete the waiver at {}.", w.source));
    f.fingerprint = f.compute_fingerprint();
    f
}

/// Codes each object opts out of, by object.
fn opt_outs(snapshot: &Snapshot) -> HashMap<ObjectRef, Vec<String>> {
    let mut out = HashMap::new();
    for mesh in [&snapshot.client, &snapshot.server] {
        collect_opt_outs(mesh, &mut out);
    }
    out
}

fn collect_opt_outs(mesh: &Mesh, out: &mut HashMap<ObjectRef, Vec<String>>) {
    let mut add = |meta: &crate::model::Metadata, object: &ObjectRef| {
        if let Some(codes) = meta.annotations.get(IGNORE_ANNOTATION) {
            let codes: Vec<String> = codes
                .split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect();
            out.insert(object.clone(), codes);
        }
    };
    macro_rules! each {
        ($($field:ident),*) => { $( for item in &mesh.$field { add(&item.meta, &item.source.object); } )* };
    }
    each!(
        namespaces,
        services,
        workloads,
        secrets,
        config_maps,
        gateways,
        virtual_services,
        destination_rules,
        service_entries,
        sidecars,
        workload_entries,
        peer_authentications,
        authorization_policies
    );
}

fn opt_out_for(finding: &Finding, opt_outs: &HashMap<ObjectRef, Vec<String>>) -> Option<Waived> {
    finding.evidence.iter().find_map(|e| {
        let object = ObjectRef {
            kind: e.kind.clone(),
            namespace: e.namespace.clone(),
            name: e.name.clone(),
        };
        let codes = opt_outs.get(&object)?;
        codes
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&finding.code))
            .then(|| Waived {
                reason: format!(
                    "opted out with annotation {IGNORE_ANNOTATION} on {}",
                    object_label(e)
                ),
                by: format!("annotation on {}", object_label(e)),
                expires: None,
            })
    })
}

/// The selectors overrides accept, for validating user input.
pub fn known_selector(selector: &str) -> bool {
    known_builtin_selector(selector) || user_code(selector)
}

/// A built-in check's code or name, or a category (including `plug-in` and `rule`).
pub fn known_builtin_selector(selector: &str) -> bool {
    registry::find(selector).is_some()
        || registry::all()
            .iter()
            .any(|c| c.info.category.as_str().eq_ignore_ascii_case(selector))
        || ["plug-in", "rule"]
            .iter()
            .any(|c| c.eq_ignore_ascii_case(selector))
}

/// `X-<plugin>-NNN` or `U-NNN`: codes of user checks, which may be overridden before the
/// run knows them.
fn user_code(selector: &str) -> bool {
    let digits = |d: &str| d.len() == 3 && d.bytes().all(|b| b.is_ascii_digit());
    selector.strip_prefix("U-").is_some_and(digits)
        || selector
            .strip_prefix("X-")
            .and_then(|rest| rest.rsplit_once('-'))
            .is_some_and(|(name, d)| crate::user::kebab_case(name) && digits(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("T00*", "T001"));
        assert!(glob("shop → *", "shop → api:8080"));
        assert!(glob("*", ""));
        assert!(glob("Secret istio-system/*", "Secret istio-system/cacerts"));
        assert!(!glob("Secret istio-system/*", "Secret other/cacerts"));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXc"));
        assert!(!glob("ab*ba", "aba"));
        assert!(glob("T001", "T001") && !glob("T001", "T0011"));
    }
}
