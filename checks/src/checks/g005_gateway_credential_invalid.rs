use super::evidence::{gateway_server, with};
use crate::context::Context;
use crate::finding::{Evidence, Finding};
use crate::model::Side;

crate::declare_check! {
    /// A MUTUAL/SIMPLE gateway's credential cannot serve the route.
    ///
    /// **What it checks.** A Gateway server with `credentialName` reads the Secret of that
    /// name in the *gateway pods'* namespace: `tls.crt`/`tls.key`, and for `MUTUAL` a client CA
    /// bundle (`ca.crt`, `cacert`, or a separate `<name>-cacert` Secret). The check reports a
    /// missing Secret, a missing server certificate, a MUTUAL server without a CA bundle, and a
    /// `tls.subjectAltNames` list that excludes the client's identities. (A CA bundle that
    /// lacks the client's root is T002.)
    ///
    /// **Why it breaks.** Without the Secret the gateway has no listener for the server (the
    /// connection is reset); without a CA bundle it cannot verify clients; a SAN list that
    /// excludes the client rejects it with `certificate_unknown`.
    ///
    /// **How to fix.** Create the Secret in the gateway's namespace with `tls.crt`, `tls.key`
    /// and `ca.crt`, and list the client's SPIFFE IDs in `tls.subjectAltNames` (or drop it).
    pub static CHECK = {
        code: "G005",
        name: "gateway-credential-invalid",
        category: Gateway,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for route in &cx.routes {
        let Some(hop) = &route.gateway else { continue };
        let mut problems = Vec::new();
        if let Some(credential) = &hop.credential {
            match &credential.secret {
                None => problems.push(format!(
                    "Secret {} is not in {}'s inputs (it must be in the gateway pods' namespace)",
                    credential.name, cx.server.mesh.name
                )),
                Some(_) if credential.chain.is_empty() => problems.push(format!(
                    "Secret {} has no server certificate (tls.crt)",
                    credential.name
                )),
                Some(_) => {}
            }
            if credential.secret.is_some()
                && hop.tls_mode == "MUTUAL"
                && credential.client_cas.is_empty()
            {
                problems.push(format!("MUTUAL needs a client CA bundle, but {} has no ca.crt/cacert and no {}-cacert Secret exists", credential.name, credential.name));
            }
        } else if matches!(hop.tls_mode.as_str(), "MUTUAL" | "SIMPLE")
            && hop.tls.credential_name.is_empty()
        {
            problems.push(format!("{} mode without credentialName (file-mounted certificates cannot be checked offline)", hop.tls_mode));
        }
        let allowed = &hop.tls.subject_alt_names;
        if !allowed.is_empty() && matches!(hop.tls_mode.as_str(), "MUTUAL" | "ISTIO_MUTUAL") {
            let admitted = route
                .client
                .identities
                .iter()
                .any(|id| allowed.contains(&id.uri()));
            if !admitted && !route.client.identities.is_empty() {
                problems.push(format!(
                    "tls.subjectAltNames {allowed:?} admits none of the client identities"
                ));
            }
        }
        if problems.is_empty() {
            continue;
        }
        let mut f = Finding::new(
            &CHECK.info,
            Side::Server,
            format!(
                "{}'s gateway credential for the route is unusable: {}.",
                cx.server.mesh.name,
                problems.join("; ")
            ),
        )
        .route(route.id.clone());
        f = with(f, gateway_server(route, "tls", problems.join("; ")));
        if let Some(src) = hop.credential.as_ref().and_then(|c| c.secret.as_ref()) {
            f = f.evidence(Evidence::object(
                Side::Server,
                src,
                Some("data"),
                "credential Secret",
            ));
        }
        let name = hop.credential.as_ref().map_or("<credentialName>", |c| {
            c.name.rsplit('/').next().unwrap_or(&c.name)
        });
        out.push(
            f.fix("Create the credential Secret in the gateway pods' namespace with the server certificate, key and client CA bundle.")
                .fix_command(format!(
                    "kubectl -n {} create secret generic {name} --from-file=tls.crt=server-chain.pem --from-file=tls.key=server-key.pem --from-file=ca.crt=client-root.pem",
                    hop.workload_namespace
                )),
        );
    }
    out
}
