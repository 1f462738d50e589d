use super::evidence::{client_rule, gateway_server, with};
use crate::context::Context;
use crate::finding::Finding;
use crate::model::Side;

crate::declare_check! {
    /// The client originates TLS without Istio's ALPN towards an AUTO_PASSTHROUGH gateway.
    ///
    /// **What it checks.** AUTO_PASSTHROUGH filter chains require the ALPN `istio-peer-exchange`
    /// or `istio` (`istio-http/1.1`, `istio-h2` for HTTP), which only an `ISTIO_MUTUAL` client
    /// sends. The check reports routes through an AUTO_PASSTHROUGH server whose client
    /// DestinationRule uses `MUTUAL` or `SIMPLE` (application TLS with its own certificates).
    ///
    /// **Why it breaks.** No chain matches: the gateway closes the connection after the
    /// ClientHello (`filter_chain_not_found`); a probe succeeds with ALPN `istio` and fails
    /// without it.
    ///
    /// **How to fix.** Use `tls.mode: ISTIO_MUTUAL` in the DestinationRule, or send
    /// application TLS to an ingress Gateway in `MUTUAL`/`SIMPLE` mode instead.
    pub static CHECK = {
        code: "G003",
        name: "alpn-missing",
        category: Gateway,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for route in &cx.routes {
        let Some(hop) = &route.gateway else { continue };
        if hop.tls_mode != "AUTO_PASSTHROUGH"
            || !matches!(route.client.mode.as_str(), "MUTUAL" | "SIMPLE")
        {
            continue;
        }
        let f = Finding::new(
            &CHECK.info,
            Side::Client,
            format!(
                "{} originates {} TLS (no Istio ALPN) to {}'s AUTO_PASSTHROUGH gateway, which only routes Istio mTLS.",
                cx.client.mesh.name, route.client.mode, cx.server.mesh.name
            ),
        )
        .route(route.id.clone());
        let f = with(
            f,
            client_rule(route, "mode", format!("tls.mode {}", route.client.mode)),
        );
        let f = with(
            f,
            gateway_server(
                route,
                "tls.mode",
                "AUTO_PASSTHROUGH requires ALPN istio-peer-exchange/istio",
            ),
        );
        out.push(
            f.fix("Let the sidecar originate Istio mTLS.")
                .fix_yaml(format!(
                    "# DestinationRule for {}\ntrafficPolicy:\n  tls:\n    mode: ISTIO_MUTUAL",
                    route.host
                )),
        );
    }
    out
}
