use crate::analysis::Topology;
use crate::context::Context;
use crate::finding::{Evidence, Finding};
use crate::model::Side;

const EXCLUDE: &str = "traffic.sidecar.istio.io/excludeInboundPorts";
const INCLUDE: &str = "traffic.sidecar.istio.io/includeInboundPorts";

crate::declare_check! {
    /// The target pods' sidecar does not capture the route's inbound port.
    ///
    /// **What it checks.** On end-to-end routes, the target pods' annotations
    /// `traffic.sidecar.istio.io/excludeInboundPorts` (listing the container port) and
    /// `traffic.sidecar.istio.io/includeInboundPorts` (set, not `*`, and not listing it).
    ///
    /// **Why it breaks.** Traffic to an uncaptured port goes straight to the application,
    /// which receives A's TLS ClientHello instead of plaintext: the client sees a reset or
    /// `WRONG_VERSION_NUMBER`.
    ///
    /// **How to fix.** Remove the port from `excludeInboundPorts` (or add it to
    /// `includeInboundPorts`) and restart the pods.
    pub static CHECK = {
        code: "S002",
        name: "inbound-bypass",
        category: Policy,
        severity: Error,
        run: run,
    };
}

fn listed(value: &str, port: u32) -> bool {
    value.split(',').any(|p| p.trim() == port.to_string())
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
        let Some(port) = target.target_port else {
            continue;
        };
        for pod in target.pods.iter().filter(|p| p.sidecar) {
            let excluded = pod
                .annotations
                .get(EXCLUDE)
                .is_some_and(|v| listed(v, port));
            let not_included = pod
                .annotations
                .get(INCLUDE)
                .is_some_and(|v| v.trim() != "*" && !listed(v, port));
            let annotation = if excluded {
                EXCLUDE
            } else if not_included {
                INCLUDE
            } else {
                continue;
            };
            out.push(
                Finding::new(
                    &CHECK.info,
                    Side::Server,
                    format!("{}'s sidecar does not capture inbound port {port} ({annotation}): A's mTLS reaches the application directly.", pod.source.object),
                )
                .route(route.id.clone())
                .evidence(Evidence::object(Side::Server, &pod.source, Some("spec.template.metadata.annotations"), format!("{annotation}: {}", pod.annotations.get(annotation).map(String::as_str).unwrap_or(""))))
                .fix(format!("Let the sidecar capture port {port}: remove it from {EXCLUDE} and restart the pods.")),
            );
        }
    }
    out
}
