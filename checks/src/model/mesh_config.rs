//! Istio's mesh configuration (ConfigMap `istio-system/istio`, key `mesh`) and istiod's settings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The MeshConfig fields cross-mesh mTLS depends on, with Istio's defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MeshConfig {
    pub trust_domain: String,
    pub trust_domain_aliases: Vec<String>,
    pub ca_certificates: Vec<CaCertificateEntry>,
    #[serde(rename = "meshMTLS")]
    pub mesh_mtls: TlsParameters,
    pub tls_defaults: TlsParameters,
    pub enable_auto_mtls: bool,
    pub root_namespace: String,
    pub outbound_traffic_policy: Option<super::kinds::OutboundTrafficPolicy>,
    pub default_config: ProxyConfig,
}

impl Default for MeshConfig {
    fn default() -> Self {
        MeshConfig {
            trust_domain: "cluster.local".into(),
            trust_domain_aliases: Vec::new(),
            ca_certificates: Vec::new(),
            mesh_mtls: TlsParameters::default(),
            tls_defaults: TlsParameters::default(),
            enable_auto_mtls: true,
            root_namespace: "istio-system".into(),
            outbound_traffic_policy: None,
            default_config: ProxyConfig::default(),
        }
    }
}

/// `meshConfig.caCertificates[]`: extra roots, optionally scoped to trust domains.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CaCertificateEntry {
    pub pem: String,
    pub spiffe_bundle_url: String,
    pub cert_signers: Vec<String>,
    pub trust_domains: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TlsParameters {
    pub min_protocol_version: String,
    pub cipher_suites: Vec<String>,
    pub ecdh_curves: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProxyConfig {
    pub proxy_metadata: BTreeMap<String, String>,
}

/// What the tool knows about istiod: its environment (feature flags) and version.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Istiod {
    pub env: BTreeMap<String, String>,
    /// The image tag, e.g. `1.24.2`.
    pub version: Option<String>,
}

impl Istiod {
    pub fn flag(&self, name: &str) -> bool {
        self.env
            .get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
    }
}

/// `1.24.2`, `1.24.2-distroless` → (1, 24).
pub fn minor_version(tag: &str) -> Option<(u32, u32)> {
    let mut parts = tag.split(['.', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}
