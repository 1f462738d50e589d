use crate::analysis::tls::{self as tls_window, version_name};
use crate::context::Context;
use crate::finding::{Evidence, Finding};
use crate::model::Side;

crate::declare_check! {
    /// The TLS versions the two sides allow do not overlap.
    ///
    /// **What it checks.** The client's window (TLS 1.2–1.3 by default, narrowed by
    /// `meshConfig.tlsDefaults.minProtocolVersion` and istiod's `COMPLIANCE_POLICY`:
    /// `fips-140-2` → 1.2 only, `pqc` → 1.3 only) against the server's: B's
    /// `meshMTLS.minProtocolVersion` (inbound only) end-to-end, or the Gateway server's
    /// `min/maxProtocolVersion` when a gateway terminates, plus B's `COMPLIANCE_POLICY`.
    ///
    /// **Why it breaks.** No common version: the handshake fails at once with
    /// `TLSV1_ALERT_PROTOCOL_VERSION` (268436526).
    ///
    /// **How to fix.** Widen one side: e.g. `meshMTLS.minProtocolVersion: TLSV1_2`, or the same
    /// `COMPLIANCE_POLICY` in both meshes.
    pub static CHECK = {
        code: "P001",
        name: "tls-version-disjoint",
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
        if client.min.max(server.min) <= client.max.min(server.max) {
            continue;
        }
        let mut f = Finding::new(
            &CHECK.info,
            Side::Both,
            format!(
                "{} offers {}–{} but {} accepts {}–{}: no common TLS version.",
                cx.client.mesh.name,
                version_name(client.min),
                version_name(client.max),
                cx.server.mesh.name,
                version_name(server.min),
                version_name(server.max)
            ),
        )
        .route(route.id.clone());
        for (side, window, view) in [
            (Side::Client, &client, &cx.client),
            (Side::Server, &server, &cx.server),
        ] {
            for why in &window.because {
                f = f.evidence(evidence(view.mesh, side, why));
            }
        }
        out.push(f.fix(
            "Make the version ranges overlap (TLS 1.2 and 1.3 on both sides is Istio's default).",
        ));
    }
    out
}

/// Evidence for a TLS setting: the istiod Deployment or the mesh config.
pub(super) fn evidence(mesh: &crate::model::Mesh, side: Side, why: &str) -> Evidence {
    let source = if why.contains("COMPLIANCE_POLICY") {
        mesh.istiod
            .as_ref()
            .map(|i| (&i.source, "spec.template.spec.containers"))
    } else if why.starts_with("meshConfig") {
        mesh.config_source.as_ref().map(|s| (s, "data.mesh"))
    } else {
        None
    };
    match source {
        Some((src, field)) => Evidence::object(side, src, Some(field), why),
        None => Evidence::fact(side, why),
    }
}
