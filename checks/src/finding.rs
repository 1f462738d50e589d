//! Findings are data: code, severity, the route, evidence from both meshes and a fix.
//! Renderers only format them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{Origin, Side, Source};
use crate::pki::Certificate;
use crate::registry::CheckInfo;
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            other => Err(format!("unknown severity `{other}` (error, warning, info)")),
        }
    }
}

/// The catalogue's families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    Trust,
    Identity,
    Certificates,
    Gateway,
    Routing,
    Policy,
    TlsParameters,
    Network,
    Versions,
    Probe,
    Environment,
    /// Findings of plug-in executables (`X-<name>-NNN`).
    #[serde(rename = "plug-in")]
    Plugin,
    /// Findings of declarative CEL rules (`U-NNN`).
    Rule,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Trust => "trust",
            Category::Identity => "identity",
            Category::Certificates => "certificates",
            Category::Gateway => "gateway",
            Category::Routing => "routing",
            Category::Policy => "policy",
            Category::TlsParameters => "tls-parameters",
            Category::Network => "network",
            Category::Versions => "versions",
            Category::Probe => "probe",
            Category::Environment => "environment",
            Category::Plugin => "plug-in",
            Category::Rule => "rule",
        }
    }

    /// The code prefix of the family (`T` for trust, ...).
    pub fn letter(self) -> char {
        match self {
            Category::Trust => 'T',
            Category::Identity => 'I',
            Category::Certificates => 'C',
            Category::Gateway => 'G',
            Category::Routing => 'R',
            Category::Policy => 'S',
            Category::TlsParameters => 'P',
            Category::Network => 'N',
            Category::Versions => 'V',
            Category::Probe => 'L',
            Category::Environment => 'E',
            Category::Plugin => 'X',
            Category::Rule => 'U',
        }
    }
}

/// A summary of a certificate used as evidence. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateEvidence {
    pub subject: String,
    pub issuer: String,
    pub fingerprint_sha256: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uri_sans: Vec<String>,
}

impl From<&Arc<Certificate>> for CertificateEvidence {
    fn from(c: &Arc<Certificate>) -> Self {
        CertificateEvidence {
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            fingerprint_sha256: c.fingerprint.clone(),
            not_before: c.not_before,
            not_after: c.not_after,
            uri_sans: c.uri_sans.clone(),
        }
    }
}

/// A file position, filled in from the object's origin (and refined to the field by the
/// renderer, which can re-read the file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub path: String,
    pub line: u32,
    pub column: u32,
    /// 0-based document index in the file.
    pub document: usize,
}

/// One piece of evidence: an object (and field) in one mesh, optionally a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub mesh: Side,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Path of the field at fault (`spec.trafficPolicy.tls.sni`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What the evidence shows, in words.
    pub note: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The cluster context, for objects read live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateEvidence>,
}

impl Evidence {
    /// Evidence pointing at an object (and optionally one of its fields).
    pub fn object(
        mesh: Side,
        source: &Source,
        field: Option<&str>,
        note: impl Into<String>,
    ) -> Evidence {
        let (location, cluster) = match &source.origin {
            Origin::File {
                path,
                document,
                line,
                column,
            } => (
                Some(Location {
                    path: path.clone(),
                    line: *line,
                    column: *column,
                    document: *document,
                }),
                None,
            ),
            Origin::Cluster { context } => (None, Some(context.clone())),
            Origin::Default => (None, None),
        };
        Evidence {
            mesh,
            kind: source.object.kind.clone(),
            namespace: source.object.namespace.clone(),
            name: source.object.name.clone(),
            field: field.map(|f| format!("{}{f}", source.prefix)),
            note: note.into(),
            location,
            cluster,
            certificate: None,
        }
    }

    /// Evidence that is a fact about a mesh rather than one object (e.g. a default).
    pub fn fact(mesh: Side, note: impl Into<String>) -> Evidence {
        Evidence {
            mesh,
            kind: String::new(),
            namespace: String::new(),
            name: String::new(),
            field: None,
            note: note.into(),
            location: None,
            cluster: None,
            certificate: None,
        }
    }

    /// Evidence about a running pod (what its proxy holds), read through `context`.
    pub fn pod(
        mesh: Side,
        context: &str,
        namespace: &str,
        name: &str,
        note: impl Into<String>,
    ) -> Evidence {
        Evidence {
            kind: "Pod".into(),
            namespace: namespace.into(),
            name: name.into(),
            cluster: Some(context.into()),
            ..Evidence::fact(mesh, note)
        }
    }

    pub fn with_certificate(mut self, cert: &Arc<Certificate>) -> Evidence {
        self.certificate = Some(cert.into());
        self
    }
}

/// How to fix a finding: a sentence, and the YAML or command to apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fix {
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yaml: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// What a live probe says about a configuration finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeVerdict {
    /// True when the probe observed what the finding predicts; false when it contradicts it.
    pub confirmed: bool,
    /// The probe finding's code (`L003`, `L008`, …).
    pub by: String,
    pub note: String,
}

/// Why a finding does not fail the gate although it is reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waived {
    pub reason: String,
    /// Where the waiver comes from: `.istio-peer.toml:12`, `annotation on Secret ns/name`.
    pub by: String,
    /// RFC 3339 date-time after which the waiver no longer applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// One diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub code: String,
    pub name: String,
    pub severity: Severity,
    pub category: Category,
    pub mesh: Side,
    /// The route this finding is about; `None` for mesh-wide findings.
    #[serde(default)]
    pub route: Option<String>,
    pub message: String,
    pub evidence: Vec<Evidence>,
    pub fix: Fix,
    /// True when no other finding explains this one.
    #[serde(default)]
    pub root_cause: bool,
    /// Codes of the findings this one follows from.
    #[serde(default)]
    pub caused_by: Vec<String>,
    /// Confirmed or contradicted by a live probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeVerdict>,
    /// Stable across runs: the code, the mesh, the route and the objects of the evidence (not
    /// messages, lines or certificates). Baselines and SARIF match findings by it.
    #[serde(default)]
    pub fingerprint: String,
    /// A waiver or an in-resource opt-out that keeps this finding from failing the gate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waived: Option<Waived>,
    /// A waiver that matched but has expired: the finding counts again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiver_expired: Option<Waived>,
    /// Present in the `--baseline` report: only new findings fail the gate.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_baseline: bool,
}

impl Finding {
    pub fn new(info: &CheckInfo, mesh: Side, message: impl Into<String>) -> Finding {
        Finding::from_parts(
            info.code.to_string(),
            info.name.to_string(),
            info.severity,
            info.category,
            mesh,
            message.into(),
        )
    }

    /// A finding of a check outside the catalogue (a plug-in or a rule).
    pub fn from_parts(
        code: String,
        name: String,
        severity: Severity,
        category: Category,
        mesh: Side,
        message: String,
    ) -> Finding {
        Finding {
            code,
            name,
            severity,
            category,
            mesh,
            route: None,
            message,
            evidence: Vec::new(),
            fix: Fix::default(),
            root_cause: true,
            caused_by: Vec::new(),
            probe: None,
            fingerprint: String::new(),
            waived: None,
            waiver_expired: None,
            in_baseline: false,
        }
    }

    pub fn route(mut self, route: impl Into<String>) -> Finding {
        self.route = Some(route.into());
        self
    }

    pub fn evidence(mut self, evidence: Evidence) -> Finding {
        self.evidence.push(evidence);
        self
    }

    pub fn fix(mut self, summary: impl Into<String>) -> Finding {
        self.fix.summary = summary.into();
        self
    }

    pub fn fix_yaml(mut self, yaml: impl Into<String>) -> Finding {
        self.fix.yaml = Some(yaml.into());
        self
    }

    pub fn fix_command(mut self, command: impl Into<String>) -> Finding {
        self.fix.command = Some(command.into());
        self
    }

    pub fn severity(mut self, severity: Severity) -> Finding {
        self.severity = severity;
        self
    }

    /// The stable identity of this finding (see `fingerprint`).
    pub fn compute_fingerprint(&self) -> String {
        let mut objects: Vec<String> = self
            .evidence
            .iter()
            .filter(|e| !e.kind.is_empty())
            .map(|e| {
                format!(
                    "{}|{}|{}|{}",
                    e.kind,
                    e.namespace,
                    e.name,
                    e.field.as_deref().unwrap_or("")
                )
            })
            .collect();
        objects.sort();
        objects.dedup();
        let key = format!(
            "{}|{}|{}|{}",
            self.code,
            self.mesh.as_str(),
            self.route.as_deref().unwrap_or(""),
            objects.join(";")
        );
        crate::pki::sha256_hex(key.as_bytes())[..32].to_string()
    }

    /// Whether this finding fails a gate at `threshold`.
    pub fn fails(&self, threshold: crate::engine::FailOn) -> bool {
        self.code != "E001"
            && self.waived.is_none()
            && !self.in_baseline
            && threshold.fails(self.severity)
    }
}
