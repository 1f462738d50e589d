//! What running proxies hold, read from Envoy's admin API (`doctor --inspect-proxies`).
//!
//! The inspector in the binary fills these in from `/certs`, `/config_dump` and `/stats`; the
//! checks compare them with what the configuration implies (T008, I005, C002, L009, L010).
//! Only public facts are kept: certificate serials, SANs and validity, cluster TLS settings,
//! counters. Envoy's admin API never returns private keys from these endpoints, and nothing
//! else is read.

use serde::{Deserialize, Serialize};

use crate::model::Side;
use crate::time::Timestamp;

/// Why a pod's proxy was inspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProxyRole {
    /// A client workload of a route, in the client mesh (its outbound cluster matters).
    ClientWorkload,
    /// The server mesh's gateway a route lands on (its listener matters).
    Gateway,
    /// A server-mesh pod behind a route's target Service (its inbound listener matters).
    Target,
}

impl ProxyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyRole::ClientWorkload => "client workload",
            ProxyRole::Gateway => "gateway",
            ProxyRole::Target => "target",
        }
    }
}

/// One certificate as Envoy's `/certs` describes it (no PEM: serial, SANs, validity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadedCertificate {
    /// Lowercase hex without separators or leading zeros (Envoy's `serial_number`).
    pub serial: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uri_sans: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_sans: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Timestamp>,
}

impl LoadedCertificate {
    pub fn spiffe_id(&self) -> Option<&str> {
        self.uri_sans
            .iter()
            .find(|u| u.starts_with("spiffe://"))
            .map(String::as_str)
    }
}

/// The TLS settings of one outbound cluster in the proxy's `/config_dump`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterTls {
    /// `outbound|8080||api.payments.mesh-b.global`
    pub name: String,
    /// `ISTIO_MUTUAL`, `MUTUAL`, `SIMPLE` or `DISABLE`, as Envoy's settings amount to.
    pub mode: String,
    /// True when TLS applies only to endpoints labelled `tlsMode=istio` (auto mTLS).
    pub auto: bool,
    pub sni: Option<String>,
    /// SANs the proxy verifies the server against (exact matchers), sorted.
    pub sans: Vec<String>,
    pub alpn: Vec<String>,
    /// SDS name of the client certificate (`default` is the workload's own identity).
    pub client_certificate: Option<String>,
}

/// Where an `ssl.*` counter lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterScope {
    /// An upstream cluster: the proxy is the TLS client.
    Cluster,
    /// A listener: the proxy is the TLS server.
    Listener,
}

/// One TLS counter, sampled twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsCounter {
    pub scope: CounterScope,
    /// The cluster name or listener address (`0.0.0.0_15443`).
    pub owner: String,
    /// `fail_verify_san`, `fail_verify_error`, `fail_verify_no_cert`, `connection_error`,
    /// `handshake`.
    pub counter: String,
    /// The value at the second sample.
    pub value: u64,
    /// How much it rose between the two samples.
    pub rise: u64,
}

/// What one proxy's admin API showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyState {
    /// Roots the proxy validates peers with (`ca_cert` of `/certs`), distinct serials.
    pub roots: Vec<LoadedCertificate>,
    /// The leaf certificates the proxy presents (first of each `cert_chain`), distinct.
    pub certificates: Vec<LoadedCertificate>,
    /// TLS settings of the outbound clusters of the inspected routes.
    pub clusters: Vec<ClusterTls>,
    /// The `ssl.*` failure and handshake counters of the routes' clusters (client) or TLS
    /// listeners (gateway, target); other clusters' counters are not kept.
    pub counters: Vec<TlsCounter>,
    /// Whether `/stats?filter=ssl` returned counters for the route's clusters or TLS
    /// listeners (Istio drops them unless `proxyStatsMatcher` includes them); `None` when
    /// this proxy neither originates nor terminates the routes' TLS (a passthrough gateway).
    pub ssl_stats_exposed: Option<bool>,
    /// Milliseconds between the two counter samples.
    pub sample_millis: u64,
}

/// One proxy inspected through a port-forward to its admin port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyObservation {
    pub mesh: Side,
    /// The kubeconfig context the pod was reached through.
    pub context: String,
    pub namespace: String,
    pub pod: String,
    pub role: ProxyRole,
    /// The workload the pod belongs to (`Deployment shop/frontend`).
    pub workload: String,
    /// The routes this proxy carries or serves.
    pub routes: Vec<String>,
    /// For gateways and targets: the container ports the routes arrive on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u32>,
    pub state: ProxyState,
}

/// Canonical form of a certificate serial: lowercase hex, no separators, no leading zeros.
/// Envoy prints `1a2b…`; x509 parsers often print `1a:2b:…` or with a leading `00`.
pub fn canonical_serial(serial: &str) -> String {
    let hex: String = serial
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".into()
    } else {
        trimmed.into()
    }
}

#[cfg(test)]
mod tests {
    use super::canonical_serial;

    #[test]
    fn serials_compare_across_notations() {
        assert_eq!(canonical_serial("00:1A:2b"), "1a2b");
        assert_eq!(canonical_serial("1a2b"), "1a2b");
        assert_eq!(canonical_serial("00"), "0");
    }
}
