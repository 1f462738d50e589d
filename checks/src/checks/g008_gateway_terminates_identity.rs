use crate::analysis::Topology;
use crate::context::Context;
use crate::finding::{Evidence, Finding};
use crate::model::Side;

crate::declare_check! {
    /// A B gateway terminates the route's mTLS: the backend sees the gateway, not the caller.
    ///
    /// **What it checks.** Routes that land on a B Gateway server in `ISTIO_MUTUAL` or
    /// `MUTUAL` mode.
    ///
    /// **Why it matters.** The gateway verifies A's client certificate against B's roots (no
    /// trust-domain check), then opens a new mTLS connection to the backend as itself. A sees
    /// the gateway's certificate (its SANs must expect the gateway, I002) and B's backend
    /// policies see the gateway's principal (they must allow it, I003). A's identity is only
    /// available to policies on the gateway itself.
    ///
    /// **How to fix.** Nothing, if intended: allow the gateway's principal on the backend and
    /// expect the gateway's SAN in A. To keep A's identity end-to-end, route through an
    /// AUTO_PASSTHROUGH (east-west) gateway instead.
    pub static CHECK = {
        code: "G008",
        name: "gateway-terminates-identity",
        category: Gateway,
        severity: Info,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    cx.routes
        .iter()
        .filter(|r| r.topology == Topology::Terminated)
        .filter_map(|route| {
            let gw = route.gateway.as_ref()?;
            let ids: Vec<String> = route.caller_identities.iter().map(|i| i.principal()).collect();
            Some(
                Finding::new(
                    &CHECK.info,
                    Side::Server,
                    format!(
                        "{} terminates mTLS ({}): the backend sees [{}] as the caller, and the client must expect that identity.",
                        gw.gateway.object,
                        gw.tls_mode,
                        ids.join(", ")
                    ),
                )
                .route(route.id.clone())
                .evidence(Evidence::object(Side::Server, &gw.gateway, Some(&format!("spec.servers[{}].tls.mode", gw.server)), format!("tls.mode {}", gw.tls_mode)))
                .fix("Allow the gateway's principal on the backend, or use an AUTO_PASSTHROUGH gateway to keep the caller's identity."),
            )
        })
        .collect()
}
