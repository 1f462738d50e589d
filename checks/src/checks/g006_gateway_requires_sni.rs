use super::evidence::{client_rule, gateway_server, with};
use crate::analysis::Topology;
use crate::analysis::index::host_matches;
use crate::context::Context;
use crate::finding::Finding;
use crate::model::Side;

crate::declare_check! {
    /// A terminating gateway serves named hosts, and the client's SNI is not one of them.
    ///
    /// **What it checks.** A Gateway server whose `hosts` are not `*` selects its certificate
    /// and filter chain by SNI. The check reports routes to such a server where the client
    /// sends no SNI or an SNI outside `hosts` (typically the default
    /// `outbound_.<port>_._.<host>` of an ISTIO_MUTUAL DestinationRule without `tls.sni`).
    ///
    /// **Why it breaks.** The gateway finds no chain for the SNI and closes the connection
    /// before the ServerHello.
    ///
    /// **How to fix.** Set the DestinationRule's `tls.sni` to one of the Gateway server's
    /// hosts.
    pub static CHECK = {
        code: "G006",
        name: "gateway-requires-sni",
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
        .filter(|r| matches!(r.topology, Topology::Terminated | Topology::Passthrough))
    {
        let Some(hop) = &route.gateway else { continue };
        let hosts: Vec<&str> = hop
            .hosts
            .iter()
            .map(|h| h.split_once('/').map_or(h.as_str(), |(_, x)| x))
            .collect();
        if hosts.contains(&"*") {
            continue;
        }
        let sni = route.client.sni.as_deref();
        if sni.is_some_and(|s| hosts.iter().any(|h| host_matches(h, s))) {
            continue;
        }
        let shown = sni.map_or("no SNI".to_string(), |s| format!("SNI `{s}`"));
        let f = Finding::new(
            &CHECK.info,
            Side::Client,
            format!(
                "{} sends {shown}, but {}'s gateway server only serves {:?}: it closes the connection before the ServerHello.",
                cx.client.mesh.name, cx.server.mesh.name, hop.hosts
            ),
        )
        .route(route.id.clone());
        let f = with(
            f,
            client_rule(
                route,
                "",
                format!("{shown} (tls.sni unset or outside the gateway hosts)"),
            ),
        );
        let f = with(f, gateway_server(route, "hosts", "hosts served by SNI"));
        let suggestion = hosts.first().map_or("<a gateway host>", |h| h);
        out.push(
            f.fix("Send one of the gateway's hosts as SNI.")
                .fix_yaml(format!("# DestinationRule for {}\ntrafficPolicy:\n  tls:\n    mode: {}\n    sni: {suggestion}", route.host, route.client.mode)),
        );
    }
    out
}
