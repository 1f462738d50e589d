//! The TLS versions and TLS 1.2 cipher suites each side of a route allows (for P001, P002).

use crate::analysis::{Route, Topology};
use crate::model::Mesh;

/// Istio's inbound default cipher suites (TLS 1.2).
pub const ISTIO_INBOUND_DEFAULT: &[&str] = &[
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES128-GCM-SHA256",
];

/// Envoy's default TLS 1.2 cipher suites for upstream (client) connections.
pub const ENVOY_CLIENT_DEFAULT: &[&str] = &[
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
];

/// The suites `COMPLIANCE_POLICY=fips-140-2` allows.
pub const FIPS: &[&str] = &[
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
];

/// Versions as 10..=13 for TLS 1.0..1.3.
#[derive(Debug, Clone)]
pub struct Window {
    pub min: u8,
    pub max: u8,
    pub ciphers: Vec<String>,
    /// What set the window, in words.
    pub because: Vec<String>,
}

pub fn version_name(v: u8) -> String {
    format!("TLS 1.{}", v.saturating_sub(10))
}

fn parse_version(text: &str) -> Option<u8> {
    match text {
        "TLSV1_0" => Some(10),
        "TLSV1_1" => Some(11),
        "TLSV1_2" => Some(12),
        "TLSV1_3" => Some(13),
        _ => None, // TLS_AUTO or empty: the default.
    }
}

fn compliance(mesh: &Mesh, window: &mut Window) {
    let policy = mesh
        .istiod
        .as_ref()
        .and_then(|i| i.spec.env.get("COMPLIANCE_POLICY"))
        .map(String::as_str);
    match policy {
        Some("fips-140-2") => {
            window.min = window.min.max(12);
            window.max = window.max.min(12);
            window.ciphers.retain(|c| FIPS.contains(&c.as_str()));
            window
                .because
                .push("istiod COMPLIANCE_POLICY=fips-140-2 (TLS 1.2 only, FIPS ciphers)".into());
        }
        Some("pqc") => {
            window.min = window.min.max(13);
            window
                .because
                .push("istiod COMPLIANCE_POLICY=pqc (TLS 1.3 only)".into());
        }
        _ => {}
    }
}

/// What the client mesh's sidecar offers.
pub fn client(mesh: &Mesh) -> Window {
    let mut w = Window {
        min: 12,
        max: 13,
        ciphers: ENVOY_CLIENT_DEFAULT.iter().map(|s| s.to_string()).collect(),
        because: Vec::new(),
    };
    if let Some(v) = parse_version(&mesh.config.tls_defaults.min_protocol_version) {
        w.min = w.min.max(v);
        w.because.push(format!(
            "meshConfig.tlsDefaults.minProtocolVersion {}",
            mesh.config.tls_defaults.min_protocol_version
        ));
    }
    compliance(mesh, &mut w);
    w
}

/// What the server side accepts for the route: B's workload sidecar end-to-end, or the
/// gateway server when it terminates.
pub fn server(mesh: &Mesh, route: &Route) -> Option<Window> {
    let mut w = Window {
        min: 12,
        max: 13,
        ciphers: ISTIO_INBOUND_DEFAULT
            .iter()
            .map(|s| s.to_string())
            .collect(),
        because: Vec::new(),
    };
    match route.topology {
        Topology::EastWest => {
            let mtls = &mesh.config.mesh_mtls;
            if let Some(v) = parse_version(&mtls.min_protocol_version) {
                w.min = w.min.max(v);
                w.because.push(format!(
                    "meshConfig.meshMTLS.minProtocolVersion {}",
                    mtls.min_protocol_version
                ));
            }
            if !mtls.cipher_suites.is_empty() {
                w.ciphers = mtls.cipher_suites.clone();
                w.because.push(format!(
                    "meshConfig.meshMTLS.cipherSuites {:?}",
                    mtls.cipher_suites
                ));
            }
        }
        Topology::Terminated => {
            let tls = &route.gateway.as_ref()?.tls;
            if let Some(v) = parse_version(&tls.min_protocol_version) {
                w.min = w.min.max(v);
                w.because.push(format!(
                    "Gateway tls.minProtocolVersion {}",
                    tls.min_protocol_version
                ));
            }
            if let Some(v) = parse_version(&tls.max_protocol_version) {
                w.max = w.max.min(v);
                w.because.push(format!(
                    "Gateway tls.maxProtocolVersion {}",
                    tls.max_protocol_version
                ));
            }
            if !tls.cipher_suites.is_empty() {
                w.ciphers = tls.cipher_suites.clone();
                w.because
                    .push(format!("Gateway tls.cipherSuites {:?}", tls.cipher_suites));
            }
        }
        _ => return None,
    }
    compliance(mesh, &mut w);
    Some(w)
}
