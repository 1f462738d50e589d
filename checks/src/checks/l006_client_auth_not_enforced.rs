use crate::context::Context;
use crate::finding::Finding;
use crate::model::Side;

crate::declare_check! {
    /// The server accepts connections without a valid client certificate.
    ///
    /// **What it checks.** Two extra handshakes per probe: with no client certificate, and with
    /// a throwaway self-signed one. If the server completes either (and does not reject on
    /// the first read), it does not enforce mutual TLS.
    ///
    /// **Why it matters.** Anyone who can reach the address can talk to the service, with no
    /// identity for authorization policies to check. Usually a gateway in `SIMPLE` (or
    /// `OPTIONAL_MUTUAL`) mode, or PeerAuthentication `PERMISSIVE`.
    ///
    /// **How to fix.** Use `MUTUAL`/`ISTIO_MUTUAL` on the gateway server with a client CA
    /// bundle, and PeerAuthentication `STRICT` on the workloads.
    pub static CHECK = {
        code: "L006",
        name: "client-auth-not-enforced",
        category: Probe,
        severity: Warning,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    cx.snapshot
        .probes
        .iter()
        .filter_map(|p| {
            let accepted: Vec<&str> = p.negative.iter().filter(|n| n.accepted).map(|n| n.variant.as_str()).collect();
            (!accepted.is_empty()).then(|| {
                super::l_probe::observation_finding(
                    &CHECK.info,
                    Side::Server,
                    p,
                    format!("{} completed handshakes with {}: client authentication is not enforced.", p.target, accepted.join(" and ")),
                    "Require client certificates: MUTUAL/ISTIO_MUTUAL on the gateway, PeerAuthentication STRICT on the workloads.",
                )
            })
        })
        .collect()
}
