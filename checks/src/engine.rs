//! Runs the checks, links consequences to their root causes, and judges routes and the run.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::analysis::{Route, trust::accepted_trust_domains};
use crate::context::{Context, MeshView};
use crate::finding::{CertificateEvidence, Finding, Severity};
use crate::model::Side;
use crate::registry;
use crate::time::Timestamp;

/// The JSON report's schema version. Bump only with a documented migration.
pub const SCHEMA_VERSION: u32 = 1;

/// From which severity a finding fails the run (`--fail-on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    #[default]
    Error,
    Warning,
    Never,
}

impl FailOn {
    pub fn fails(self, severity: Severity) -> bool {
        match self {
            FailOn::Error => severity >= Severity::Error,
            FailOn::Warning => severity >= Severity::Warning,
            FailOn::Never => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Inconclusive,
}

impl Verdict {
    /// The documented exit code: 0 pass, 1 fail, 3 inconclusive.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Inconclusive => 3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteVerdict {
    Ok,
    Fails,
    Unknown,
}

/// What the report says about each mesh.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeshSummary {
    pub name: String,
    pub trust_domain: String,
    pub trust_domain_aliases: Vec<String>,
    /// Trust domains this mesh accepts from peers, with the setting that accepts each.
    pub accepted_trust_domains: Vec<AcceptedTrustDomain>,
    /// `plug_in`, `self_signed`, `plug_in_not_in_effect`, `published_only`, `unknown`.
    pub ca_mode: String,
    /// The roots its proxies trust.
    pub trusted_roots: Vec<CertificateEvidence>,
    pub istio_version: Option<String>,
    pub objects_read: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AcceptedTrustDomain {
    pub trust_domain: String,
    pub via: String,
}

/// A route in the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RouteReport {
    pub id: String,
    pub headline: String,
    pub client_namespace: String,
    pub host: String,
    pub port: u32,
    pub address: Option<String>,
    pub topology: String,
    pub tls_mode: String,
    pub sni: Option<String>,
    pub expected_sans: Vec<String>,
    pub server_identities: Vec<String>,
    pub caller_identities: Vec<String>,
    /// Identities the client namespace's workloads present.
    pub client_identities: Vec<String>,
    /// ALPN the client offers.
    pub alpn: Vec<String>,
    /// The server mesh's gateway Service the route lands on (`namespace/name`) and its port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_port: Option<u32>,
    pub verdict: RouteVerdict,
    pub root_causes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The whole result of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub verdict: Verdict,
    pub evaluated_at: Timestamp,
    pub fail_on: FailOn,
    pub client: MeshSummary,
    pub server: MeshSummary,
    pub routes: Vec<RouteReport>,
    pub findings: Vec<Finding>,
    /// The live probes behind the L findings, when probing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<crate::model::ProbeObservation>,
    /// The running proxies read with `--inspect-proxies`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxies: Vec<crate::model::ProxyObservation>,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub fail_on: FailOn,
    pub policy: crate::policy::Policy,
    pub selection: Selection,
}

/// Which checks run (`--check` / `--skip`): codes, names or categories of built-in checks,
/// names of plug-ins, codes or names of rules. Environment findings (E001–E004) describe the
/// run itself and are always reported.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// When not empty, only these run.
    pub only: Vec<String>,
    pub skip: Vec<String>,
}

impl Selection {
    /// Whether a check known by these labels (code, name, category, …) runs.
    pub fn runs(&self, labels: &[&str]) -> bool {
        let named = |list: &[String]| {
            list.iter()
                .any(|s| labels.iter().any(|l| l.eq_ignore_ascii_case(s)))
        };
        (self.only.is_empty() || named(&self.only)) && !named(&self.skip)
    }

    fn runs_builtin(&self, info: &registry::CheckInfo) -> bool {
        info.category == crate::finding::Category::Environment
            || self.runs(&[info.code, info.name, info.category.as_str()])
    }
}

/// Runs every built-in check over the snapshot.
pub fn run(snapshot: &crate::model::Snapshot, options: &Options) -> Report {
    run_with(snapshot, options, Vec::new())
}

/// Runs the built-in checks and adds the findings of user checks (plug-ins, rules), so that
/// all of them are linked, weighed, waived and rendered alike.
pub fn run_with(
    snapshot: &crate::model::Snapshot,
    options: &Options,
    user_findings: Vec<Finding>,
) -> Report {
    let cx = Context::new(snapshot);
    let mut findings: Vec<Finding> = registry::all()
        .iter()
        .filter(|c| options.selection.runs_builtin(&c.info))
        .flat_map(|c| (c.run)(&cx))
        .chain(user_findings)
        .collect();
    link_causes(&mut findings);
    weigh_against_probes(&mut findings, &cx.routes, &snapshot.probes);
    for finding in &mut findings {
        finding.fingerprint = finding.compute_fingerprint();
    }
    let unused_waivers = crate::policy::apply(&mut findings, &options.policy, snapshot);
    findings.extend(unused_waivers);
    findings.sort_by(|a, b| {
        (
            !a.root_cause,
            std::cmp::Reverse(a.severity),
            &a.code,
            &a.route,
            &a.mesh,
        )
            .cmp(&(
                !b.root_cause,
                std::cmp::Reverse(b.severity),
                &b.code,
                &b.route,
                &b.mesh,
            ))
    });
    let mut by_route: HashMap<&str, Vec<&Finding>> = HashMap::new();
    let mut mesh_wide: Vec<&Finding> = Vec::new();
    for f in &findings {
        match &f.route {
            Some(id) => by_route.entry(id.as_str()).or_default().push(f),
            None => mesh_wide.push(f),
        }
    }
    let unknown = findings.iter().any(blocks_conclusion);
    let routes = cx
        .routes
        .iter()
        .map(|r| {
            let own = by_route
                .get(r.id.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default();
            route_report(r, own.iter().chain(&mesh_wide).copied(), unknown)
        })
        .collect();
    let verdict = verdict(&findings, options.fail_on);
    Report {
        schema_version: SCHEMA_VERSION,
        verdict,
        evaluated_at: snapshot.at,
        fail_on: options.fail_on,
        client: summary(&cx.client),
        server: summary(&cx.server),
        routes,
        findings,
        probes: snapshot.probes.clone(),
        proxies: snapshot.proxies.clone(),
    }
}

/// How a cause's mesh must relate to its effect's mesh for the link to hold.
#[derive(Clone, Copy, PartialEq)]
enum Relation {
    /// Either mesh (e.g. a self-signed CA on either side breaks both directions).
    Any,
    /// The cause is in the mesh that verifies (e.g. A's extra roots → A distrusts B).
    SameMesh,
    /// The cause is in the mesh being verified (e.g. B's incomplete chain → A distrusts B).
    PeerMesh,
}

/// Which findings explain which (cause, effect, relation). Consequences are folded under
/// their causes in reports; the cause is what to fix first.
const CAUSES: &[(&str, &str, Relation)] = &[
    ("T007", "T001", Relation::Any),
    ("T007", "T002", Relation::Any),
    ("T009", "T001", Relation::Any),
    ("T009", "T002", Relation::Any),
    ("T009", "T003", Relation::SameMesh),
    ("T003", "T001", Relation::SameMesh),
    ("T003", "T002", Relation::SameMesh),
    ("T005", "T001", Relation::PeerMesh),
    ("T005", "T002", Relation::PeerMesh),
    ("T004", "T001", Relation::PeerMesh),
    ("T004", "T002", Relation::PeerMesh),
    ("C005", "T004", Relation::SameMesh),
    ("C005", "T001", Relation::PeerMesh),
    ("C005", "T002", Relation::PeerMesh),
    ("V001", "I001", Relation::Any),
    ("S001", "G004", Relation::Any),
    ("R002", "G002", Relation::Any),
    ("R002", "G006", Relation::Any),
    ("G003", "G002", Relation::Any),
    // Live probes: the configuration finding explains what the probe saw.
    ("G001", "L001", Relation::Any),
    ("G007", "L001", Relation::Any),
    ("N001", "L001", Relation::Any),
    ("G002", "L002", Relation::Any),
    ("G003", "L002", Relation::Any),
    ("G006", "L002", Relation::Any),
    ("R002", "L002", Relation::Any),
    ("T001", "L003", Relation::Any),
    ("T005", "L003", Relation::Any),
    ("T006", "L003", Relation::Any),
    ("C001", "L003", Relation::Any),
    ("T007", "L003", Relation::Any),
    ("T009", "L003", Relation::Any),
    ("I002", "L004", Relation::Any),
    ("G007", "L004", Relation::Any),
    ("T002", "L005", Relation::Any),
    ("I001", "L005", Relation::Any),
    ("G005", "L005", Relation::Any),
    ("C001", "L005", Relation::Any),
    ("T007", "L005", Relation::Any),
    ("T009", "L005", Relation::Any),
    ("P001", "L007", Relation::Any),
    ("P002", "L007", Relation::Any),
    // Running proxies: the configuration finding explains what the counters show.
    ("T001", "L010", Relation::Any),
    ("T002", "L010", Relation::Any),
    ("T007", "L010", Relation::Any),
    ("T008", "L010", Relation::Any),
    ("T009", "L010", Relation::Any),
    ("I001", "L010", Relation::Any),
    ("I002", "L010", Relation::Any),
    ("I005", "L010", Relation::Any),
    ("G005", "L010", Relation::Any),
    ("C001", "L010", Relation::Any),
    ("L009", "L010", Relation::Any),
    ("R007", "L009", Relation::Any),
    ("G008", "I002", Relation::Any),
    ("G008", "I003", Relation::Any),
];

fn related(relation: Relation, cause: Side, effect: Side) -> bool {
    match relation {
        Relation::Any => true,
        _ if cause == Side::Both || effect == Side::Both => true,
        Relation::SameMesh => cause == effect,
        Relation::PeerMesh => cause != effect,
    }
}

/// Links each finding to the findings that explain it. Findings are grouped by code first, so
/// the cost follows the number of (cause, effect) pairs that can match, not findings².
fn link_causes(findings: &mut [Finding]) {
    let mut by_code: HashMap<String, Vec<(Side, Option<String>)>> = HashMap::new();
    for f in findings.iter() {
        by_code
            .entry(f.code.clone())
            .or_default()
            .push((f.mesh, f.route.clone()));
    }
    for finding in findings.iter_mut() {
        for (cause, effect, relation) in CAUSES
            .iter()
            .filter(|(_, effect, _)| *effect == finding.code)
        {
            let _ = effect;
            let Some(causes) = by_code.get(*cause) else {
                continue;
            };
            let explains = causes.iter().any(|(mesh, route)| {
                let same_scope =
                    route.is_none() || finding.route.is_none() || *route == finding.route;
                same_scope && related(*relation, *mesh, finding.mesh)
            });
            if explains && !finding.caused_by.iter().any(|c| c == cause) {
                finding.caused_by.push((*cause).to_string());
            }
        }
        finding.root_cause = finding.caused_by.is_empty();
    }
}

/// Which configuration findings each probe outcome confirms when it fails.
const CONFIRMS: &[(&str, &[&str])] = &[
    ("L001", &["G001", "G007", "N001"]),
    ("L002", &["G002", "G003", "G006", "R002"]),
    ("L003", &["T001", "T005", "T006", "T007", "T009", "C001"]),
    ("L004", &["I002", "G007"]),
    ("L005", &["T002", "I001", "G005", "C001", "T007", "T009"]),
    ("L007", &["P001", "P002"]),
];

/// What a successful handshake (L008) refutes: failures of the TLS layer. Findings above it
/// (authorization, plaintext from the real sidecar) cannot be refuted by our handshake.
const REFUTED_BY_HANDSHAKE: &[&str] = &[
    "G001", "G002", "G003", "G005", "G006", "G007", "T001", "T002", "T005", "T006", "T007", "T009",
    "I001", "I002", "C001", "P001", "P002",
];

/// A configuration finding confirmed by a probe is stated as fact; one contradicted by a
/// probe is downgraded to a warning and says so.
fn weigh_against_probes(
    findings: &mut [Finding],
    routes: &[Route],
    probes: &[crate::model::ProbeObservation],
) {
    use crate::finding::ProbeVerdict;
    for finding in findings.iter_mut().filter(|f| !f.code.starts_with('L')) {
        let applicable: Vec<&crate::model::ProbeObservation> = probes
            .iter()
            .filter(|p| match (&finding.route, &p.route) {
                (Some(f), Some(r)) => f == r,
                (None, Some(r)) => routes
                    .iter()
                    .any(|route| route.id == *r && applies_to(finding, route)),
                _ => false,
            })
            .collect();
        let confirming = applicable.iter().find_map(|p| {
            let code = p.outcome.code()?;
            CONFIRMS
                .iter()
                .any(|(l, codes)| *l == code && codes.contains(&finding.code.as_str()))
                .then_some(code)
        });
        if let Some(code) = confirming {
            finding.probe = Some(ProbeVerdict {
                confirmed: true,
                by: code.to_string(),
                note: format!("confirmed by a live probe ({code})"),
            });
            continue;
        }
        let refuted = !applicable.is_empty()
            && applicable.iter().all(|p| p.outcome.code() == Some("L008"))
            && REFUTED_BY_HANDSHAKE.contains(&finding.code.as_str());
        if refuted {
            if finding.severity == Severity::Error {
                finding.severity = Severity::Warning;
            }
            finding.probe = Some(ProbeVerdict {
                confirmed: false,
                by: "L008".to_string(),
                note: "contradicted: a live probe completed the mTLS handshake with the expected identities; \
                       the configuration read may not be what is deployed"
                    .to_string(),
            });
        }
    }
}

/// Whether a finding bears on a route: its own findings, and mesh-wide trust, identity and
/// certificate findings (every route depends on the meshes' CAs) — except the mesh-path trust
/// findings for a route whose server side is a gateway credential, where the server mesh's CA
/// does not take part in the handshake.
fn applies_to(finding: &Finding, route: &Route) -> bool {
    match &finding.route {
        Some(id) => *id == route.id,
        None if matches!(finding.code.as_str(), "T001" | "T002") => {
            !crate::checks::trust_direction::uses_gateway_credential(route)
        }
        None => !matches!(finding.code.chars().next(), Some('E')),
    }
}

/// `candidates` are the route's own findings and the mesh-wide ones; `unknown` says whether a
/// required input was missing.
fn route_report<'f>(
    route: &Route,
    candidates: impl Iterator<Item = &'f Finding>,
    unknown: bool,
) -> RouteReport {
    let relevant: Vec<&Finding> = candidates.filter(|f| applies_to(f, route)).collect();
    let fails = relevant.iter().any(|f| f.severity == Severity::Error);
    let verdict = if fails {
        RouteVerdict::Fails
    } else if unknown {
        RouteVerdict::Unknown
    } else {
        RouteVerdict::Ok
    };
    let mut root_causes: Vec<String> = relevant
        .iter()
        .filter(|f| f.root_cause && f.severity >= Severity::Warning)
        .map(|f| f.code.clone())
        .collect();
    root_causes.dedup();
    RouteReport {
        id: route.id.clone(),
        headline: route.headline(),
        client_namespace: route.client_namespace.clone(),
        host: route.host.clone(),
        port: route.port,
        address: route.address.clone(),
        topology: route.topology.as_str().to_string(),
        tls_mode: route.client.mode.clone(),
        sni: route.client.sni.clone(),
        expected_sans: route.client.expected_sans.clone(),
        server_identities: route.server_identities.clone(),
        caller_identities: route.caller_identities.iter().map(|i| i.uri()).collect(),
        client_identities: route.client.identities.iter().map(|i| i.uri()).collect(),
        alpn: route.client.alpn.clone(),
        gateway_service: route
            .gateway
            .as_ref()
            .map(|g| format!("{}/{}", g.service.object.namespace, g.service.object.name)),
        gateway_port: route.gateway.as_ref().map(|g| g.port),
        verdict,
        root_causes,
        notes: route.notes.clone(),
    }
}

/// Whether a finding says a required input is missing (an optional one is info only).
fn blocks_conclusion(f: &Finding) -> bool {
    matches!(f.code.as_str(), "E001" | "E004") && f.severity >= Severity::Warning
}

fn verdict(findings: &[Finding], fail_on: FailOn) -> Verdict {
    if findings.iter().any(|f| f.fails(fail_on)) {
        Verdict::Fail
    } else if findings.iter().any(blocks_conclusion) {
        Verdict::Inconclusive
    } else {
        Verdict::Pass
    }
}

fn summary(view: &MeshView) -> MeshSummary {
    let mesh = view.mesh;
    MeshSummary {
        name: mesh.name.clone(),
        trust_domain: mesh.config.trust_domain.clone(),
        trust_domain_aliases: mesh.config.trust_domain_aliases.clone(),
        accepted_trust_domains: accepted_trust_domains(mesh)
            .into_iter()
            .map(|(trust_domain, via)| AcceptedTrustDomain { trust_domain, via })
            .collect(),
        ca_mode: serde_json::to_value(view.trust.mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        trusted_roots: view
            .trust
            .trust_set()
            .iter()
            .map(CertificateEvidence::from)
            .collect(),
        istio_version: mesh.istiod.as_ref().and_then(|i| i.spec.version.clone()),
        objects_read: mesh.objects_read,
    }
}
