use crate::analysis::tls as tls_window;
use crate::context::Context;
use crate::finding::Finding;
use crate::model::Side;

crate::declare_check! {
    /// The two sides share a TLS version but no cipher suite.
    ///
    /// **What it checks.** When the only common version is TLS 1.2 (TLS 1.3 suites are not
    /// configurable), the client's suites (Envoy's defaults, or the FIPS set under
    /// `COMPLIANCE_POLICY=fips-140-2`) against the server's (`meshMTLS.cipherSuites` or
    /// Istio's inbound defaults end-to-end; the Gateway's `tls.cipherSuites` when it
    /// terminates).
    ///
    /// **Why it breaks.** The server finds no common suite and aborts with
    /// `SSLV3_ALERT_HANDSHAKE_FAILURE` (268436496).
    ///
    /// **How to fix.** Configure at least one common suite, e.g.
    /// `ECDHE-ECDSA-AES256-GCM-SHA384`, or allow TLS 1.3 on both sides.
    pub static CHECK = {
        code: "P002",
        name: "cipher-or-group-disjoint",
        category: TlsParameters,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let client = tls_window::client(cx.client.mesh);
    let mut out = Vec::new();
    for route in &cx.routes {
        let Some(server) = tls_window::server(cx.server.mesh, route) else {
            continue;
        };
        let (low, high) = (client.min.max(server.min), client.max.min(server.max));
        if low > high || high >= 13 {
            continue; // P001's case, or TLS 1.3 is available.
        }
        if client.ciphers.iter().any(|c| server.ciphers.contains(c)) {
            continue;
        }
        let mut f = Finding::new(
            &CHECK.info,
            Side::Both,
            format!(
                "Only TLS 1.2 is common, and {} offers {:?} while {} accepts {:?}: no shared cipher suite.",
                cx.client.mesh.name, client.ciphers, cx.server.mesh.name, server.ciphers
            ),
        )
        .route(route.id.clone());
        for (side, window, view) in [
            (Side::Client, &client, &cx.client),
            (Side::Server, &server, &cx.server),
        ] {
            for why in &window.because {
                f = f.evidence(super::p001_tls_version_disjoint::evidence(
                    view.mesh, side, why,
                ));
            }
        }
        out.push(f.fix("Add a suite both sides support (e.g. ECDHE-ECDSA-AES256-GCM-SHA384), or allow TLS 1.3 on both sides."));
    }
    out
}
