use crate::context::{Context, MeshView};
use crate::finding::{Evidence, Finding};
use crate::yaml;

const NETWORK_LABEL: &str = "topology.istio.io/network";

crate::declare_check! {
    /// A mesh's network names disagree between istiod, its gateways and `meshNetworks`.
    ///
    /// **What it checks.** The control-plane namespace's `topology.istio.io/network` label
    /// (the network istiod assigns to the mesh's workloads) against the label on the
    /// east-west gateway pods; a gateway labelled with a network while the namespace has no
    /// label; and `meshNetworks` gateways whose `address` or `registryServiceName` names no
    /// Service of the mesh.
    ///
    /// **Why it matters.** istiod sends cross-network traffic to the gateway of the
    /// *destination's* network. Mismatched names make it treat local endpoints as remote (or
    /// the reverse): traffic goes to a gateway that has no route for it, or directly to pod IPs
    /// that are not reachable.
    ///
    /// **How to fix.** Use one network name per cluster: label the control-plane namespace
    /// and the east-west gateway pods (`--set values.global.network=<name>` on install) alike.
    pub static CHECK = {
        code: "N001",
        name: "network-topology",
        category: Network,
        severity: Warning,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    cx.meshes().into_iter().flat_map(check_mesh).collect()
}

fn check_mesh(view: &MeshView) -> Vec<Finding> {
    let mesh = view.mesh;
    let system = mesh.system_namespace();
    let ns_network = view
        .index
        .namespace_labels(system)
        .and_then(|l| l.get(NETWORK_LABEL));
    let mut problems: Vec<(String, Evidence)> = Vec::new();
    for gateway in mesh.gateways.iter().filter(|g| {
        g.spec
            .servers
            .iter()
            .any(|s| s.tls.as_ref().is_some_and(|t| t.mode == "AUTO_PASSTHROUGH"))
    }) {
        for pod in mesh.workloads.iter().filter(|w| {
            crate::analysis::index::labels_match(&gateway.spec.selector, &w.spec.pod_labels)
                && !gateway.spec.selector.is_empty()
        }) {
            let Some(gw_network) = pod.spec.pod_labels.get(NETWORK_LABEL) else {
                continue;
            };
            let problem = match ns_network {
                Some(n) if n != gw_network => format!(
                    "east-west gateway {} is in network `{gw_network}`, but namespace {system} says `{n}`",
                    pod.source.object
                ),
                None => format!(
                    "east-west gateway {} is in network `{gw_network}`, but namespace {system} has no {NETWORK_LABEL} label",
                    pod.source.object
                ),
                _ => continue,
            };
            problems.push((
                problem.clone(),
                Evidence::object(
                    view.side,
                    &pod.source,
                    Some("spec.template.metadata.labels"),
                    problem,
                ),
            ));
        }
    }
    problems.extend(mesh_networks_problems(view));
    if problems.is_empty() {
        return Vec::new();
    }
    let text: Vec<&str> = problems.iter().map(|(p, _)| p.as_str()).collect();
    let mut f = Finding::new(
        &CHECK.info,
        view.side,
        format!(
            "{}'s network topology is inconsistent: {}.",
            mesh.name,
            text.join("; ")
        ),
    );
    if let Some(ns) = mesh.namespaces.iter().find(|n| n.name() == system) {
        f = f.evidence(Evidence::object(
            view.side,
            &ns.source,
            Some("metadata.labels"),
            format!(
                "{NETWORK_LABEL}: {}",
                ns_network.map_or("(none)", String::as_str)
            ),
        ));
    }
    for (_, e) in problems {
        f = f.evidence(e);
    }
    vec![f
        .fix("Use one network name for the cluster on the control-plane namespace and the east-west gateway.")
        .fix_command(format!("kubectl label namespace {system} {NETWORK_LABEL}=<network> --overwrite"))]
}

/// `meshNetworks` gateways must name a Service or an address of the mesh.
fn mesh_networks_problems(view: &MeshView) -> Vec<(String, Evidence)> {
    let mesh = view.mesh;
    let Some(cm) = mesh
        .config_maps
        .iter()
        .find(|c| c.name() == "istio" && c.spec.data.contains_key("meshNetworks"))
    else {
        return Vec::new();
    };
    let Some(text) = cm.spec.data.get("meshNetworks") else {
        return Vec::new();
    };
    let decoded = yaml::decode(text, yaml::Budget::default());
    let Some(doc) = decoded.documents.first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let networks = doc.value.get("networks").and_then(|n| n.as_object());
    for (name, network) in networks.into_iter().flatten() {
        for gw in network
            .get("gateways")
            .and_then(|g| g.as_array())
            .into_iter()
            .flatten()
        {
            let address = gw.get("address").and_then(|a| a.as_str());
            let service = gw.get("registryServiceName").and_then(|a| a.as_str());
            let known = match (address, service) {
                (Some(a), _) => view.index.exposed_service(a).is_some(),
                (None, Some(s)) => mesh
                    .services
                    .iter()
                    .any(|svc| s.starts_with(&format!("{}.{}.", svc.name(), svc.namespace()))),
                (None, None) => true,
            };
            if !known {
                let what = address.or(service).unwrap_or_default();
                let problem = format!(
                    "meshNetworks network `{name}` names gateway `{what}`, which is no Service of {}",
                    mesh.name
                );
                out.push((
                    problem.clone(),
                    Evidence::object(view.side, &cm.source, Some("data.meshNetworks"), problem),
                ));
            }
        }
    }
    out
}
