use super::evidence::{gateway_server, with};
use crate::analysis::Topology;
use crate::context::Context;
use crate::finding::{Evidence, Finding};
use crate::model::Side;

crate::declare_check! {
    /// A PASSTHROUGH gateway forwards the client's mTLS into a backend that has a sidecar.
    ///
    /// **What it checks.** Routes that land on a B Gateway server with `tls.mode: PASSTHROUGH`
    /// whose destination pods run a sidecar.
    ///
    /// **Why it breaks.** PASSTHROUGH does not terminate, but towards a sidecar backend the
    /// gateway still originates its own mTLS (auto-mTLS), wrapping A's TLS inside. The
    /// backend's sidecar terminates the gateway's layer and hands A's ClientHello to the
    /// application: A sees a non-TLS answer (`WRONG_VERSION_NUMBER`) or a reset.
    ///
    /// **How to fix.** Use `AUTO_PASSTHROUGH` for mesh-to-mesh traffic, or add a
    /// DestinationRule with `tls.mode: DISABLE` from the gateway to that backend.
    pub static CHECK = {
        code: "G009",
        name: "passthrough-double-wrap",
        category: Gateway,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for route in cx
        .routes
        .iter()
        .filter(|r| r.topology == Topology::Passthrough)
    {
        let Some(target) = &route.target else {
            continue;
        };
        if !target.pods.iter().any(|p| p.sidecar) {
            continue;
        }
        let f = Finding::new(
            &CHECK.info,
            Side::Server,
            format!(
                "{}'s gateway passes the route's TLS through to {}, whose sidecar receives it wrapped in the gateway's own mTLS: \
                 the application gets A's ClientHello.",
                cx.server.mesh.name, target.service.object
            ),
        )
        .route(route.id.clone())
        .evidence(Evidence::object(Side::Server, &target.service, None, "backend with a sidecar"));
        out.push(
            with(f, gateway_server(route, "tls.mode", "PASSTHROUGH"))
                .fix("Use AUTO_PASSTHROUGH for mesh-to-mesh traffic (or disable the gateway's mTLS to this backend).")
                .fix_yaml("servers:\n- port:\n    number: 15443\n    name: tls\n    protocol: TLS\n  tls:\n    mode: AUTO_PASSTHROUGH\n  hosts:\n  - \"*.local\""),
        );
    }
    out
}
