//! Typed views of the Kubernetes and Istio kinds the checks read.
//!
//! Only the fields the checks use are declared; everything else in an object is ignored, so any
//! served API version (Istio v1, v1beta1, v1alpha3) deserializes into the same struct. Field names
//! follow the CRD schemas (`../shared/istio/crds/crd-all.gen.yaml`).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

pub type Labels = BTreeMap<String, String>;

/// Accepts a YAML/JSON null where a collection or string is expected (`hosts: ~`, `env:`), as
/// Kubernetes does.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A port given as a number or as a name (`targetPort: http`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    Int(u32),
    Str(String),
}

// ---------------------------------------------------------------- Kubernetes

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServiceSpec {
    #[serde(rename = "type", deserialize_with = "null_as_default")]
    pub service_type: String,
    #[serde(deserialize_with = "null_as_default")]
    pub selector: Labels,
    #[serde(deserialize_with = "null_as_default")]
    pub ports: Vec<ServicePort>,
    #[serde(rename = "clusterIP", deserialize_with = "null_as_default")]
    pub cluster_ip: String,
    #[serde(rename = "externalIPs", deserialize_with = "null_as_default")]
    pub external_ips: Vec<String>,
    #[serde(rename = "loadBalancerIP", deserialize_with = "null_as_default")]
    pub load_balancer_ip: String,
    #[serde(deserialize_with = "null_as_default")]
    pub external_name: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServicePort {
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    pub port: u32,
    pub target_port: Option<IntOrString>,
    #[serde(deserialize_with = "null_as_default")]
    pub protocol: String,
    #[serde(deserialize_with = "null_as_default")]
    pub app_protocol: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServiceStatus {
    pub load_balancer: LoadBalancerStatus,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadBalancerStatus {
    #[serde(deserialize_with = "null_as_default")]
    pub ingress: Vec<LoadBalancerIngress>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadBalancerIngress {
    #[serde(deserialize_with = "null_as_default")]
    pub ip: String,
    #[serde(deserialize_with = "null_as_default")]
    pub hostname: String,
}

/// The part of a pod spec the checks read, from a Pod or a workload's pod template.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(deserialize_with = "null_as_default")]
    pub service_account_name: String,
    #[serde(deserialize_with = "null_as_default")]
    pub service_account: String,
    #[serde(deserialize_with = "null_as_default")]
    pub containers: Vec<Container>,
    #[serde(deserialize_with = "null_as_default")]
    pub init_containers: Vec<Container>,
}

impl PodSpec {
    /// Kubernetes falls back to the deprecated `serviceAccount`, then to `default`.
    pub fn service_account(&self) -> &str {
        [&self.service_account_name, &self.service_account]
            .into_iter()
            .find(|s| !s.is_empty())
            .map_or("default", String::as_str)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Container {
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(deserialize_with = "null_as_default")]
    pub image: String,
    #[serde(deserialize_with = "null_as_default")]
    pub env: Vec<EnvVar>,
    #[serde(deserialize_with = "null_as_default")]
    pub ports: Vec<ContainerPort>,
    #[serde(deserialize_with = "null_as_default")]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EnvVar {
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// `None` when the variable comes from `valueFrom` (not resolvable offline).
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerPort {
    pub container_port: u32,
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
}

/// A pod template as found in Deployments, StatefulSets, DaemonSets, ReplicaSets and Jobs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PodTemplate {
    pub metadata: super::object::Metadata,
    pub spec: PodSpec,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkloadSpec {
    pub template: PodTemplate,
}

// ---------------------------------------------------------------- Istio: networking

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GatewaySpec {
    #[serde(deserialize_with = "null_as_default")]
    pub selector: Labels,
    #[serde(deserialize_with = "null_as_default")]
    pub servers: Vec<GatewayServer>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GatewayServer {
    pub port: GatewayPort,
    #[serde(deserialize_with = "null_as_default")]
    pub hosts: Vec<String>,
    pub tls: Option<ServerTls>,
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GatewayPort {
    pub number: u32,
    #[serde(deserialize_with = "null_as_default")]
    pub protocol: String,
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    pub target_port: Option<u32>,
}

/// Gateway `ServerTLSSettings`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServerTls {
    #[serde(deserialize_with = "null_as_default")]
    pub mode: String,
    #[serde(deserialize_with = "null_as_default")]
    pub credential_name: String,
    #[serde(deserialize_with = "null_as_default")]
    pub credential_names: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub subject_alt_names: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub min_protocol_version: String,
    #[serde(deserialize_with = "null_as_default")]
    pub max_protocol_version: String,
    #[serde(deserialize_with = "null_as_default")]
    pub cipher_suites: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub ca_certificates: String,
    pub https_redirect: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VirtualServiceSpec {
    #[serde(deserialize_with = "null_as_default")]
    pub hosts: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub gateways: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub export_to: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub http: Vec<RouteRule<PortMatch>>,
    #[serde(deserialize_with = "null_as_default")]
    pub tls: Vec<RouteRule<TlsMatch>>,
    #[serde(deserialize_with = "null_as_default")]
    pub tcp: Vec<RouteRule<PortMatch>>,
}

/// The shape shared by `http`, `tls` and `tcp` routes, as far as the checks read them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(
    default,
    rename_all = "camelCase",
    bound(deserialize = "M: Deserialize<'de>")
)]
pub struct RouteRule<M> {
    #[serde(rename = "match", deserialize_with = "null_as_default")]
    pub matches: Vec<M>,
    #[serde(deserialize_with = "null_as_default")]
    pub route: Vec<RouteDestination>,
}

impl<M> RouteRule<M> {
    /// The first destination of the rule.
    pub fn first_destination(&self) -> Option<&Destination> {
        self.route.first().map(|r| &r.destination)
    }
}

impl<M> Default for RouteRule<M> {
    fn default() -> Self {
        RouteRule {
            matches: Vec::new(),
            route: Vec::new(),
        }
    }
}

/// An `http` or `tcp` route match: the fields common to both that the checks read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PortMatch {
    pub port: Option<u32>,
    #[serde(deserialize_with = "null_as_default")]
    pub gateways: Vec<String>,
}

/// A `tls` route match.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TlsMatch {
    pub port: Option<u32>,
    #[serde(deserialize_with = "null_as_default")]
    pub sni_hosts: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub gateways: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteDestination {
    pub destination: Destination,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Destination {
    #[serde(deserialize_with = "null_as_default")]
    pub host: String,
    #[serde(deserialize_with = "null_as_default")]
    pub subset: String,
    pub port: Option<PortSelector>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PortSelector {
    pub number: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DestinationRuleSpec {
    #[serde(deserialize_with = "null_as_default")]
    pub host: String,
    pub traffic_policy: Option<TrafficPolicy>,
    #[serde(deserialize_with = "null_as_default")]
    pub subsets: Vec<Subset>,
    #[serde(deserialize_with = "null_as_default")]
    pub export_to: Vec<String>,
    pub workload_selector: Option<WorkloadSelector>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TrafficPolicy {
    pub tls: Option<ClientTls>,
    #[serde(deserialize_with = "null_as_default")]
    pub port_level_settings: Vec<PortTrafficPolicy>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PortTrafficPolicy {
    pub port: Option<PortSelector>,
    pub tls: Option<ClientTls>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Subset {
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(deserialize_with = "null_as_default")]
    pub labels: Labels,
    pub traffic_policy: Option<TrafficPolicy>,
}

/// DestinationRule `ClientTLSSettings`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ClientTls {
    #[serde(deserialize_with = "null_as_default")]
    pub mode: String,
    #[serde(deserialize_with = "null_as_default")]
    pub client_certificate: String,
    #[serde(deserialize_with = "null_as_default")]
    pub private_key: String,
    #[serde(deserialize_with = "null_as_default")]
    pub ca_certificates: String,
    #[serde(deserialize_with = "null_as_default")]
    pub credential_name: String,
    #[serde(deserialize_with = "null_as_default")]
    pub subject_alt_names: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub sni: String,
    pub insecure_skip_verify: Option<bool>,
}

/// `selector`/`workloadSelector` with `matchLabels` (DestinationRule, PeerAuthentication,
/// AuthorizationPolicy).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WorkloadSelector {
    #[serde(deserialize_with = "null_as_default")]
    pub match_labels: Labels,
}

impl WorkloadSelector {
    pub fn labels(&self) -> &Labels {
        &self.match_labels
    }
}

/// `workloadSelector` with plain `labels` (ServiceEntry, Sidecar).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LabelSelector {
    #[serde(deserialize_with = "null_as_default")]
    pub labels: Labels,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServiceEntrySpec {
    #[serde(deserialize_with = "null_as_default")]
    pub hosts: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub addresses: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub ports: Vec<ServiceEntryPort>,
    #[serde(deserialize_with = "null_as_default")]
    pub location: String,
    #[serde(deserialize_with = "null_as_default")]
    pub resolution: String,
    #[serde(deserialize_with = "null_as_default")]
    pub endpoints: Vec<WorkloadEntrySpec>,
    pub workload_selector: Option<LabelSelector>,
    #[serde(deserialize_with = "null_as_default")]
    pub export_to: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub subject_alt_names: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServiceEntryPort {
    pub number: u32,
    #[serde(deserialize_with = "null_as_default")]
    pub protocol: String,
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    pub target_port: Option<u32>,
}

/// A `WorkloadEntry` spec, also the shape of ServiceEntry `endpoints[]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WorkloadEntrySpec {
    #[serde(deserialize_with = "null_as_default")]
    pub address: String,
    #[serde(deserialize_with = "null_as_default")]
    pub ports: BTreeMap<String, u32>,
    #[serde(deserialize_with = "null_as_default")]
    pub labels: Labels,
    #[serde(deserialize_with = "null_as_default")]
    pub network: String,
    #[serde(deserialize_with = "null_as_default")]
    pub service_account: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SidecarSpec {
    pub workload_selector: Option<LabelSelector>,
    #[serde(deserialize_with = "null_as_default")]
    pub egress: Vec<SidecarEgress>,
    pub outbound_traffic_policy: Option<OutboundTrafficPolicy>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SidecarEgress {
    #[serde(deserialize_with = "null_as_default")]
    pub hosts: Vec<String>,
    pub port: Option<PortSelector>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OutboundTrafficPolicy {
    #[serde(deserialize_with = "null_as_default")]
    pub mode: String,
}

// ---------------------------------------------------------------- Istio: security

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PeerAuthenticationSpec {
    pub selector: Option<WorkloadSelector>,
    pub mtls: Option<MtlsMode>,
    #[serde(deserialize_with = "null_as_default")]
    pub port_level_mtls: BTreeMap<String, MtlsMode>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MtlsMode {
    #[serde(deserialize_with = "null_as_default")]
    pub mode: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AuthorizationPolicySpec {
    pub selector: Option<WorkloadSelector>,
    #[serde(deserialize_with = "null_as_default")]
    pub action: String,
    /// `None` means the field is absent (ALLOW with no rules denies everything).
    pub rules: Option<Vec<AuthzRule>>,
    pub target_ref: Option<Value>,
    #[serde(deserialize_with = "null_as_default")]
    pub target_refs: Vec<Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthzRule {
    #[serde(deserialize_with = "null_as_default")]
    pub from: Vec<AuthzFrom>,
    #[serde(deserialize_with = "null_as_default")]
    pub to: Vec<Value>,
    #[serde(deserialize_with = "null_as_default")]
    pub when: Vec<Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthzFrom {
    pub source: AuthzSource,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AuthzSource {
    #[serde(deserialize_with = "null_as_default")]
    pub principals: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub not_principals: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub namespaces: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub not_namespaces: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub request_principals: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub not_request_principals: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub ip_blocks: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub not_ip_blocks: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub remote_ip_blocks: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub not_remote_ip_blocks: Vec<String>,
}
