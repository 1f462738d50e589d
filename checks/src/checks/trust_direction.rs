//! T001 and T002 are one check in two directions: can the verifying side chain what the
//! presenting side presents to a root it trusts?
//!
//! Two trust paths exist. The mesh path: workloads (and ISTIO_MUTUAL gateways) present chains
//! from their mesh CA and verify against their mesh's root set — reported once per mesh pair,
//! for every route on it. The credential path: a MUTUAL/SIMPLE gateway presents its
//! `credentialName` certificate and verifies clients against that Secret's CA bundle —
//! reported per route.

use std::sync::Arc;

use super::evidence;
use crate::analysis::Route;
use crate::analysis::route::Credential;
use crate::context::{Context, MeshView};
use crate::finding::{Evidence, Finding};
use crate::model::Side;
use crate::pki::{Certificate, Verification, verify};
use crate::registry::CheckInfo;
use crate::time::Timestamp;

/// Whether a route's server side is a gateway credential rather than the server mesh's CA.
pub fn uses_gateway_credential(route: &Route) -> bool {
    route
        .gateway
        .as_ref()
        .is_some_and(|g| g.credential.is_some())
}

/// T001: A verifies what B presents.
pub fn client_trusts_server(cx: &Context, info: &CheckInfo) -> Vec<Finding> {
    let mut out = mesh_path(cx, info, &cx.client, &cx.server);
    for route in cx.routes.iter().filter(|r| r.client.mode == "ISTIO_MUTUAL") {
        let Some(credential) = route.gateway.as_ref().and_then(|g| g.credential.as_ref()) else {
            continue;
        };
        let Some((leaf, rest)) = credential.chain.split_first() else {
            continue;
        };
        let anchors = cx.client.trust.trust_set();
        let Some(reason) = untrusted(leaf, rest, &anchors, cx.at()) else {
            continue;
        };
        let mut f = Finding::new(
            info,
            Side::Client,
            format!(
                "{} cannot verify the server certificate of gateway credential {}: {reason}.",
                cx.client.mesh.name, credential.name
            ),
        )
        .route(route.id.clone());
        f = credential_evidence(f, credential, leaf, "the certificate the gateway presents");
        for e in evidence::trusted_roots(&cx.client, &anchors, "a root the client's proxies trust")
        {
            f = f.evidence(e);
        }
        out.push(f.fix(format!(
            "Issue the gateway's certificate ({}) from a CA that {} trusts (e.g. {}'s mesh CA under the shared root), \
             or give the client's DestinationRule the gateway's CA.",
            credential.name, cx.client.mesh.name, cx.server.mesh.name
        )));
    }
    out
}

/// T002: B verifies what A presents.
pub fn server_trusts_client(cx: &Context, info: &CheckInfo) -> Vec<Finding> {
    let mut out = mesh_path(cx, info, &cx.server, &cx.client);
    let Some((issuing, rest)) = cx.client.trust.signing_chain.split_first() else {
        return out;
    };
    for route in cx.routes.iter().filter(|r| r.client.mode == "ISTIO_MUTUAL") {
        let Some(gw) = &route.gateway else { continue };
        let Some(credential) = &gw.credential else {
            continue;
        };
        if gw.tls_mode != "MUTUAL" || credential.client_cas.is_empty() {
            continue; // No client certificate requested, or no CA bundle at all (G005).
        }
        let Some(reason) = untrusted(issuing, rest, &credential.client_cas, cx.at()) else {
            continue;
        };
        let mut f = Finding::new(
            info,
            Side::Server,
            format!(
                "Gateway credential {} does not accept {}'s client certificates: {reason}. The gateway answers `tlsv1 alert unknown ca`.",
                credential.name, cx.client.mesh.name
            ),
        )
        .route(route.id.clone());
        if let Some((src, key)) = &credential.client_cas_source {
            for ca in &credential.client_cas {
                f = f.evidence(
                    Evidence::object(
                        Side::Server,
                        src,
                        Some(&format!("data.{key}")),
                        "a client CA the gateway accepts",
                    )
                    .with_certificate(ca),
                );
            }
        }
        if let Some(e) = evidence::signer(&cx.client, "the client's issuing CA") {
            f = f.evidence(e);
        }
        out.push(
            f.fix(format!("Add the root of {}'s CA to the gateway's client CA bundle (ca.crt of {}).", cx.client.mesh.name, credential.name))
                .fix_command(format!(
                    "kubectl -n {ns} create secret generic {name} --from-file=tls.crt --from-file=tls.key \
                     --from-file=ca.crt=<bundle with {client}'s root> --dry-run=client -o yaml | kubectl apply -f -",
                    ns = gw.workload_namespace,
                    name = credential.name.rsplit('/').next().unwrap_or(&credential.name),
                    client = cx.client.mesh.name
                )),
        );
    }
    out
}

fn credential_evidence(
    mut f: Finding,
    credential: &Credential,
    leaf: &Arc<Certificate>,
    note: &str,
) -> Finding {
    if let Some(src) = &credential.secret {
        f = f.evidence(
            Evidence::object(Side::Server, src, Some("data.tls.crt"), note).with_certificate(leaf),
        );
    }
    f
}

/// `None` when `leaf` (with `presented` intermediates) chains to `anchors`; else why not.
fn untrusted(
    leaf: &Arc<Certificate>,
    presented: &[Arc<Certificate>],
    anchors: &[Arc<Certificate>],
    at: Timestamp,
) -> Option<String> {
    match verify(leaf, presented, anchors, at) {
        Verification::Trusted { .. } => None,
        Verification::Untrusted(why) => Some(why.describe()),
    }
}

/// The mesh path: does `verifier` trust `presenter`'s mesh CA? Skipped when every route uses
/// gateway credentials instead (the mesh CAs then do not meet in the handshake).
fn mesh_path(
    cx: &Context,
    info: &CheckInfo,
    verifier: &MeshView,
    presenter: &MeshView,
) -> Vec<Finding> {
    if !cx.routes.is_empty() && cx.routes.iter().all(uses_gateway_credential) {
        return Vec::new();
    }
    let trust_set = verifier.trust.trust_set();
    if trust_set.is_empty() || !presenter.trust.is_known() {
        return Vec::new(); // E001 names what is missing.
    }
    let (who_verifies, who_presents) = (&verifier.mesh.name, &presenter.mesh.name);
    let reason = match presenter.trust.signing_chain.split_first() {
        Some((issuing, rest)) => match untrusted(issuing, rest, &trust_set, cx.at()) {
            None => return Vec::new(),
            Some(reason) => reason,
        },
        // Only the published root is known: compare roots.
        None => {
            let shared = presenter
                .trust
                .own_roots
                .iter()
                .any(|r| trust_set.iter().any(|t| t.same_key_and_name(r)));
            if shared {
                return Vec::new();
            }
            format!("{who_verifies} trusts none of the roots {who_presents} publishes")
        }
    };
    let mut finding = Finding::new(
        info,
        verifier.side,
        format!(
            "{who_verifies} cannot verify certificates issued by {who_presents}'s CA: {reason}. \
             Handshakes fail with CERTIFICATE_VERIFY_FAILED on {who_verifies}'s side \
             (and `tlsv1 alert unknown ca` on {who_presents}'s)."
        ),
    );
    if let Some(e) = evidence::signer(
        presenter,
        &format!("{who_presents} issues workload certificates with this CA"),
    ) {
        finding = finding.evidence(e);
    }
    for e in evidence::trusted_roots(
        verifier,
        &trust_set,
        &format!("a root {who_verifies}'s proxies trust"),
    ) {
        finding = finding.evidence(e);
    }
    if presenter.trust.signing_chain.is_empty() {
        for e in evidence::trusted_roots(
            presenter,
            &presenter.trust.own_roots,
            &format!("{who_presents}'s root"),
        ) {
            finding = finding.evidence(e);
        }
    }
    vec![finding
        .fix(format!(
            "Issue both meshes' CAs from one shared root (plug-in `cacerts` with per-mesh intermediates), \
             or add {who_presents}'s root to {who_verifies}'s trust with meshConfig.caCertificates \
             (requires ISTIO_MULTIROOT_MESH=true on istiod and PROXY_CONFIG_XDS_AGENT=\"true\" on proxies)."
        ))
        .fix_yaml(format!(
            "# {who_verifies}: ConfigMap istio-system/istio, key `mesh`\n\
             caCertificates:\n\
             - pem: |\n    <{who_presents}'s root-cert.pem>\n\
             defaultConfig:\n  proxyMetadata:\n    PROXY_CONFIG_XDS_AGENT: \"true\"\n\
             # and on istiod: env ISTIO_MULTIROOT_MESH=true; then restart the proxies"
        ))]
}
