use super::evidence::{client_rule, gateway_server, with};
use crate::analysis::Topology;
use crate::analysis::route::TargetProblem;
use crate::context::Context;
use crate::finding::Finding;
use crate::model::Side;

crate::declare_check! {
    /// The SNI the client sends matches no filter chain on the server mesh's gateway.
    ///
    /// **What it checks.** An AUTO_PASSTHROUGH gateway builds one filter chain per
    /// `outbound_.<port>_.<subset>_.<host>` of *its own* registry, for hosts its Gateway
    /// `hosts` cover (`*.local` in Istio's sample), for services exported to the gateway's
    /// namespace. The check parses the SNI mesh A sends (DestinationRule `tls.sni`, or the
    /// default built from A's host and port) and looks for that service, port and subset in B.
    /// For a terminating gateway, a VirtualService bound to it must route the host.
    ///
    /// **Why it breaks.** With no matching chain the gateway closes the connection right after
    /// the ClientHello, without an alert (`filter_chain_not_found`); the client logs
    /// `connection termination` or a reset and returns `503 UF`.
    ///
    /// **How to fix.** Set the DestinationRule's `tls.sni` to
    /// `outbound_.<B's service port>_._.<service>.<namespace>.svc.cluster.local`, or align A's
    /// ServiceEntry host and port with B's service.
    pub static CHECK = {
        code: "G002",
        name: "sni-not-routable",
        category: Gateway,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for route in &cx.routes {
        let Some(problem) = &route.target_problem else {
            continue;
        };
        if matches!(problem, TargetProblem::NoSni) && route.topology != Topology::EastWest {
            continue; // G006 covers missing SNI on terminating gateways.
        }
        let sni = route.client.sni.as_deref().unwrap_or("(none)");
        let why = describe(problem);
        let mut f = Finding::new(
            &CHECK.info,
            Side::Both,
            format!(
                "{} sends SNI `{sni}`, which {}'s gateway cannot route: {why}.",
                cx.client.mesh.name, cx.server.mesh.name
            ),
        )
        .route(route.id.clone());
        f = with(f, client_rule(route, "sni", format!("SNI `{sni}`")));
        f = with(f, gateway_server(route, "hosts", why.clone()));
        let fix_sni = suggested_sni(cx, route);
        out.push(
            f.fix("Send an SNI the gateway routes: outbound_.<B's service port>_._.<B's service host>.")
                .fix_yaml(format!(
                    "# DestinationRule for {} in {}\ntrafficPolicy:\n  tls:\n    mode: ISTIO_MUTUAL\n    sni: {fix_sni}",
                    route.host, cx.client.mesh.name
                )),
        );
    }
    out
}

fn describe(problem: &TargetProblem) -> String {
    match problem {
        TargetProblem::NotIstioSni { sni } => format!(
            "`{sni}` is not of the form outbound_.<port>_.<subset>_.<host> that AUTO_PASSTHROUGH routes"
        ),
        TargetProblem::NoSni => "no SNI is sent".to_string(),
        TargetProblem::HostUnknown { host } => {
            format!("`{host}` is not a service in the server mesh")
        }
        TargetProblem::PortUnknown { host, port, ports } => {
            format!("`{host}` has no port {port} (ports: {ports:?})")
        }
        TargetProblem::SubsetUnknown { host, subset } => {
            format!("no DestinationRule defines subset `{subset}` for `{host}`")
        }
        TargetProblem::NotInGatewayHosts { host, hosts } => {
            format!("the Gateway's hosts {hosts:?} do not cover `{host}`")
        }
        TargetProblem::NotExported { host } => format!(
            "`{host}` is not exported to the gateway's namespace (networking.istio.io/exportTo)"
        ),
        TargetProblem::NoVirtualService { host } => {
            format!("no VirtualService bound to the gateway routes `{host}`")
        }
    }
}

/// An SNI the gateway would route: B's service and its first port, when known.
fn suggested_sni(cx: &Context, route: &crate::analysis::Route) -> String {
    let host = match &route.target_problem {
        Some(
            TargetProblem::PortUnknown { host, .. } | TargetProblem::SubsetUnknown { host, .. },
        ) => Some(host.clone()),
        _ => None,
    };
    host.and_then(|h| cx.server.index.service_by_host(&h).map(|s| (h, s)))
        .and_then(|(h, s)| {
            s.spec
                .spec
                .ports
                .first()
                .map(|p| format!("outbound_.{}_._.{h}", p.port))
        })
        .unwrap_or_else(|| {
            "outbound_.<port>_._.<service>.<namespace>.svc.cluster.local".to_string()
        })
}
