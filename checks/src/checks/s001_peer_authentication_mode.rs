use crate::analysis::Topology;
use crate::analysis::index::{MeshIndex, labels_match};
use crate::context::Context;
use crate::finding::{Evidence, Finding};
use crate::model::{Item, PeerAuthenticationSpec, Side};

crate::declare_check! {
    /// The server workloads' PeerAuthentication does not accept mTLS on the route's port.
    ///
    /// **What it checks.** For the target pods of an end-to-end route, the effective
    /// PeerAuthentication: workload-specific, else namespace-wide, else mesh-wide (root
    /// namespace), with `portLevelMtls` overriding for the pods' container port. `DISABLE`
    /// is reported, and so are `portLevelMtls` keys that are not container ports of the
    /// selected pods (they are keyed by *container* port, not Service port, and silently
    /// match nothing otherwise).
    ///
    /// **Why it breaks.** With `DISABLE` the target's inbound listener does not terminate mTLS:
    /// the gateway's SNI-DNAT cluster has no mTLS endpoint and A's handshake has nobody to
    /// complete it.
    ///
    /// **How to fix.** Use `STRICT` (or `PERMISSIVE`) for the target, with `portLevelMtls` keyed
    /// by container port.
    pub static CHECK = {
        code: "S001",
        name: "peer-authentication-mode",
        category: Policy,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for route in cx
        .routes
        .iter()
        .filter(|r| r.topology == Topology::EastWest)
    {
        let Some(target) = &route.target else {
            continue;
        };
        let Some(pod) = target.pods.first() else {
            continue;
        };
        let ns = &target.service.object.namespace;
        let chain = applicable(&cx.server.index, ns, &pod.labels);
        let port = target.target_port;
        let mut problems: Vec<(String, &Item<PeerAuthenticationSpec>, &'static str)> = Vec::new();
        if let Some((mode, pa, field)) = effective_mode(&chain, port)
            && mode == "DISABLE"
        {
            problems.push((
                format!("{} sets mTLS mode DISABLE for the target", pa.source.object),
                pa,
                field,
            ));
        }
        for pa in &chain {
            for key in pa.spec.port_level_mtls.keys() {
                let valid = key
                    .parse::<u32>()
                    .is_ok_and(|k| target.pods.iter().any(|p| p.container_ports.contains(&k)));
                if !valid {
                    problems.push((format!("{} keys portLevelMtls by {key}, which is not a container port of the target pods", pa.source.object), pa, "spec.portLevelMtls"));
                }
            }
        }
        if problems.is_empty() {
            continue;
        }
        let text: Vec<&str> = problems.iter().map(|(p, _, _)| p.as_str()).collect();
        let mut f = Finding::new(
            &CHECK.info,
            Side::Server,
            format!("{}: {}.", target.service.object, text.join("; ")),
        )
        .route(route.id.clone());
        for (note, pa, field) in &problems {
            f = f.evidence(Evidence::object(
                Side::Server,
                &pa.source,
                Some(field),
                note.clone(),
            ));
        }
        out.push(
            f.fix("Require (or at least accept) mTLS for the target, keyed by container port.")
                .fix_yaml(format!("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: default\n  namespace: {ns}\nspec:\n  mtls:\n    mode: STRICT")),
        );
    }
    out
}

/// PeerAuthentications for pods with `labels` in `namespace`, most specific first.
fn applicable<'m>(
    index: &MeshIndex<'m>,
    namespace: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> Vec<&'m Item<PeerAuthenticationSpec>> {
    let root = index.mesh.config.root_namespace.as_str();
    let workload = index.peer_authentications_in(namespace).find(|p| {
        p.spec
            .selector
            .as_ref()
            .is_some_and(|s| !s.labels().is_empty() && labels_match(s.labels(), labels))
    });
    let namespace_wide = index
        .peer_authentications_in(namespace)
        .find(|p| p.spec.selector.is_none());
    let mesh_wide = index
        .peer_authentications_in(root)
        .find(|p| p.spec.selector.is_none());
    [workload, namespace_wide, mesh_wide]
        .into_iter()
        .flatten()
        .collect()
}

/// The first explicit mode down the chain, port level first.
fn effective_mode<'m>(
    chain: &[&'m Item<PeerAuthenticationSpec>],
    port: Option<u32>,
) -> Option<(String, &'m Item<PeerAuthenticationSpec>, &'static str)> {
    for pa in chain {
        if let Some(port) = port
            && let Some(m) = pa.spec.port_level_mtls.get(&port.to_string())
            && !m.mode.is_empty()
            && m.mode != "UNSET"
        {
            return Some((m.mode.clone(), pa, "spec.portLevelMtls"));
        }
        if let Some(m) = &pa.spec.mtls
            && !m.mode.is_empty()
            && m.mode != "UNSET"
        {
            return Some((m.mode.clone(), pa, "spec.mtls.mode"));
        }
    }
    None
}
