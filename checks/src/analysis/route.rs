//! Cross-mesh routes: what mesh A's sidecar sends and expects, and what mesh B does with it.
//!
//! A route is one (client namespace, remote host, port). Routes come from
//! - A's ServiceEntries whose endpoints point at an external address of one of B's Services
//!   (normally the east-west or ingress gateway),
//! - A's DestinationRules for hosts A's registry does not know but whose SNI or host names a B
//!   service (then the ServiceEntry is missing, R001),
//! - B's services that A reads directly through a remote secret (multi-primary),
//! - the hosts named with `--host`.
//!
//! The model follows how Istio builds the client cluster (`cluster_tls.go`: TLS mode, SNI,
//! SANs) and B's gateway (`gateway.go`: AUTO_PASSTHROUGH chains per service/port/subset).

use std::collections::BTreeMap;

use serde::Serialize;

use super::index::{Exposure, MeshIndex, exported_to, qualify, scoped_host_admits, tls_for_port};
use crate::model::{ClientTls, Item, ServerTls, ServiceEntrySpec, Source};
use crate::spiffe::SpiffeId;

/// How the connection crosses into mesh B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// Through an AUTO_PASSTHROUGH gateway (or pod to pod in multi-primary): A's sidecar
    /// handshakes with B's workload.
    EastWest,
    /// A B gateway terminates mTLS (ISTIO_MUTUAL or MUTUAL) and re-originates.
    Terminated,
    /// A B gateway server in PASSTHROUGH mode (routes on SNI without terminating).
    Passthrough,
    /// A sends plaintext.
    Plaintext,
    /// Could not be determined (no gateway server, or not tied to B).
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

/// Where A's registry learned the remote host from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Registry {
    ServiceEntry,
    /// Multi-primary: A's istiod reads B's services through a remote secret.
    RemoteCluster,
    /// A has no registry entry for the host (R001).
    Missing,
}

/// The TLS settings A's sidecar uses for the route, and where they come from.
#[derive(Debug, Clone, Serialize)]
pub struct ClientSide {
    /// `ISTIO_MUTUAL`, `MUTUAL`, `SIMPLE`, `DISABLE`.
    pub mode: String,
    /// Why the mode is what it is, in words (for R002).
    pub mode_reason: String,
    /// True when no DestinationRule sets TLS and auto-mTLS decided.
    pub auto_mtls: bool,
    pub tls: Option<ClientTls>,
    /// The DestinationRule that decided the TLS settings, with the field path of `tls`.
    pub destination_rule: Option<(Source, String)>,
    /// Other DestinationRules for the host at the same level, with their TLS settings.
    pub rival_rules: Vec<(Source, Option<ClientTls>)>,
    /// Whether the deciding DestinationRule has a `workloadSelector`.
    pub rule_has_workload_selector: bool,
    pub sni: Option<String>,
    /// ALPN A offers: Istio's for ISTIO_MUTUAL, none (application TLS) otherwise.
    pub alpn: Vec<String>,
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
    pub tls: ServerTls,
    pub hosts: Vec<String>,
    pub service: Source,
    pub address: String,
    pub port: u32,
    /// Service accounts of the gateway pods.
    pub service_accounts: Vec<String>,
    pub workload_namespace: String,
    /// Labels of the gateway pods.
    pub pod_labels: Vec<BTreeMap<String, String>>,
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

/// A pod (workload) behind the route's target service.
#[derive(Debug, Clone, Serialize)]
pub struct TargetPod {
    pub source: Source,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub service_account: String,
    pub sidecar: bool,
    pub container_ports: Vec<u32>,
}

/// The B service the route ends at.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub service: Source,
    pub host: String,
    pub port: u32,
    /// The container port behind the service port (`None` for a named targetPort).
    pub target_port: Option<u32>,
    pub pods: Vec<TargetPod>,
}

/// Why B's gateway finds no target for what A sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum TargetProblem {
    /// AUTO_PASSTHROUGH routes only `outbound_.<port>_.<subset>_.<host>` SNIs.
    NotIstioSni {
        sni: String,
    },
    /// A sends no SNI at all.
    NoSni,
    HostUnknown {
        host: String,
    },
    PortUnknown {
        host: String,
        port: u32,
        ports: Vec<u32>,
    },
    SubsetUnknown {
        host: String,
        subset: String,
    },
    /// The gateway server's `hosts` do not cover the host.
    NotInGatewayHosts {
        host: String,
        hosts: Vec<String>,
    },
    /// The service is not exported to the gateway's namespace.
    NotExported {
        host: String,
    },
    /// No VirtualService bound to the terminating gateway routes the host.
    NoVirtualService {
        host: String,
    },
}

/// How the route's address maps into B, when it does not reach a gateway server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum ExposureProblem {
    /// The route's address is none of B's external Service addresses.
    AddressUnknown {
        address: String,
    },
    PortMissing {
        service: Source,
        port: u32,
        ports: Vec<u32>,
    },
    NoGatewayForPods {
        service: Source,
    },
    NoServerOnPort {
        service: Source,
        port: u32,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Route {
    /// `shop → api.payments.mesh-b.global:8080`
    pub id: String,
    pub client_namespace: String,
    pub host: String,
    pub port: u32,
    /// The port's protocol as A declares it (`HTTP`, `TCP`, `TLS`, …).
    pub protocol: String,
    pub registry: Registry,
    pub service_entry: Option<Source>,
    /// `address:port` the route resolves to.
    pub address: Option<String>,
    pub topology: Topology,
    pub client: ClientSide,
    pub exposure_problem: Option<ExposureProblem>,
    pub gateway: Option<GatewayHop>,
    pub target: Option<Target>,
    pub target_problem: Option<TargetProblem>,
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
pub fn discover(a: &MeshIndex, b: &MeshIndex, hosts: &[String]) -> Vec<Route> {
    let mut routes = Vec::new();
    let wanted = |h: &str| hosts.is_empty() || hosts.iter().any(|w| w == h);
    for se in &a.mesh.service_entries {
        for host in se.spec.hosts.iter().filter(|h| wanted(h)) {
            let points_at_b = se
                .spec
                .endpoints
                .iter()
                .any(|ep| b.exposed_service(&ep.address).is_some());
            if points_at_b || !hosts.is_empty() {
                routes.extend(routes_for_service_entry(a, b, se, host));
            }
        }
    }
    for (host, port) in unregistered_hosts(a, b, hosts) {
        routes.extend(routes_without_service_entry(a, b, &host, port));
    }
    routes
}

fn routes_for_service_entry(
    a: &MeshIndex,
    b: &MeshIndex,
    se: &Item<ServiceEntrySpec>,
    host: &str,
) -> Vec<Route> {
    let mut routes = Vec::new();
    let mut namespaces = a.client_namespaces(&se.spec.export_to, se.namespace());
    let invisible = namespaces.is_empty();
    if invisible {
        namespaces.push(se.namespace().to_string());
    }
    for port in &se.spec.ports {
        let endpoint = se
            .spec
            .endpoints
            .iter()
            .find(|ep| b.exposed_service(&ep.address).is_some())
            .or(se.spec.endpoints.first());
        let endpoint_port = endpoint
            .and_then(|ep| ep.ports.get(&port.name).copied())
            .or(port.target_port)
            .unwrap_or(port.number);
        for ns in &namespaces {
            let mut route = Route {
                id: format!("{ns} → {host}:{}", port.number),
                client_namespace: ns.clone(),
                host: host.to_string(),
                port: port.number,
                protocol: port.protocol.clone(),
                registry: Registry::ServiceEntry,
                service_entry: Some(se.source.clone()),
                address: endpoint.map(|ep| format!("{}:{endpoint_port}", ep.address)),
                topology: Topology::Unknown,
                client: client_side(a, host, port.number, ns, se.namespace(), Some(se)),
                exposure_problem: None,
                gateway: None,
                target: None,
                target_problem: None,
                server_identities: Vec::new(),
                caller_identities: Vec::new(),
                notes: Vec::new(),
            };
            if invisible {
                route.notes.push(format!(
                    "{} is exported to no namespace with workloads",
                    se.source.object
                ));
            }
            match endpoint {
                Some(ep) => follow_address(&mut route, b, &ep.address, endpoint_port),
                None => route
                    .notes
                    .push(format!("{} has no endpoints", se.source.object)),
            }
            routes.push(route);
        }
    }
    routes
}

/// Hosts A configures (DestinationRules, `--host`) that A's registry does not know but B
/// serves, with the port to use.
fn unregistered_hosts(a: &MeshIndex, b: &MeshIndex, hosts: &[String]) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = Vec::new();
    let mut push = |host: &str, port: u32| {
        if !out.iter().any(|(h, _)| h == host) {
            out.push((host.to_string(), port));
        }
    };
    let remote = a.has_remote_secret();
    for dr in &a.mesh.destination_rules {
        let host = qualify(&dr.spec.host, dr.namespace());
        if host.contains('*') || a.service_entries_for(&host).next().is_some() {
            continue;
        }
        if a.service_by_host(&host).is_some() {
            continue; // A's own service.
        }
        let sni_target = dr
            .spec
            .traffic_policy
            .as_ref()
            .and_then(|p| p.tls.as_ref())
            .and_then(|t| parse_istio_sni(&t.sni));
        if let Some((port, target)) = sni_target.filter(|(_, h)| b.knows_host(h)) {
            let _ = target;
            push(&host, port);
        } else if let Some(svc) = b
            .service_by_host(&host)
            .filter(|_| remote || !hosts.is_empty())
        {
            push(&host, svc.spec.spec.ports.first().map_or(0, |p| p.port));
        }
    }
    for host in hosts {
        if a.service_entries_for(host).next().is_none() {
            let port = b
                .service_by_host(host)
                .and_then(|s| s.spec.spec.ports.first())
                .map_or(0, |p| p.port);
            push(host, port);
        }
    }
    out
}

fn routes_without_service_entry(a: &MeshIndex, b: &MeshIndex, host: &str, port: u32) -> Vec<Route> {
    let remote = a.has_remote_secret() && b.service_by_host(host).is_some();
    let host_ns = host.split('.').nth(1).unwrap_or("");
    let mut namespaces = a.client_namespaces(&[], "");
    if namespaces.is_empty() {
        namespaces.push(a.mesh.config.root_namespace.clone());
    }
    namespaces
        .into_iter()
        .map(|ns| {
            let mut route = Route {
                id: format!("{ns} → {host}:{port}"),
                client_namespace: ns.clone(),
                host: host.to_string(),
                port,
                protocol: String::new(),
                registry: if remote {
                    Registry::RemoteCluster
                } else {
                    Registry::Missing
                },
                service_entry: None,
                address: None,
                topology: Topology::Unknown,
                client: client_side(a, host, port, &ns, host_ns, None),
                exposure_problem: None,
                gateway: None,
                target: None,
                target_problem: None,
                server_identities: Vec::new(),
                caller_identities: Vec::new(),
                notes: Vec::new(),
            };
            if remote {
                follow_remote_registry(&mut route, a, b);
            } else {
                route
                    .notes
                    .push(format!("{} has no ServiceEntry for {host}", a.mesh.name));
            }
            route
        })
        .collect()
}

/// Multi-primary: A's istiod sees B's pods and derives the expected SANs from their service
/// accounts *in A's trust domain*; traffic goes through B's AUTO_PASSTHROUGH gateway.
fn follow_remote_registry(route: &mut Route, a: &MeshIndex, b: &MeshIndex) {
    let Some(svc) = b.service_by_host(&route.host) else {
        return;
    };
    let target = b.target(svc, &route.host, route.port);
    if route.client.sans_from == "registry" {
        let mut tds = vec![a.mesh.config.trust_domain.clone()];
        tds.extend(a.mesh.config.trust_domain_aliases.iter().cloned());
        let mut sans: Vec<String> = Vec::new();
        for pod in &target.pods {
            for td in &tds {
                let id = SpiffeId::new(td, svc.namespace(), &pod.service_account).uri();
                if !sans.contains(&id) {
                    sans.push(id);
                }
            }
        }
        route.client.expected_sans = sans;
    }
    if route.client.mode != "DISABLE" {
        route.topology = Topology::EastWest;
    } else {
        route.topology = Topology::Plaintext;
    }
    route.notes.push(format!(
        "{} reads {}'s registry through a remote secret (multi-primary)",
        a.mesh.name, b.mesh.name
    ));
    end_to_end_identities(route, b, &target);
    route.target = Some(target);
}

fn client_side(
    a: &MeshIndex,
    host: &str,
    port: u32,
    namespace: &str,
    host_namespace: &str,
    se: Option<&Item<ServiceEntrySpec>>,
) -> ClientSide {
    let mesh = a.mesh;
    let choice = a.destination_rule(namespace, host, host_namespace);
    let decided = choice.as_ref().and_then(|c| {
        tls_for_port(c.winner, port).map(|(tls, path)| (tls, c.winner.source.clone(), path))
    });
    let rival_rules = choice
        .as_ref()
        .map(|c| {
            c.rivals
                .iter()
                .map(|r| (r.source.clone(), tls_for_port(r, port).map(|(t, _)| t)))
                .collect()
        })
        .unwrap_or_default();
    let rule_has_workload_selector = choice
        .as_ref()
        .is_some_and(|c| c.winner.spec.workload_selector.is_some());
    let endpoints_are_istio = se.is_some_and(|se| {
        !se.spec.endpoints.is_empty()
            && se.spec.endpoints.iter().all(|ep| {
                ep.labels
                    .get("security.istio.io/tlsMode")
                    .map(String::as_str)
                    == Some("istio")
                    || !ep.service_account.is_empty()
            })
    });
    let external = se.is_some_and(|se| se.spec.location == "MESH_EXTERNAL");
    let (mode, mode_reason, auto_mtls, tls, destination_rule) = match decided {
        Some((tls, source, path)) if !tls.mode.is_empty() => {
            let reason = format!("{} sets tls.mode {}", source.object, tls.mode);
            (tls.mode.clone(), reason, false, Some(tls), Some((source, path)))
        }
        _ if !mesh.config.enable_auto_mtls => ("DISABLE".into(), "meshConfig.enableAutoMtls is false and no DestinationRule sets TLS".into(), false, None, None),
        _ if external => ("DISABLE".into(), "the ServiceEntry is MESH_EXTERNAL and no DestinationRule sets TLS".into(), false, None, None),
        _ if se.is_none() || endpoints_are_istio => ("ISTIO_MUTUAL".into(), "auto-mTLS".into(), true, None, None),
        _ => (
            "DISABLE".into(),
            "the ServiceEntry endpoints carry neither `security.istio.io/tlsMode: istio` nor a serviceAccount, and no DestinationRule sets TLS".into(),
            false,
            None,
            None,
        ),
    };
    let sni = match (&tls, mode.as_str()) {
        (Some(t), _) if !t.sni.is_empty() => Some(t.sni.clone()),
        (_, "ISTIO_MUTUAL") => Some(format!("outbound_.{port}_._.{host}")),
        (_, "MUTUAL" | "SIMPLE") => Some(host.to_string()),
        _ => None,
    };
    let alpn = if mode == "ISTIO_MUTUAL" {
        vec!["istio-peer-exchange".to_string(), "istio".to_string()]
    } else {
        Vec::new()
    };
    let td = &mesh.config.trust_domain;
    let (expected_sans, sans_from) = match &tls {
        Some(t) if !t.subject_alt_names.is_empty() => {
            (t.subject_alt_names.clone(), "destination-rule")
        }
        _ => (
            se.map(|se| registry_sans(a, se)).unwrap_or_default(),
            "registry",
        ),
    };
    let identities = a
        .service_accounts_in(namespace)
        .into_iter()
        .map(|sa| SpiffeId::new(td, namespace, &sa))
        .collect();
    ClientSide {
        mode,
        mode_reason,
        auto_mtls,
        tls,
        destination_rule,
        rival_rules,
        rule_has_workload_selector,
        sni,
        alpn,
        expected_sans,
        sans_from,
        identities,
    }
}

/// ServiceEntry `subjectAltNames` plus endpoint service accounts in A's trust domain and aliases.
fn registry_sans(a: &MeshIndex, se: &Item<ServiceEntrySpec>) -> Vec<String> {
    let mut sans = se.spec.subject_alt_names.clone();
    let mut tds = vec![a.mesh.config.trust_domain.clone()];
    tds.extend(a.mesh.config.trust_domain_aliases.iter().cloned());
    for ep in se
        .spec
        .endpoints
        .iter()
        .filter(|e| !e.service_account.is_empty())
    {
        for td in &tds {
            let id = SpiffeId::new(td, se.namespace(), &ep.service_account).uri();
            if !sans.contains(&id) {
                sans.push(id);
            }
        }
    }
    sans
}

/// Follows the route's address into B: gateway Service, Gateway server, target.
fn follow_address(route: &mut Route, b: &MeshIndex, address: &str, port: u32) {
    let Some(svc) = b.exposed_service(address) else {
        route.exposure_problem = Some(ExposureProblem::AddressUnknown {
            address: address.to_string(),
        });
        route.notes.push(format!(
            "{address} is not an external address of any Service in {}",
            b.mesh.name
        ));
        return;
    };
    let hop = match b.gateway_hop(svc, address, port) {
        Ok(hop) => hop,
        Err(exposure) => {
            let service = svc.source.clone();
            route.exposure_problem = Some(match exposure {
                Exposure::PortMissing { ports } => ExposureProblem::PortMissing {
                    service,
                    port,
                    ports,
                },
                Exposure::NoGatewayForPods => ExposureProblem::NoGatewayForPods { service },
                Exposure::NoServerOnPort => ExposureProblem::NoServerOnPort { service, port },
            });
            return;
        }
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
    let resolved = match hop.tls_mode.as_str() {
        "AUTO_PASSTHROUGH" => resolve_auto_passthrough(b, &hop, route.client.sni.as_deref()),
        "PASSTHROUGH" => resolve_by_virtual_service(
            b,
            &hop,
            route.client.sni.as_deref().unwrap_or(&route.host),
            true,
        ),
        // A terminating gateway routes decrypted requests by their authority: the host.
        _ => resolve_by_virtual_service(b, &hop, &route.host, false),
    };
    match resolved {
        Ok(target) => {
            match route.topology {
                Topology::EastWest => end_to_end_identities(route, b, &target),
                Topology::Terminated => gateway_identities(route, b, &hop),
                _ => {}
            }
            route.target = Some(target);
        }
        Err(problem) => {
            if route.topology == Topology::Terminated {
                gateway_identities(route, b, &hop);
            }
            route.target_problem = Some(problem);
        }
    }
    route.gateway = Some(hop);
}

fn end_to_end_identities(route: &mut Route, b: &MeshIndex, target: &Target) {
    let td = &b.mesh.config.trust_domain;
    let ns = &target.service.object.namespace;
    let mut ids: Vec<String> = target
        .pods
        .iter()
        .map(|p| SpiffeId::new(td, ns, &p.service_account).uri())
        .collect();
    ids.dedup();
    route.server_identities = ids;
    route.caller_identities = route.client.identities.clone();
}

fn gateway_identities(route: &mut Route, b: &MeshIndex, hop: &GatewayHop) {
    let td = &b.mesh.config.trust_domain;
    let gateway_ids: Vec<SpiffeId> = hop
        .service_accounts
        .iter()
        .map(|sa| SpiffeId::new(td, &hop.workload_namespace, sa))
        .collect();
    // With a credential the gateway presents its certificate (unknown when the Secret is
    // missing); with ISTIO_MUTUAL, its workload identity.
    route.server_identities = match &hop.credential {
        Some(credential) => credential
            .chain
            .first()
            .map(|leaf| {
                leaf.uri_sans
                    .iter()
                    .chain(&leaf.dns_sans)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default(),
        None => gateway_ids.iter().map(SpiffeId::uri).collect(),
    };
    route.caller_identities = gateway_ids;
}

/// AUTO_PASSTHROUGH: B's gateway has a filter chain per `outbound_.<port>_.<subset>_.<host>` of
/// B's registry whose host the Gateway's `hosts` cover.
fn resolve_auto_passthrough(
    b: &MeshIndex,
    hop: &GatewayHop,
    sni: Option<&str>,
) -> Result<Target, TargetProblem> {
    let sni = sni.ok_or(TargetProblem::NoSni)?;
    let (port, subset, host) =
        parse_istio_sni_parts(sni).ok_or_else(|| TargetProblem::NotIstioSni {
            sni: sni.to_string(),
        })?;
    let svc = b
        .service_by_host(&host)
        .ok_or_else(|| TargetProblem::HostUnknown { host: host.clone() })?;
    let ports: Vec<u32> = svc.spec.spec.ports.iter().map(|p| p.port).collect();
    if !ports.contains(&port) {
        return Err(TargetProblem::PortUnknown { host, port, ports });
    }
    if !subset.is_empty() && !subset_defined(b, &host, &subset) {
        return Err(TargetProblem::SubsetUnknown { host, subset });
    }
    if !hop
        .hosts
        .iter()
        .any(|h| scoped_host_admits(h, &host, svc.namespace(), &hop.gateway.object.namespace))
    {
        return Err(TargetProblem::NotInGatewayHosts {
            host,
            hosts: hop.hosts.clone(),
        });
    }
    let export: Vec<String> = svc
        .meta
        .annotations
        .get("networking.istio.io/exportTo")
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
        .unwrap_or_default();
    if !exported_to(&export, svc.namespace(), &hop.gateway.object.namespace) {
        return Err(TargetProblem::NotExported { host });
    }
    Ok(b.target(svc, &host, port))
}

fn subset_defined(b: &MeshIndex, host: &str, subset: &str) -> bool {
    b.mesh
        .destination_rules
        .iter()
        .filter(|dr| qualify(&dr.spec.host, dr.namespace()) == host)
        .any(|dr| dr.spec.subsets.iter().any(|s| s.name == subset))
}

/// A terminating or PASSTHROUGH gateway sends `host` where a VirtualService bound to it says.
fn resolve_by_virtual_service(
    b: &MeshIndex,
    hop: &GatewayHop,
    host: &str,
    by_sni: bool,
) -> Result<Target, TargetProblem> {
    let gw = &hop.gateway.object;
    for vs in &b.mesh.virtual_services {
        let bound = vs.spec.gateways.iter().any(|g| {
            *g == format!("{}/{}", gw.namespace, gw.name)
                || (*g == gw.name && vs.namespace() == gw.namespace)
        });
        if !bound {
            continue;
        }
        let destination =
            if by_sni {
                vs.spec
                    .tls
                    .iter()
                    .filter(|r| {
                        r.matches.is_empty()
                            || r.matches.iter().any(|m| {
                                m.sni_hosts
                                    .iter()
                                    .any(|h| super::index::host_matches(h, host))
                            })
                    })
                    .find_map(|r| r.first_destination())
            } else {
                if !vs.spec.hosts.iter().any(|h| {
                    super::index::host_matches(h.split_once('/').map_or(h, |(_, x)| x), host)
                }) {
                    continue;
                }
                let http = vs.spec.http.iter().find_map(|r| r.first_destination());
                let tls = vs.spec.tls.iter().find_map(|r| r.first_destination());
                let tcp = vs.spec.tcp.iter().find_map(|r| r.first_destination());
                http.or(tls).or(tcp)
            };
        let Some(destination) = destination else {
            continue;
        };
        let full = qualify(&destination.host, vs.namespace());
        let svc = b
            .service_by_host(&full)
            .ok_or_else(|| TargetProblem::HostUnknown { host: full.clone() })?;
        let port = destination
            .port
            .as_ref()
            .map(|p| p.number)
            .or_else(|| svc.spec.spec.ports.first().map(|p| p.port))
            .unwrap_or(0);
        return Ok(b.target(svc, &full, port));
    }
    Err(TargetProblem::NoVirtualService {
        host: host.to_string(),
    })
}

/// `outbound_.8080_.v1_.reviews.prod.svc.cluster.local` → (8080, `v1`, host).
pub fn parse_istio_sni_parts(sni: &str) -> Option<(u32, String, String)> {
    let rest = sni.strip_prefix("outbound_.")?;
    let (port, rest) = rest.split_once("_.")?;
    let (subset, host) = rest.split_once("_.")?;
    Some((port.parse().ok()?, subset.to_string(), host.to_string()))
}

/// `outbound_.8080_._.reviews.prod.svc.cluster.local` → (8080, `reviews.prod.svc.cluster.local`).
pub fn parse_istio_sni(sni: &str) -> Option<(u32, String)> {
    parse_istio_sni_parts(sni).map(|(port, _, host)| (port, host))
}

/// Whether the expected SANs name a presented one exactly (Istio compares SANs literally).
pub fn sans_contain(expected: &[String], presented: &str) -> bool {
    expected.iter().any(|s| s == presented)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_istio_sni() {
        assert_eq!(
            parse_istio_sni_parts("outbound_.8080_.v1_.reviews.prod.svc.cluster.local"),
            Some((8080, "v1".into(), "reviews.prod.svc.cluster.local".into()))
        );
        assert_eq!(
            parse_istio_sni("outbound_.8080_._.a.b.svc.cluster.local"),
            Some((8080, "a.b.svc.cluster.local".into()))
        );
        assert_eq!(parse_istio_sni("api.example.com"), None);
        assert_eq!(parse_istio_sni("outbound_.x_._.a"), None);
    }
}
