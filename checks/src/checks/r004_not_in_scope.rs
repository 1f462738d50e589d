use super::evidence::{service_entry, with};
use crate::analysis::index::scoped_host_admits;
use crate::analysis::route::Registry;
use crate::context::Context;
use crate::finding::{Evidence, Finding};
use crate::model::Side;

crate::declare_check! {
    /// The remote host is not visible to the calling workloads.
    ///
    /// **What it checks.** The ServiceEntry's `exportTo` must include the client namespace;
    /// the namespace's `Sidecar` resource (or the root namespace's) must list the host in
    /// `egress[].hosts` (`<ns>/<host>`, `./*`, `*/*`); with
    /// `outboundTrafficPolicy: REGISTRY_ONLY` a host without a registry entry is blocked.
    ///
    /// **Why it breaks.** The sidecar never receives the cluster for the host: the request
    /// goes out as passthrough (no mTLS) or fails with `502`/`NR` (BlackHoleCluster).
    ///
    /// **How to fix.** Export the ServiceEntry to the client namespace and add the host
    /// (`<se-namespace>/<host>`) to the Sidecar's `egress[].hosts`.
    pub static CHECK = {
        code: "R004",
        name: "not-in-scope",
        category: Routing,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for route in &cx.routes {
        let ns = &route.client_namespace;
        let se_ns = route
            .service_entry
            .as_ref()
            .map_or(String::new(), |s| s.object.namespace.clone());
        let mut reasons: Vec<(String, Option<Evidence>)> = Vec::new();
        if route
            .notes
            .iter()
            .any(|n| n.contains("exported to no namespace"))
        {
            reasons.push((
                "the ServiceEntry's exportTo includes no namespace with workloads".into(),
                service_entry(route, "spec.exportTo", "exportTo"),
            ));
        }
        if let Some(sidecar) = cx.client.index.sidecar_for(ns) {
            let hosts: Vec<&String> = sidecar.spec.egress.iter().flat_map(|e| &e.hosts).collect();
            if !hosts.is_empty()
                && !hosts
                    .iter()
                    .any(|h| scoped_host_admits(h, &route.host, &se_ns, sidecar.namespace()))
            {
                reasons.push((
                    format!(
                        "{} limits egress to {hosts:?}, which excludes {se_ns}/{}",
                        sidecar.source.object, route.host
                    ),
                    Some(Evidence::object(
                        Side::Client,
                        &sidecar.source,
                        Some("spec.egress"),
                        "egress hosts",
                    )),
                ));
            }
        }
        let registry_only = cx
            .client
            .mesh
            .config
            .outbound_traffic_policy
            .as_ref()
            .is_some_and(|p| p.mode == "REGISTRY_ONLY");
        if registry_only && route.registry == Registry::Missing {
            let ev = cx.client.mesh.config_source.as_ref().map(|s| {
                Evidence::object(
                    Side::Client,
                    s,
                    Some("data.mesh"),
                    "outboundTrafficPolicy REGISTRY_ONLY",
                )
            });
            reasons.push((
                "outboundTrafficPolicy is REGISTRY_ONLY and no ServiceEntry exists".into(),
                ev,
            ));
        }
        if reasons.is_empty() {
            continue;
        }
        let text: Vec<&str> = reasons.iter().map(|(r, _)| r.as_str()).collect();
        let mut f = Finding::new(
            &CHECK.info,
            Side::Client,
            format!(
                "{} is not visible to workloads in namespace {ns}: {}.",
                route.host,
                text.join("; ")
            ),
        )
        .route(route.id.clone());
        for (_, e) in reasons {
            f = with(f, e);
        }
        out.push(
            f.fix("Make the host visible to the client namespace.")
                .fix_yaml(format!("# Sidecar {ns}/default\nspec:\n  egress:\n  - hosts:\n    - \"./*\"\n    - \"istio-system/*\"\n    - \"{se_ns}/{}\"", route.host)),
        );
    }
    out
}
