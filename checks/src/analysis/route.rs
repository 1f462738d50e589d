//! Cross-mesh routes: what mesh A's sidecar sends and expects, and what mesh B does with it.
//!
//! A route is one (client namespace, remote host, port). It is derived from A's ServiceEntries
//! whose endpoints point at one of B's gateway addresses (or that the user named with
//! `--host`), following how Istio builds the client cluster (`cluster_tls.go`) and B's
//! gateway filter chains (`gateway.go`).

use serde::Serialize;

use super::index::{MeshIndex, host_matches};
use crate::model::{ClientTls, Item, Mesh, ServiceEntrySpec, Source};
use crate::spiffe::SpiffeId;

/// How the connection crosses into mesh B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// Through an AUTO_PASSTHROUGH gateway: A's sidecar handshakes with B's workload.
    EastWest,
    /// A B gateway terminates mTLS (ISTIO_MUTUAL or MUTUAL) and re-originates.
    Terminated,
    /// A B gateway server in PASSTHROUGH mode (routes on SNI without terminating).
    Passthrough,
    /// A sends plaintext.
    Plaintext,
    /// Could not be determined (no matching gateway server, or not tied to B).
    Unknown,
}

impl Topology {
    pub fn as_str(self) -> &'static str {
        match self {
            Topology::EastWest => "east-west",
            Topology::Terminated => "gateway-terminated",
            Topology::Passthrough => "passthrough",
            Topology::Plaintext => "plaintext",
            Topology::Unknown => "unknown",
        }
    }
}

/// The TLS settings A's sidecar uses for the route, and where they come from.
#[derive(Debug, Clone, Serialize)]
pub struct ClientSide {
    /// `ISTIO_MUTUAL`, `MUTUAL`, `SIMPLE`, `DISABLE`.
    pub mode: String,
    /// True when no DestinationRule sets TLS and auto-mTLS decided.
    pub auto_mtls: bool,
    pub tls: Option<ClientTls>,
    /// The DestinationRule that decided the TLS settings, with the field path of `tls`.
    pub destination_rule: Option<(Source, String)>,
    pub sni: Option<String>,
    /// The SANs A verifies the server against; empty means no SAN check.
    pub expected_sans: Vec<String>,
    /// `destination-rule` (literal) or `registry` (ServiceEntry SANs / service accounts).
    pub sans_from: &'static str,
    /// Identities A's workloads in the client namespace present.
    pub identities: Vec<SpiffeId>,
}

/// The B gateway server the route lands on.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayHop {
    pub gateway: Source,
    /// Index of the matching server in `spec.servers`.
    pub server: usize,
    pub tls_mode: String,
    pub service: Source,
    pub address: String,
    pub port: u32,
    /// Service accounts of the gateway pods.
    pub service_accounts: Vec<String>,
    pub workload_namespace: String,
    /// For MUTUAL/SIMPLE servers: the `credentialName` Secret, decoded.
    pub credential: Option<Credential>,
}

/// A gateway's TLS credential (`credentialName`): what it presents and whom it accepts.
#[derive(Debug, Clone, Serialize)]
pub struct Credential {
    /// `namespace/name` of the Secret, as the gateway looks it up (its own namespace).
    pub name: String,
    /// The Secret holding `tls.crt`; `None` when it is not in the inputs.
    pub secret: Option<Source>,
    /// `tls.crt`: the server certificate then its intermediates.
    pub chain: Vec<std::sync::Arc<crate::pki::Certificate>>,
    /// The client CA bundle (`ca.crt`, `cacert`, or Secret `<name>-cacert`).
    pub client_cas: Vec<std::sync::Arc<crate::pki::Certificate>>,
    /// Where the client CA bundle was found: the Secret and its key.
    pub client_cas_source: Option<(Source, String)>,
}

/// The B service the route ends at.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub service: Source,
    pub host: String,
    pub port: u32,
    /// Labels of the pods behind the service, per workload.
    pub workloads: Vec<(Source, std::collections::BTreeMap<String, String>, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Route {
    /// `shop → api.payments.mesh-b.global:8080`
    pub id: String,
    pub client_namespace: String,
    pub host: String,
    pub port: u32,
    pub service_entry: Option<Source>,
    /// `address:port` the route resolves to.
    pub address: Option<String>,
    pub topology: Topology,
    pub client: ClientSide,
    pub gateway: Option<GatewayHop>,
    pub target: Option<Target>,
    /// SANs B presents to A: workload SPIFFE IDs end-to-end, the gateway's SPIFFE ID for
    /// ISTIO_MUTUAL, the credential's URI and DNS SANs for MUTUAL.
    pub server_identities: Vec<String>,
    /// Identities B's target sees as the caller.
    pub caller_identities: Vec<SpiffeId>,
    /// Why the route could not be followed further, in words.
    pub notes: Vec<String>,
}

impl Route {
    /// One line for humans: `shop → host:8080 via 203.0.113.10:15443 (east-west, SNI …)`.
    pub fn headline(&self) -> String {
        let via = self
            .address
            .as_deref()
            .map(|a| format!(" via {a}"))
            .unwrap_or_default();
        let sni = self
            .client
            .sni
            .as_deref()
            .map(|s| format!(", SNI {s}"))
            .unwrap_or_default();
        format!("{}{via} ({}{sni})", self.id, self.topology.as_str())
    }

    /// Whether A's sidecar and B's workload handshake directly (the trust-domain check applies).
    pub fn is_end_to_end(&self) -> bool {
        self.topology == Topology::EastWest
    }
}

/// Derives every route from A to B.
pub fn discover(client: &Mesh, server: &Mesh, hosts: &[String]) -> Vec<Route> {
    let a = MeshIndex::new(client);
    let b = MeshIndex::new(server);
    let gateways = b.gateway_addresses();
    let mut routes = Vec::new();
    for se in &client.service_entries {
        for host in &se.spec.hosts {
            if !hosts.is_empty() && !hosts.iter().any(|h| h == host) {
                continue;
            }
            let endpoint = se.spec.endpoints.iter().find_map(|ep| {
                gateways
                    .iter()
                    .find(|g| g.address == ep.address)
                    .map(|g| (ep, g))
            });
            let tied = endpoint.is_some() || !hosts.is_empty();
            if !tied {
                continue;
            }
            for port in &se.spec.ports {
                let target_port = endpoint
                    .and_then(|(ep, _)| ep.ports.get(&port.name).copied())
                    .or(port.target_port)
                    .unwrap_or(port.number);
                for ns in a.client_namespaces(se) {
                    let mut route = Route {
                        id: format!("{ns} → {host}:{}", port.number),
                        client_namespace: ns.clone(),
                        host: host.clone(),
                        port: port.number,
                        service_entry: Some(se.source.clone()),
                        address: endpoint.map(|(ep, _)| format!("{}:{target_port}", ep.address)),
                        topology: Topology::Unknown,
                        client: client_side(&a, client, se, host, port.number, &ns),
                        gateway: None,
                        target: None,
                        server_identities: Vec::new(),
                        caller_identities: Vec::new(),
                        notes: Vec::new(),
                    };
                    if let Some((_, gw)) = endpoint {
                        follow_into_server(&mut route, &b, server, gw, target_port);
                    } else {
                        route.notes.push(format!(
                            "no endpoint of {} points at an address of {}'s gateways",
                            se.source.object, server.name
                        ));
                    }
                    routes.push(route);
                }
            }
        }
    }
    routes
}

fn client_side(
    a: &MeshIndex,
    mesh: &Mesh,
    se: &Item<ServiceEntrySpec>,
    host: &str,
    port: u32,
    namespace: &str,
) -> ClientSide {
    let decided = a.client_tls(namespace, host, port, se.namespace());
    let endpoints_are_istio = !se.spec.endpoints.is_empty()
        && se.spec.endpoints.iter().all(|ep| {
            ep.labels
                .get("security.istio.io/tlsMode")
                .map(String::as_str)
                == Some("istio")
                || !ep.service_account.is_empty()
        });
    let (mode, auto_mtls, tls, destination_rule) = match decided {
        Some((tls, source, path)) if !tls.mode.is_empty() => {
            (tls.mode.clone(), false, Some(tls), Some((source, path)))
        }
        _ if mesh.config.enable_auto_mtls && endpoints_are_istio => {
            ("ISTIO_MUTUAL".to_string(), true, None, None)
        }
        _ => ("DISABLE".to_string(), false, None, None),
    };
    let sni = match (&tls, mode.as_str()) {
        (Some(t), _) if !t.sni.is_empty() => Some(t.sni.clone()),
        (_, "ISTIO_MUTUAL") => Some(format!("outbound_.{port}_._.{host}")),
        (_, "MUTUAL" | "SIMPLE") => Some(host.to_string()),
        _ => None,
    };
    let td = &mesh.config.trust_domain;
    let (expected_sans, sans_from) = match &tls {
        Some(t) if !t.subject_alt_names.is_empty() => {
            (t.subject_alt_names.clone(), "destination-rule")
        }
        _ => {
            let mut sans = se.spec.subject_alt_names.clone();
            let mut tds = vec![td.clone()];
            tds.extend(mesh.config.trust_domain_aliases.iter().cloned());
            for ep in se
                .spec
                .endpoints
                .iter()
                .filter(|e| !e.service_account.is_empty())
            {
                for t in &tds {
                    let id = SpiffeId::new(t, se.namespace(), &ep.service_account).uri();
                    if !sans.contains(&id) {
                        sans.push(id);
                    }
                }
            }
            (sans, "registry")
        }
    };
    let identities = a
        .service_accounts_in(namespace)
        .into_iter()
        .map(|sa| SpiffeId::new(td, namespace, &sa))
        .collect();
    ClientSide {
        mode,
        auto_mtls,
        tls,
        destination_rule,
        sni,
        expected_sans,
        sans_from,
        identities,
    }
}

fn follow_into_server(
    route: &mut Route,
    b: &MeshIndex,
    server: &Mesh,
    gw: &super::index::GatewayAddress,
    port: u32,
) {
    let Some(hop) = b.gateway_server(gw, port) else {
        route.notes.push(format!(
            "no Gateway in {} serves port {port} on {}",
            server.name, gw.service.object
        ));
        return;
    };
    route.topology = if route.client.mode == "DISABLE" {
        Topology::Plaintext
    } else {
        match hop.tls_mode.as_str() {
            "AUTO_PASSTHROUGH" => Topology::EastWest,
            "ISTIO_MUTUAL" | "MUTUAL" | "OPTIONAL_MUTUAL" | "SIMPLE" => Topology::Terminated,
            "PASSTHROUGH" => Topology::Passthrough,
            _ => Topology::Unknown,
        }
    };
    let td = &server.config.trust_domain;
    let target = match route.topology {
        Topology::EastWest => route
            .client
            .sni
            .as_deref()
            .and_then(parse_istio_sni)
            .and_then(|(p, host)| b.target(&host, p, "")),
        _ => b.virtual_service_target(&hop, route.client.sni.as_deref().unwrap_or(&route.host)),
    };
    match route.topology {
        Topology::EastWest => {
            if let Some(t) = &target {
                route.server_identities = t
                    .workloads
                    .iter()
                    .map(|(src, _, sa)| SpiffeId::new(td, &src.object.namespace, sa).uri())
                    .collect();
            }
            route.caller_identities = route.client.identities.clone();
        }
        Topology::Terminated | Topology::Passthrough => {
            let gateway_ids: Vec<SpiffeId> = hop
                .service_accounts
                .iter()
                .map(|sa| SpiffeId::new(td, &hop.workload_namespace, sa))
                .collect();
            if route.topology == Topology::Terminated {
                route.server_identities = match hop.credential.as_ref().and_then(|c| c.chain.first()) {
                    Some(leaf) => leaf.uri_sans.iter().chain(&leaf.dns_sans).cloned().collect(),
                    None => gateway_ids.iter().map(SpiffeId::uri).collect(),
                };
                route.caller_identities = gateway_ids;
            }
        }
        _ => {}
    }
    if target.is_none() {
        route.notes.push(format!(
            "the route's destination service was not found in {}",
            server.name
        ));
    }
    route.gateway = Some(hop);
    route.target = target;
}

/// `outbound_.8080_.v1_.reviews.prod.svc.cluster.local` → (8080, `reviews.prod.svc.cluster.local`).
pub fn parse_istio_sni(sni: &str) -> Option<(u32, String)> {
    let rest = sni.strip_prefix("outbound_.")?;
    let (port, rest) = rest.split_once("_.")?;
    let (_subset, host) = rest.split_once("_.")?;
    Some((port.parse().ok()?, host.to_string()))
}

/// Whether the expected SANs name a presented one exactly (Istio compares SANs literally).
pub fn sans_contain(expected: &[String], presented: &str) -> bool {
    expected.iter().any(|s| s == presented)
}

/// Whether a Gateway's `hosts` entry admits `host` (`*.local`, `ns/host`, `*`).
pub fn gateway_host_admits(pattern: &str, host: &str) -> bool {
    let pattern = pattern.split_once('/').map_or(pattern, |(_, h)| h);
    host_matches(pattern, host)
}
