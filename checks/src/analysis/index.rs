//! Lookup tables over one mesh, built once so that checks stay linear in the number of objects.

use std::collections::{BTreeMap, HashMap};

use super::route::{Credential, GatewayHop, Target, gateway_host_admits};
use crate::model::{
    ClientTls, DestinationRuleSpec, Item, Mesh, Service, ServiceEntrySpec, Source, Workload,
};

/// An address at which a gateway Service of the mesh is reachable.
#[derive(Debug, Clone)]
pub struct GatewayAddress {
    pub address: String,
    pub service: Source,
    pub service_index: usize,
}

pub struct MeshIndex<'m> {
    mesh: &'m Mesh,
    services: HashMap<(&'m str, &'m str), usize>,
    workloads_by_ns: HashMap<&'m str, Vec<usize>>,
    destination_rules_by_ns: HashMap<&'m str, Vec<usize>>,
}

impl<'m> MeshIndex<'m> {
    pub fn new(mesh: &'m Mesh) -> MeshIndex<'m> {
        let mut index = MeshIndex {
            mesh,
            services: HashMap::new(),
            workloads_by_ns: HashMap::new(),
            destination_rules_by_ns: HashMap::new(),
        };
        for (i, s) in mesh.services.iter().enumerate() {
            index.services.insert((s.namespace(), s.name()), i);
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
        index
    }

    /// Workloads in `namespace` whose pod labels match `selector` (empty selector: none,
    /// as for a Service without selector).
    pub fn workloads_selected(
        &self,
        namespace: &str,
        selector: &BTreeMap<String, String>,
    ) -> Vec<&'m Item<Workload>> {
        if selector.is_empty() {
            return Vec::new();
        }
        self.workloads_by_ns
            .get(namespace)
            .into_iter()
            .flatten()
            .map(|&i| &self.mesh.workloads[i])
            .filter(|w| labels_match(selector, &w.spec.pod_labels))
            .collect()
    }

    /// Addresses of Services that front a gateway workload selected by some Gateway.
    pub fn gateway_addresses(&self) -> Vec<GatewayAddress> {
        let mut out = Vec::new();
        for (i, svc) in self.mesh.services.iter().enumerate() {
            let pods = self.workloads_selected(svc.namespace(), &svc.spec.spec.selector);
            let fronts_gateway = pods.iter().any(|w| {
                self.mesh.gateways.iter().any(|g| {
                    !g.spec.selector.is_empty()
                        && labels_match(&g.spec.selector, &w.spec.pod_labels)
                })
            });
            if !fronts_gateway {
                continue;
            }
            for address in service_addresses(&svc.spec) {
                out.push(GatewayAddress {
                    address,
                    service: svc.source.clone(),
                    service_index: i,
                });
            }
        }
        out
    }

    /// The Gateway server that handles `port` of the gateway Service behind `gw`.
    pub fn gateway_server(&self, gw: &GatewayAddress, port: u32) -> Option<GatewayHop> {
        let svc = &self.mesh.services[gw.service_index];
        let pods = self.workloads_selected(svc.namespace(), &svc.spec.spec.selector);
        let mut service_accounts: Vec<String> = pods
            .iter()
            .map(|w| w.spec.pod.service_account().to_string())
            .collect();
        service_accounts.sort();
        service_accounts.dedup();
        for gateway in &self.mesh.gateways {
            if !pods
                .iter()
                .any(|w| labels_match(&gateway.spec.selector, &w.spec.pod_labels))
            {
                continue;
            }
            for (i, server) in gateway.spec.servers.iter().enumerate() {
                if server.port.number != port {
                    continue;
                }
                let tls_mode = server
                    .tls
                    .as_ref()
                    .map(|t| t.mode.clone())
                    .unwrap_or_default();
                let credential = server
                    .tls
                    .as_ref()
                    .filter(|t| matches!(t.mode.as_str(), "MUTUAL" | "SIMPLE" | "OPTIONAL_MUTUAL"))
                    .filter(|t| !t.credential_name.is_empty())
                    .map(|t| self.credential(svc.namespace(), &t.credential_name));
                return Some(GatewayHop {
                    gateway: gateway.source.clone(),
                    server: i,
                    tls_mode,
                    service: svc.source.clone(),
                    address: gw.address.clone(),
                    port,
                    service_accounts,
                    workload_namespace: svc.namespace().to_string(),
                    credential,
                });
            }
        }
        None
    }

    /// A gateway credential as Istio resolves it: Secret `name` in the gateway's namespace,
    /// client CAs from its `ca.crt`/`cacert`, else from Secret `<name>-cacert`.
    fn credential(&self, namespace: &str, name: &str) -> Credential {
        let secret = self.mesh.secret(namespace, name);
        let entry = |s: &'m Item<crate::model::SecretContents>, key: &str| s.spec.entries.get(key).map(|e| e.certificates.clone());
        let chain = secret.and_then(|s| entry(s, "tls.crt").or_else(|| entry(s, "cert"))).unwrap_or_default();
        let cacert_secret = self.mesh.secret(namespace, &format!("{name}-cacert"));
        let client_cas = [secret, cacert_secret]
            .into_iter()
            .flatten()
            .flat_map(|s| ["ca.crt", "cacert"].into_iter().map(move |k| (s, k)))
            .find_map(|(s, k)| entry(s, k).filter(|c| !c.is_empty()).map(|c| (c, (s.source.clone(), k.to_string()))));
        Credential {
            name: format!("{namespace}/{name}"),
            secret: secret.map(|s| s.source.clone()),
            chain,
            client_cas: client_cas.as_ref().map(|(c, _)| c.clone()).unwrap_or_default(),
            client_cas_source: client_cas.map(|(_, src)| src),
        }
    }

    /// Namespaces whose workloads see a ServiceEntry (exportTo), excluding the control plane.
    pub fn client_namespaces(&self, se: &Item<ServiceEntrySpec>) -> Vec<String> {
        let system = self.mesh.system_namespace();
        let mut namespaces: Vec<&str> = self
            .workloads_by_ns
            .keys()
            .copied()
            .filter(|ns| *ns != system)
            .collect();
        namespaces.sort();
        let visible: Vec<String> = namespaces
            .into_iter()
            .filter(|ns| exported_to(&se.spec.export_to, se.namespace(), ns))
            .map(str::to_string)
            .collect();
        if visible.is_empty() {
            vec![se.namespace().to_string()]
        } else {
            visible
        }
    }

    /// Service accounts of the workloads in a namespace.
    pub fn service_accounts_in(&self, namespace: &str) -> Vec<String> {
        let mut sas: Vec<String> = self
            .workloads_by_ns
            .get(namespace)
            .into_iter()
            .flatten()
            .map(|&i| {
                self.mesh.workloads[i]
                    .spec
                    .pod
                    .service_account()
                    .to_string()
            })
            .collect();
        sas.sort();
        sas.dedup();
        sas
    }

    /// The DestinationRule TLS settings a sidecar in `namespace` applies to `host:port`, as
    /// Istio resolves them: the client namespace, then the host's namespace, then the root
    /// namespace; the most specific host wins; port-level settings override.
    pub fn client_tls(
        &self,
        namespace: &str,
        host: &str,
        port: u32,
        host_namespace: &str,
    ) -> Option<(ClientTls, Source, String)> {
        let root = self.mesh.config.root_namespace.as_str();
        for ns in [namespace, host_namespace, root] {
            let best = self
                .destination_rules_by_ns
                .get(ns)
                .into_iter()
                .flatten()
                .map(|&i| &self.mesh.destination_rules[i])
                .filter(|dr| host_matches(&dr.spec.host, host))
                .filter(|dr| {
                    ns == namespace || exported_to(&dr.spec.export_to, dr.namespace(), namespace)
                })
                .max_by_key(|dr| specificity(&dr.spec.host));
            if let Some(dr) = best {
                return tls_of(dr, port).map(|(tls, path)| (tls, dr.source.clone(), path));
            }
        }
        None
    }

    /// The Service for an in-mesh host `name.ns.svc.<domain>` (or a ServiceEntry host).
    pub fn target(&self, host: &str, port: u32, _subset: &str) -> Option<Target> {
        let mut parts = host.split('.');
        let (name, ns) = (parts.next()?, parts.next()?);
        if parts.next() != Some("svc") {
            return None;
        }
        let &i = self.services.get(&(ns, name))?;
        Some(self.target_of(&self.mesh.services[i], host, port))
    }

    fn target_of(&self, svc: &Item<Service>, host: &str, port: u32) -> Target {
        let workloads = self
            .workloads_selected(svc.namespace(), &svc.spec.spec.selector)
            .into_iter()
            .map(|w| {
                (
                    w.source.clone(),
                    w.spec.pod_labels.clone(),
                    w.spec.pod.service_account().to_string(),
                )
            })
            .collect();
        Target {
            service: svc.source.clone(),
            host: host.to_string(),
            port,
            workloads,
        }
    }

    /// The service a terminating gateway sends `host` to, through a VirtualService bound to it.
    pub fn virtual_service_target(&self, hop: &GatewayHop, host: &str) -> Option<Target> {
        let gw = &hop.gateway.object;
        for vs in &self.mesh.virtual_services {
            let bound = vs.spec.gateways.iter().any(|g| {
                g == &format!("{}/{}", gw.namespace, gw.name)
                    || (g == &gw.name && vs.namespace() == gw.namespace)
            });
            if !bound || !vs.spec.hosts.iter().any(|h| gateway_host_admits(h, host)) {
                continue;
            }
            let destination = vs
                .spec
                .http
                .iter()
                .chain(&vs.spec.tls)
                .chain(&vs.spec.tcp)
                .flat_map(|r| &r.route)
                .map(|r| &r.destination)
                .next()?;
            let full = qualify(&destination.host, vs.namespace());
            let port = destination.port.as_ref().map_or(0, |p| p.number);
            return self.target(&full, port, &destination.subset);
        }
        None
    }
}

/// `reviews` in namespace `prod` → `reviews.prod.svc.cluster.local`.
fn qualify(host: &str, namespace: &str) -> String {
    match host.matches('.').count() {
        0 => format!("{host}.{namespace}.svc.cluster.local"),
        1 => format!("{host}.svc.cluster.local"),
        _ => host.to_string(),
    }
}

fn tls_of(dr: &Item<DestinationRuleSpec>, port: u32) -> Option<(ClientTls, String)> {
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

fn specificity(host: &str) -> (bool, usize) {
    (!host.starts_with('*'), host.len())
}

/// Istio host matching: exact, or a `*.suffix` wildcard, or `*`.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    if pattern == "*" || pattern == host {
        return true;
    }
    pattern
        .strip_prefix('*')
        .is_some_and(|suffix| suffix.starts_with('.') && host.ends_with(suffix))
}

/// `exportTo` semantics: empty or `*` → everywhere, `.` → own namespace, else listed.
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

fn service_addresses(svc: &Service) -> Vec<String> {
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
