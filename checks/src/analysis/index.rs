//! Lookup tables over one mesh, built once so that checks stay linear in the number of objects.

use std::collections::{BTreeMap, HashMap};

use super::route::{Credential, GatewayHop, Target, TargetPod};
use crate::model::{
    ClientTls, DestinationRuleSpec, GatewaySpec, IntOrString, Item, Mesh, SecretContents, Service,
    ServiceEntrySpec, SidecarSpec, Workload,
};

/// The DNS suffix Istio gives in-mesh services (`<name>.<ns>.svc.cluster.local`).
pub const SERVICE_DOMAIN: &str = "svc.cluster.local";

/// Why an address of the server mesh does not lead to a gateway server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exposure {
    /// The Service has no port with this number.
    PortMissing { ports: Vec<u32> },
    /// No Gateway selects the pods behind the Service.
    NoGatewayForPods,
    /// Gateways select the pods, but none has a server on the port.
    NoServerOnPort,
}

/// The DestinationRule a client namespace applies to a host, and its rivals.
pub struct RuleChoice<'m> {
    pub winner: &'m Item<DestinationRuleSpec>,
    /// Other rules for the same host at the same level (Istio keeps the oldest).
    pub rivals: Vec<&'m Item<DestinationRuleSpec>>,
}

pub struct MeshIndex<'m> {
    pub mesh: &'m Mesh,
    services: HashMap<(&'m str, &'m str), usize>,
    namespaces: HashMap<&'m str, usize>,
    workloads_by_ns: HashMap<&'m str, Vec<usize>>,
    destination_rules_by_ns: HashMap<&'m str, Vec<usize>>,
    service_entries_by_host: HashMap<&'m str, Vec<usize>>,
    authorization_policies_by_ns: HashMap<&'m str, Vec<usize>>,
    peer_authentications_by_ns: HashMap<&'m str, Vec<usize>>,
    /// External address of a Service (load balancer, externalIP) → the Service.
    addresses: HashMap<String, usize>,
}

impl<'m> MeshIndex<'m> {
    pub fn new(mesh: &'m Mesh) -> MeshIndex<'m> {
        let mut index = MeshIndex {
            mesh,
            services: HashMap::new(),
            namespaces: HashMap::new(),
            workloads_by_ns: HashMap::new(),
            destination_rules_by_ns: HashMap::new(),
            service_entries_by_host: HashMap::new(),
            authorization_policies_by_ns: HashMap::new(),
            peer_authentications_by_ns: HashMap::new(),
            addresses: HashMap::new(),
        };
        for (i, p) in mesh.authorization_policies.iter().enumerate() {
            index
                .authorization_policies_by_ns
                .entry(p.namespace())
                .or_default()
                .push(i);
        }
        for (i, p) in mesh.peer_authentications.iter().enumerate() {
            index
                .peer_authentications_by_ns
                .entry(p.namespace())
                .or_default()
                .push(i);
        }
        for (i, s) in mesh.services.iter().enumerate() {
            index.services.insert((s.namespace(), s.name()), i);
            for address in external_addresses(&s.spec) {
                index.addresses.entry(address).or_insert(i);
            }
        }
        for (i, n) in mesh.namespaces.iter().enumerate() {
            index.namespaces.insert(n.name(), i);
        }
        for (i, w) in mesh.workloads.iter().enumerate() {
            index
                .workloads_by_ns
                .entry(w.namespace())
                .or_default()
                .push(i);
        }
        for (i, d) in mesh.destination_rules.iter().enumerate() {
            index
                .destination_rules_by_ns
                .entry(d.namespace())
                .or_default()
                .push(i);
        }
        for (i, se) in mesh.service_entries.iter().enumerate() {
            for host in &se.spec.hosts {
                index
                    .service_entries_by_host
                    .entry(host)
                    .or_default()
                    .push(i);
            }
        }
        index
    }

    /// Workloads in `namespace` whose pod labels match `selector` (an empty selector selects
    /// nothing, as for a Service without selector).
    pub fn workloads_selected(
        &self,
        namespace: &str,
        selector: &BTreeMap<String, String>,
    ) -> Vec<&'m Item<Workload>> {
        if selector.is_empty() {
            return Vec::new();
        }
        self.workloads_in(namespace)
            .filter(|w| labels_match(selector, &w.spec.pod_labels))
            .collect()
    }

    pub fn workloads_in(&self, namespace: &str) -> impl Iterator<Item = &'m Item<Workload>> + '_ {
        self.workloads_by_ns
            .get(namespace)
            .into_iter()
            .flatten()
            .map(|&i| &self.mesh.workloads[i])
    }

    pub fn namespace_labels(&self, namespace: &str) -> Option<&'m BTreeMap<String, String>> {
        self.namespaces
            .get(namespace)
            .map(|&i| &self.mesh.namespaces[i].meta.labels)
    }

    /// Whether a workload's pods run an Istio sidecar: already injected (an `istio-proxy`
    /// container), or injected by the webhook (namespace or pod opt-in, no pod opt-out).
    pub fn has_sidecar(&self, workload: &Item<Workload>) -> bool {
        let pod = &workload.spec;
        if pod.pod.containers.iter().any(|c| c.name == "istio-proxy") {
            return true;
        }
        let inject = pod
            .pod_labels
            .get("sidecar.istio.io/inject")
            .or_else(|| pod.pod_annotations.get("sidecar.istio.io/inject"))
            .map(String::as_str);
        if inject == Some("false") {
            return false;
        }
        let ns = self.namespace_labels(workload.namespace());
        let ns_enabled = ns.is_some_and(|l| {
            l.get("istio-injection").map(String::as_str) == Some("enabled")
                || l.contains_key("istio.io/rev")
        });
        let ns_disabled =
            ns.is_some_and(|l| l.get("istio-injection").map(String::as_str) == Some("disabled"));
        inject == Some("true") && !ns_disabled
            || ns_enabled
            || pod.pod_labels.contains_key("istio.io/rev")
    }

    pub fn service(&self, namespace: &str, name: &str) -> Option<&'m Item<Service>> {
        self.services
            .get(&(namespace, name))
            .map(|&i| &self.mesh.services[i])
    }

    /// The Service for an in-mesh host `name.ns.svc.cluster.local` (or `name.ns.svc`).
    pub fn service_by_host(&self, host: &str) -> Option<&'m Item<Service>> {
        let mut parts = host.splitn(3, '.');
        let (name, ns, rest) = (parts.next()?, parts.next()?, parts.next()?);
        if rest != "svc" && rest != SERVICE_DOMAIN {
            return None;
        }
        self.service(ns, name)
    }

    pub fn service_entries_for(
        &self,
        host: &str,
    ) -> impl Iterator<Item = &'m Item<ServiceEntrySpec>> + '_ {
        self.service_entries_by_host
            .get(host)
            .into_iter()
            .flatten()
            .map(|&i| &self.mesh.service_entries[i])
    }

    /// Whether `host` is known to this mesh's registry (a Service or a ServiceEntry).
    pub fn knows_host(&self, host: &str) -> bool {
        self.service_by_host(host).is_some() || self.service_entries_by_host.contains_key(host)
    }

    /// The Service reachable from outside at `address`.
    pub fn exposed_service(&self, address: &str) -> Option<&'m Item<Service>> {
        self.addresses.get(address).map(|&i| &self.mesh.services[i])
    }

    /// Gateways whose selector matches any of `pods`.
    pub fn gateways_for(&self, pods: &[&Item<Workload>]) -> Vec<&'m Item<GatewaySpec>> {
        self.mesh
            .gateways
            .iter()
            .filter(|g| !g.spec.selector.is_empty())
            .filter(|g| {
                pods.iter()
                    .any(|w| labels_match(&g.spec.selector, &w.spec.pod_labels))
            })
            .collect()
    }

    /// The Gateway server that handles `port` of gateway Service `svc`, or why there is none.
    pub fn gateway_hop(
        &self,
        svc: &'m Item<Service>,
        address: &str,
        port: u32,
    ) -> Result<GatewayHop, Exposure> {
        let ports: Vec<u32> = svc.spec.spec.ports.iter().map(|p| p.port).collect();
        if !ports.contains(&port) {
            return Err(Exposure::PortMissing { ports });
        }
        let pods = self.workloads_selected(svc.namespace(), &svc.spec.spec.selector);
        let gateways = self.gateways_for(&pods);
        if gateways.is_empty() {
            return Err(Exposure::NoGatewayForPods);
        }
        let mut service_accounts: Vec<String> = pods
            .iter()
            .map(|w| w.spec.pod.service_account().to_string())
            .collect();
        service_accounts.sort();
        service_accounts.dedup();
        for gateway in gateways {
            let Some((i, server)) = gateway
                .spec
                .servers
                .iter()
                .enumerate()
                .find(|(_, s)| s.port.number == port)
            else {
                continue;
            };
            let tls = server.tls.clone().unwrap_or_default();
            let credential = (matches!(tls.mode.as_str(), "MUTUAL" | "SIMPLE" | "OPTIONAL_MUTUAL")
                && !tls.credential_name.is_empty())
            .then(|| self.credential(gateway.namespace(), svc.namespace(), &tls.credential_name));
            return Ok(GatewayHop {
                gateway: gateway.source.clone(),
                server: i,
                tls_mode: tls.mode.clone(),
                hosts: server.hosts.clone(),
                tls,
                service: svc.source.clone(),
                address: address.to_string(),
                port,
                service_accounts,
                workload_namespace: svc.namespace().to_string(),
                pod_labels: pods.iter().map(|w| w.spec.pod_labels.clone()).collect(),
                credential,
            });
        }
        Err(Exposure::NoServerOnPort)
    }

    /// A gateway credential as Istio resolves it: Secret `name` in the gateway *pods'*
    /// namespace, client CAs from its `ca.crt`/`cacert`, else from Secret `<name>-cacert`.
    fn credential(&self, _gateway_namespace: &str, pod_namespace: &str, name: &str) -> Credential {
        let secret = self.mesh.secret(pod_namespace, name);
        let entry = |s: &'m Item<SecretContents>, key: &str| {
            s.spec.entries.get(key).map(|e| e.certificates.clone())
        };
        let chain = secret
            .and_then(|s| entry(s, "tls.crt").or_else(|| entry(s, "cert")))
            .unwrap_or_default();
        let cacert_secret = self.mesh.secret(pod_namespace, &format!("{name}-cacert"));
        let client_cas = [secret, cacert_secret]
            .into_iter()
            .flatten()
            .flat_map(|s| ["ca.crt", "cacert"].into_iter().map(move |k| (s, k)))
            .find_map(|(s, k)| {
                entry(s, k)
                    .filter(|c| !c.is_empty())
                    .map(|c| (c, (s.source.clone(), k.to_string())))
            });
        Credential {
            name: format!("{pod_namespace}/{name}"),
            secret: secret.map(|s| s.source.clone()),
            chain,
            client_cas: client_cas
                .as_ref()
                .map(|(c, _)| c.clone())
                .unwrap_or_default(),
            client_cas_source: client_cas.map(|(_, src)| src),
        }
    }

    /// Namespaces with workloads that see a ServiceEntry (`exportTo`), excluding the control
    /// plane. Empty when no workload namespace sees it.
    pub fn client_namespaces(&self, export_to: &[String], own: &str) -> Vec<String> {
        let system = self.mesh.system_namespace();
        let everywhere = export_to.is_empty() || export_to.iter().any(|e| e == "*");
        if !everywhere {
            // Listed namespaces only: no need to look at every namespace of the mesh.
            let mut listed: Vec<String> = export_to
                .iter()
                .map(|e| if e == "." { own.to_string() } else { e.clone() })
                .filter(|ns| ns != system && self.workloads_by_ns.contains_key(ns.as_str()))
                .collect();
            listed.sort_unstable();
            listed.dedup();
            return listed;
        }
        let mut namespaces: Vec<&str> = self
            .workloads_by_ns
            .keys()
            .copied()
            .filter(|ns| *ns != system && exported_to(export_to, own, ns))
            .collect();
        namespaces.sort_unstable();
        namespaces.into_iter().map(str::to_string).collect()
    }

    /// Service accounts of the workloads in a namespace.
    pub fn service_accounts_in(&self, namespace: &str) -> Vec<String> {
        let mut sas: Vec<String> = self
            .workloads_in(namespace)
            .map(|w| w.spec.pod.service_account().to_string())
            .collect();
        sas.sort();
        sas.dedup();
        sas
    }

    /// The DestinationRule a sidecar in `namespace` applies to `host`, as Istio resolves it:
    /// the client namespace, then the host's namespace, then the root namespace; the most
    /// specific host wins, and among equals the oldest (`creationTimestamp`, then input order).
    pub fn destination_rule(
        &self,
        namespace: &str,
        host: &str,
        host_namespace: &str,
    ) -> Option<RuleChoice<'m>> {
        let root = self.mesh.config.root_namespace.as_str();
        for ns in [namespace, host_namespace, root] {
            let mut candidates: Vec<&Item<DestinationRuleSpec>> = self
                .destination_rules_by_ns
                .get(ns)
                .into_iter()
                .flatten()
                .map(|&i| &self.mesh.destination_rules[i])
                .filter(|dr| host_matches(&dr.spec.host, host))
                .filter(|dr| {
                    ns == namespace || exported_to(&dr.spec.export_to, dr.namespace(), namespace)
                })
                .collect();
            let Some(best) = candidates.iter().map(|dr| specificity(&dr.spec.host)).max() else {
                continue;
            };
            candidates.retain(|dr| specificity(&dr.spec.host) == best);
            // Stable: equal timestamps keep input order.
            candidates.sort_by_key(|dr| dr.meta.creation_timestamp.clone().unwrap_or_default());
            let winner = candidates.remove(0);
            return Some(RuleChoice {
                winner,
                rivals: candidates,
            });
        }
        None
    }

    /// The Sidecar resource that scopes workloads in `namespace` (namespace-wide, else the
    /// root namespace's), ignoring workload-specific ones.
    pub fn sidecar_for(&self, namespace: &str) -> Option<&'m Item<SidecarSpec>> {
        let root = self.mesh.config.root_namespace.as_str();
        let wide = |ns: &str| {
            self.mesh
                .sidecars
                .iter()
                .find(|s| s.namespace() == ns && s.spec.workload_selector.is_none())
        };
        wide(namespace).or_else(|| wide(root))
    }

    /// The B service a route ends at, with its pods.
    pub fn target(&self, svc: &'m Item<Service>, host: &str, port: u32) -> Target {
        let service_port = svc.spec.spec.ports.iter().find(|p| p.port == port);
        let target_port = match service_port.and_then(|p| p.target_port.clone()) {
            Some(IntOrString::Int(n)) => Some(n),
            Some(IntOrString::Str(_)) => None,
            None => service_port.map(|p| p.port),
        };
        let pods = self
            .workloads_selected(svc.namespace(), &svc.spec.spec.selector)
            .into_iter()
            .map(|w| TargetPod {
                source: w.source.clone(),
                labels: w.spec.pod_labels.clone(),
                annotations: w.spec.pod_annotations.clone(),
                service_account: w.spec.pod.service_account().to_string(),
                sidecar: self.has_sidecar(w),
                container_ports: w
                    .spec
                    .pod
                    .containers
                    .iter()
                    .flat_map(|c| c.ports.iter().map(|p| p.container_port))
                    .collect(),
            })
            .collect();
        Target {
            service: svc.source.clone(),
            host: host.to_string(),
            port,
            target_port,
            pods,
        }
    }

    /// AuthorizationPolicies in `namespace`.
    pub fn authorization_policies_in(
        &self,
        namespace: &str,
    ) -> impl Iterator<Item = &'m Item<crate::model::AuthorizationPolicySpec>> + '_ {
        self.authorization_policies_by_ns
            .get(namespace)
            .into_iter()
            .flatten()
            .map(|&i| &self.mesh.authorization_policies[i])
    }

    /// PeerAuthentications in `namespace`.
    pub fn peer_authentications_in(
        &self,
        namespace: &str,
    ) -> impl Iterator<Item = &'m Item<crate::model::PeerAuthenticationSpec>> + '_ {
        self.peer_authentications_by_ns
            .get(namespace)
            .into_iter()
            .flatten()
            .map(|&i| &self.mesh.peer_authentications[i])
    }

    /// Whether the mesh reads another cluster's registry (multi-primary remote secrets).
    pub fn has_remote_secret(&self) -> bool {
        self.mesh
            .secrets
            .iter()
            .any(|s| s.meta.labels.get("istio/multiCluster").map(String::as_str) == Some("true"))
    }
}

/// Resolves `DestinationRule` TLS for a port: port-level settings override the policy's.
pub fn tls_for_port(dr: &Item<DestinationRuleSpec>, port: u32) -> Option<(ClientTls, String)> {
    let policy = dr.spec.traffic_policy.as_ref()?;
    for (i, pls) in policy.port_level_settings.iter().enumerate() {
        if pls.port.as_ref().is_some_and(|p| p.number == port)
            && let Some(tls) = &pls.tls
        {
            return Some((
                tls.clone(),
                format!("spec.trafficPolicy.portLevelSettings[{i}].tls"),
            ));
        }
    }
    policy
        .tls
        .clone()
        .map(|tls| (tls, "spec.trafficPolicy.tls".to_string()))
}

/// `reviews` in namespace `prod` → `reviews.prod.svc.cluster.local`.
pub fn qualify(host: &str, namespace: &str) -> String {
    match host.matches('.').count() {
        0 => format!("{host}.{namespace}.{SERVICE_DOMAIN}"),
        1 => format!("{host}.{SERVICE_DOMAIN}"),
        _ => host.to_string(),
    }
}

fn specificity(host: &str) -> (bool, usize) {
    (!host.starts_with('*'), host.len())
}

/// Istio host matching: exact, a `*.suffix` wildcard, or `*`.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    if pattern == "*" || pattern == host {
        return true;
    }
    pattern
        .strip_prefix('*')
        .is_some_and(|suffix| suffix.starts_with('.') && host.ends_with(suffix))
}

/// Whether a Gateway or Sidecar `hosts` entry (`ns/host`, `*/host`, `./host`, `host`) admits
/// `host` from namespace `host_namespace`, seen from `own` namespace.
pub fn scoped_host_admits(pattern: &str, host: &str, host_namespace: &str, own: &str) -> bool {
    let (ns, h) = pattern.split_once('/').unwrap_or(("*", pattern));
    let ns_ok = match ns {
        "*" => true,
        "." => host_namespace == own,
        "~" => false,
        other => other == host_namespace,
    };
    ns_ok && host_matches(h, host)
}

/// `exportTo` semantics: empty or `*` → everywhere, `.` → own namespace, `~` → nowhere,
/// otherwise the listed namespaces.
pub fn exported_to(export_to: &[String], own: &str, to: &str) -> bool {
    export_to.is_empty()
        || export_to
            .iter()
            .any(|e| e == "*" || (e == "." && own == to) || e == to)
}

pub fn labels_match(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Addresses a Service is reachable at from outside the cluster.
fn external_addresses(svc: &Service) -> Vec<String> {
    let spec = &svc.spec;
    let mut out: Vec<String> = svc
        .status
        .load_balancer
        .ingress
        .iter()
        .flat_map(|i| [i.ip.clone(), i.hostname.clone()])
        .chain(spec.external_ips.iter().cloned())
        .chain(Some(spec.load_balancer_ip.clone()))
        .filter(|a| !a.is_empty())
        .collect();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_matching_follows_istio() {
        assert!(host_matches("*.local", "api.payments.svc.cluster.local"));
        assert!(host_matches("*", "anything"));
        assert!(!host_matches("*.local", "local"));
        assert!(!host_matches("api.example.com", "web.example.com"));
        assert!(exported_to(&[], "a", "b"));
        assert!(exported_to(&[".".into()], "a", "a"));
        assert!(!exported_to(&[".".into()], "a", "b"));
        assert!(exported_to(&["b".into()], "a", "b"));
        assert!(!exported_to(&["~".into()], "a", "a"));
    }

    #[test]
    fn scoped_hosts() {
        assert!(scoped_host_admits(
            "./*",
            "x.shop.svc.cluster.local",
            "shop",
            "shop"
        ));
        assert!(!scoped_host_admits("./*", "x", "other", "shop"));
        assert!(scoped_host_admits(
            "istio-system/*",
            "x",
            "istio-system",
            "shop"
        ));
        assert!(scoped_host_admits("*.local", "a.b.local", "z", "shop"));
        assert!(!scoped_host_admits("~/*", "a", "z", "shop"));
    }

    #[test]
    fn qualifies_short_hosts() {
        assert_eq!(qualify("api", "payments"), "api.payments.svc.cluster.local");
        assert_eq!(
            qualify("api.payments", "x"),
            "api.payments.svc.cluster.local"
        );
    }
}
