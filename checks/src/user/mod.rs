//! User checks: what plug-in executables are handed and what they may answer, and declarative
//! CEL rules ([`rules`]). Running plug-ins is I/O and lives in the binary; everything here is
//! pure so that plug-in findings and rule findings become ordinary [`Finding`]s — the same
//! linking, overrides, waivers, baselines and renderers as the built-in catalogue.

pub mod rules;

use serde::{Deserialize, Serialize};

use crate::checks::e004_user_check_failed;
use crate::engine::Report;
use crate::finding::{Category, Evidence, Finding, Fix, Severity};
use crate::model::{Mesh, Side, Snapshot};

/// Version of the model JSON handed to plug-ins, and of the answer they give. Fields are
/// only ever added within a version.
pub const SCHEMA_VERSION: u32 = 1;

/// The JSON Schema of the plug-in input (`istio-peer schema`).
pub const SCHEMA: &str = include_str!("schema.json");

/// The model JSON a plug-in reads on stdin: both meshes (summary and every object read,
/// Secrets redacted: certificates only, private keys reduced to public facts), the routes
/// and the built-in findings, the probes and the inspected proxies. Serialized straight from
/// the model, without an intermediate copy of the objects.
pub fn plugin_input(snapshot: &Snapshot, report: &Report, tool_version: &str) -> Vec<u8> {
    let input = PluginInput {
        schema_version: SCHEMA_VERSION,
        tool_version,
        evaluated_at: report.evaluated_at,
        meshes: Meshes {
            client: PluginMesh {
                summary: &report.client,
                objects: Objects(&snapshot.client),
            },
            server: PluginMesh {
                summary: &report.server,
                objects: Objects(&snapshot.server),
            },
        },
        routes: &report.routes,
        findings: &report.findings,
        probes: &report.probes,
        proxies: &report.proxies,
    };
    serde_json::to_vec(&input).unwrap_or_default()
}

#[derive(Serialize)]
struct PluginInput<'a> {
    schema_version: u32,
    tool_version: &'a str,
    evaluated_at: crate::time::Timestamp,
    meshes: Meshes<'a>,
    routes: &'a [crate::engine::RouteReport],
    findings: &'a [Finding],
    probes: &'a [crate::model::ProbeObservation],
    proxies: &'a [crate::model::ProxyObservation],
}

#[derive(Serialize)]
struct Meshes<'a> {
    client: PluginMesh<'a>,
    server: PluginMesh<'a>,
}

#[derive(Serialize)]
struct PluginMesh<'a> {
    #[serde(flatten)]
    summary: &'a crate::engine::MeshSummary,
    objects: Objects<'a>,
}

/// A mesh's kept object bodies, as a JSON array.
struct Objects<'a>(&'a Mesh);

impl Serialize for Objects<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.objects.iter().map(|o| &o.body))
    }
}

/// What a plug-in prints on stdout.
#[derive(Deserialize)]
struct PluginOutput {
    #[serde(default)]
    schema_version: Option<u32>,
    findings: Vec<UserFinding>,
}

/// A finding as a plug-in writes it: the shape of built-in findings, with defaults.
#[derive(Deserialize)]
struct UserFinding {
    code: String,
    name: String,
    severity: Severity,
    message: String,
    #[serde(default)]
    mesh: Option<Side>,
    #[serde(default)]
    route: Option<String>,
    #[serde(default)]
    evidence: Vec<UserEvidence>,
    #[serde(default)]
    fix: Option<UserFix>,
}

#[derive(Deserialize)]
struct UserEvidence {
    #[serde(default)]
    mesh: Option<Side>,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    note: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum UserFix {
    Summary(String),
    Full(Fix),
}

/// `X-<name>-NNN`: the only codes plug-in `name` may use.
pub fn plugin_code_ok(plugin: &str, code: &str) -> bool {
    code.strip_prefix("X-")
        .and_then(|rest| rest.strip_prefix(plugin))
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(three_digits)
}

fn three_digits(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Lowercase words joined by `-`.
pub fn kebab_case(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// Reads a plug-in's stdout into findings, or says what is wrong with it.
pub fn plugin_findings(
    plugin: &str,
    stdout: &[u8],
    snapshot: &Snapshot,
) -> Result<Vec<Finding>, String> {
    let text =
        std::str::from_utf8(stdout).map_err(|e| format!("printed non-UTF-8 output ({e})"))?;
    if text.trim().is_empty() {
        return Err("printed nothing (expected {\"findings\": [...]})".into());
    }
    let output: PluginOutput = serde_json::from_str(text).map_err(|e| {
        format!("printed invalid findings JSON: {e} (expected {{\"findings\": [...]}})")
    })?;
    if let Some(version) = output.schema_version.filter(|v| *v != SCHEMA_VERSION) {
        return Err(format!(
            "answered with schema version {version}; this istio-peer speaks version {SCHEMA_VERSION}"
        ));
    }
    output
        .findings
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            if !plugin_code_ok(plugin, &f.code) {
                return Err(format!(
                    "finding {} has code `{}`: plug-in codes are `X-{plugin}-NNN`",
                    i + 1,
                    f.code
                ));
            }
            user_finding(f, Category::Plugin, snapshot)
                .map_err(|e| format!("finding {}: {e}", i + 1))
        })
        .collect()
}

/// A user finding as a [`Finding`]: evidence that names an object read from a file gets
/// that file's position.
fn user_finding(
    f: UserFinding,
    category: Category,
    snapshot: &Snapshot,
) -> Result<Finding, String> {
    if !kebab_case(&f.name) {
        return Err(format!("name `{}` is not kebab-case", f.name));
    }
    if f.message.trim().is_empty() {
        return Err("empty message".into());
    }
    let mesh = f.mesh.unwrap_or(Side::Both);
    let evidence = f
        .evidence
        .into_iter()
        .map(|e| resolve_evidence(e, mesh, snapshot))
        .collect();
    let fix = match f.fix {
        Some(UserFix::Summary(summary)) => Fix {
            summary,
            ..Fix::default()
        },
        Some(UserFix::Full(fix)) => fix,
        None => Fix::default(),
    };
    Ok(Finding {
        route: f.route,
        evidence,
        fix,
        ..Finding::from_parts(f.code, f.name, f.severity, category, mesh, f.message)
    })
}

fn resolve_evidence(e: UserEvidence, finding_mesh: Side, snapshot: &Snapshot) -> Evidence {
    let mesh = e.mesh.unwrap_or(finding_mesh);
    let candidates: &[Side] = match mesh {
        Side::Client => &[Side::Client],
        Side::Server => &[Side::Server],
        Side::Both => &[Side::Client, Side::Server],
    };
    for side in candidates {
        let m = if *side == Side::Client {
            &snapshot.client
        } else {
            &snapshot.server
        };
        if let Some(found) = m.objects.iter().find(|o| {
            o.source.object.kind == e.kind
                && o.source.object.name == e.name
                && o.source.object.namespace == e.namespace
        }) {
            return Evidence::object(*side, &found.source, e.field.as_deref(), e.note);
        }
    }
    Evidence {
        kind: e.kind,
        namespace: e.namespace,
        name: e.name,
        field: e.field,
        ..Evidence::fact(mesh, e.note)
    }
}

/// One E004 finding: a user check that could not do its job, and why.
pub fn failure(check: &str, problem: impl Into<String>) -> Finding {
    let problem = problem.into();
    Finding::new(
        &e004_user_check_failed::CHECK.info,
        Side::Both,
        format!("{check} {problem}; its findings are unknown."),
    )
    .evidence(Evidence::fact(Side::Both, format!("{check}: {problem}")))
    .fix(format!(
        "Fix {check} (run it by hand with the model on stdin, or `istio-peer rules test` for a rule) and run again."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_codes_are_namespaced() {
        assert!(plugin_code_ok("host-naming", "X-host-naming-001"));
        assert!(!plugin_code_ok("host-naming", "X-host-naming-1"));
        assert!(!plugin_code_ok("host-naming", "X-other-001"));
        assert!(!plugin_code_ok("host-naming", "T001"));
        assert!(!plugin_code_ok("host", "X-host-naming-001"));
        assert!(kebab_case("host-naming") && !kebab_case("Host") && !kebab_case("a--b"));
    }
}
