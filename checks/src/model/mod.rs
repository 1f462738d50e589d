//! The snapshot model: two meshes as typed, indexed objects, plus the evaluation instant.
//!
//! Built once from [`RawObject`]s (files or clusters); checks only read it.

mod build;
mod kinds;
mod mesh_config;
mod object;
mod probe;
mod proxy;
mod source;

pub use build::MeshBuilder;
pub use kinds::*;
pub use mesh_config::{
    CaCertificateEntry, Istiod, MeshConfig, ProxyConfig, TlsParameters, minor_version,
};
pub use object::{Metadata, ObjectRef, RawObject};
pub use probe::{NegativeProbe, Negotiated, ProbeObservation, ProbeOutcome, ProbeStage};
pub use proxy::{
    ClusterTls, CounterScope, LoadedCertificate, ProxyObservation, ProxyRole, ProxyState,
    TlsCounter, canonical_serial,
};
pub use source::Origin;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::pki::{Certificate, KeyFacts, PemError};
use crate::time::Timestamp;

/// Annotation in which redacted Secrets (snapshots, live collection) carry the public facts of
/// the private keys they held: `{"ca-key.pem": {"algorithm": "EC", "public_fingerprint": "…"}}`.
pub const KEY_FACTS_ANNOTATION: &str = "istio-peer.io/key-facts";

/// Which mesh: the one whose workloads call out, or the one that serves.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Client,
    Server,
    /// A finding that concerns both meshes together.
    Both,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
            Side::Both => "both",
        }
    }
}

/// Everything the checks look at.
#[derive(Debug, Serialize)]
pub struct Snapshot {
    /// The evaluation instant (`--at`, or the time of the run).
    pub at: Timestamp,
    /// Days before expiry at which C002 warns.
    pub expiry_warning_days: i64,
    pub client: Mesh,
    pub server: Mesh,
    /// When not empty, only routes to these hosts are analysed (`--host`).
    pub hosts: Vec<String>,
    /// Live TLS handshakes, when probing.
    pub probes: Vec<ProbeObservation>,
    /// Running proxies read through their admin API (`--inspect-proxies`).
    pub proxies: Vec<ProxyObservation>,
}

/// Where an object or field is: the object's origin plus the path of a field inside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub object: ObjectRef,
    /// `networking.istio.io/v1`, `v1`, …
    #[serde(skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    pub origin: Origin,
    /// Path prefix of the object inside its document (`items[3].` for List items).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prefix: String,
}

/// One typed object of a mesh.
#[derive(Debug, Clone, Serialize)]
pub struct Item<T> {
    pub meta: Metadata,
    pub source: Source,
    pub spec: T,
}

impl<T> Item<T> {
    pub fn name(&self) -> &str {
        &self.meta.name
    }

    pub fn namespace(&self) -> &str {
        &self.meta.namespace
    }

    pub fn reference(&self) -> &ObjectRef {
        &self.source.object
    }
}

/// A Service with its load-balancer status.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Service {
    pub spec: ServiceSpec,
    pub status: ServiceStatus,
}

/// A Pod or a pod-owning workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Workload {
    pub pod_labels: BTreeMap<String, String>,
    pub pod_annotations: BTreeMap<String, String>,
    pub pod: PodSpec,
}

/// A Secret reduced to what the checks may see: certificates parsed, private keys reduced to
/// their public half, every other value dropped.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SecretContents {
    pub secret_type: String,
    pub entries: BTreeMap<String, SecretEntry>,
}

/// One key of a Secret or ConfigMap that holds PEM material.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SecretEntry {
    pub certificates: Vec<Arc<Certificate>>,
    pub keys: Vec<KeyFacts>,
    /// Problems with 1-based lines inside the value.
    pub errors: Vec<PemIssue>,
    /// The value was present but empty.
    pub empty: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PemIssue {
    pub line: u32,
    pub message: String,
}

impl From<PemError> for PemIssue {
    fn from(e: PemError) -> Self {
        PemIssue {
            line: e.line,
            message: e.message,
        }
    }
}

/// A ConfigMap the checks read (`istio`, `istio-ca-root-cert`); others are not kept.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConfigMapContents {
    pub data: BTreeMap<String, String>,
    /// PEM entries decoded (e.g. `root-cert.pem`).
    pub pem: BTreeMap<String, SecretEntry>,
}

/// A document or object that could not be used (E002).
#[derive(Debug, Clone, Serialize)]
pub struct InvalidInput {
    pub origin: Origin,
    /// The object, when it could be identified.
    pub object: Option<ObjectRef>,
    /// The field at fault, when known (`spec.ports[0].port`).
    pub field: Option<String>,
    pub message: String,
}

/// Something required that the inputs do not provide (E001).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct UnavailableInput {
    /// What is missing: `secrets`, `CA material`, a kind, a whole cluster.
    pub what: String,
    /// Why: not in the inputs, forbidden, CRD absent, unreachable.
    pub reason: String,
    /// The checks that could not run because of it.
    pub disables: Vec<String>,
    /// The RBAC rule that would make it readable, when permissions were the problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rbac: Option<RbacRule>,
    /// Optional inputs (e.g. multi-primary remote secrets) do not make a run inconclusive.
    #[serde(default)]
    pub optional: bool,
}

/// One RBAC permission: `verb` on `resource` of `api_group`, in `namespace` (or cluster-wide).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RbacRule {
    pub verb: String,
    pub resource: String,
    /// `""` for the core group.
    pub api_group: String,
    /// `None` for every namespace (a ClusterRole).
    pub namespace: Option<String>,
    /// Restricts the rule to one object, for `get`.
    pub resource_name: Option<String>,
}

impl RbacRule {
    /// `get secrets (core) cacerts in namespace istio-system`
    pub fn describe(&self) -> String {
        let group = if self.api_group.is_empty() {
            "core".to_string()
        } else {
            self.api_group.clone()
        };
        let name = self
            .resource_name
            .as_deref()
            .map(|n| format!(" `{n}`"))
            .unwrap_or_default();
        let scope = self
            .namespace
            .as_deref()
            .map_or("in all namespaces".to_string(), |ns| {
                format!("in namespace {ns}")
            });
        format!(
            "`{}` on `{}`{name} (API group {group}) {scope}",
            self.verb, self.resource
        )
    }

    /// The Role or ClusterRole that grants the rule.
    pub fn yaml(&self) -> String {
        let (kind, ns) = match &self.namespace {
            Some(ns) => ("Role", format!("\n  namespace: {ns}")),
            None => ("ClusterRole", String::new()),
        };
        let names = self
            .resource_name
            .as_deref()
            .map(|n| format!("\n  resourceNames: [\"{n}\"]"))
            .unwrap_or_default();
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\nmetadata:\n  name: istio-peer-reader{ns}\nrules:\n- apiGroups: [\"{}\"]\n  resources: [\"{}\"]{names}\n  verbs: [\"{}\"]",
            self.api_group, self.resource, self.verb
        )
    }
}

/// One mesh, typed and indexed.
#[derive(Debug, Default, Serialize)]
pub struct Mesh {
    /// Label used in reports (`--client-name`, the context or the directory name).
    pub name: String,
    pub config: MeshConfig,
    /// The `istio` ConfigMap, when present.
    pub config_source: Option<Source>,
    pub istiod: Option<Item<Istiod>>,
    pub namespaces: Vec<Item<()>>,
    pub services: Vec<Item<Service>>,
    pub workloads: Vec<Item<Workload>>,
    pub secrets: Vec<Item<SecretContents>>,
    pub config_maps: Vec<Item<ConfigMapContents>>,
    pub gateways: Vec<Item<GatewaySpec>>,
    pub virtual_services: Vec<Item<VirtualServiceSpec>>,
    pub destination_rules: Vec<Item<DestinationRuleSpec>>,
    pub service_entries: Vec<Item<ServiceEntrySpec>>,
    pub sidecars: Vec<Item<SidecarSpec>>,
    pub workload_entries: Vec<Item<WorkloadEntrySpec>>,
    pub peer_authentications: Vec<Item<PeerAuthenticationSpec>>,
    pub authorization_policies: Vec<Item<AuthorizationPolicySpec>>,
    pub invalid: Vec<InvalidInput>,
    pub unavailable: Vec<UnavailableInput>,
    /// Number of objects read (recognised or not).
    pub objects_read: usize,
    /// Every object as read (Secrets redacted), kept only when user checks need them
    /// ([`MeshBuilder::keep_objects`]).
    #[serde(skip)]
    pub objects: Vec<KeptObject>,
}

/// An object's body as read, for user checks (plug-ins, CEL rules). Secrets are redacted:
/// certificates stay, private keys are replaced by their public facts. Kept as compact JSON
/// text: a fraction of the memory of a value tree, written to plug-ins as is, and parsed only
/// for the kinds a rule asks for.
#[derive(Debug, Clone)]
pub struct KeptObject {
    pub source: Source,
    pub body: Box<serde_json::value::RawValue>,
}

impl KeptObject {
    /// The body as a JSON value.
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(self.body.get()).unwrap_or(serde_json::Value::Null)
    }
}

impl Mesh {
    pub fn secret(&self, namespace: &str, name: &str) -> Option<&Item<SecretContents>> {
        self.secrets
            .iter()
            .find(|s| s.namespace() == namespace && s.name() == name)
    }

    pub fn config_map(&self, namespace: &str, name: &str) -> Option<&Item<ConfigMapContents>> {
        self.config_maps
            .iter()
            .find(|c| c.namespace() == namespace && c.name() == name)
    }

    /// istiod's version as (major, minor), from its image tag (`1.24.2` → (1, 24)).
    pub fn istio_minor_version(&self) -> Option<(u32, u32)> {
        minor_version(self.istiod.as_ref()?.spec.version.as_deref()?)
    }

    /// The namespace Istio's control plane lives in (root namespace by default).
    pub fn system_namespace(&self) -> &str {
        self.istiod
            .as_ref()
            .map(|i| i.namespace())
            .filter(|ns| !ns.is_empty())
            .unwrap_or(&self.config.root_namespace)
    }
}
