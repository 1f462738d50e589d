use crate::analysis::trust::{CA_CERT, CA_KEY, CaSecret, ROOT_CERT};
use crate::context::{Context, MeshView};
use crate::finding::{Evidence, Finding};
use crate::pki::{Untrusted, Verification, verify};

crate::declare_check! {
    /// A CA Secret (`cacerts` or `istio-ca-secret`) is incomplete or inconsistent.
    ///
    /// **What it checks.** A plug-in CA Secret needs `ca-cert.pem`, `ca-key.pem`,
    /// `root-cert.pem` and `cert-chain.pem`. The key must belong to `ca-cert.pem` (public keys
    /// are compared; the private key is never printed or stored), `ca-cert.pem` must verify to
    /// `root-cert.pem` through `cert-chain.pem`, and `cert-chain.pem` must be ordered leaf-side
    /// first, each certificate issued by the next.
    ///
    /// **Why it breaks.** istiod refuses to start with an unusable `cacerts`, or falls back to
    /// its self-signed CA; workloads then get certificates nobody in the peer mesh trusts.
    ///
    /// **How to fix.** Rebuild the Secret from matching files and restart istiod:
    /// `kubectl create secret generic cacerts -n istio-system --from-file=ca-cert.pem
    /// --from-file=ca-key.pem --from-file=root-cert.pem --from-file=cert-chain.pem`.
    pub static CHECK = {
        code: "T004",
        name: "ca-bundle-invalid",
        category: Trust,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for view in cx.meshes() {
        if let Some(ca) = &view.trust.plug_in {
            out.extend(check_secret(cx, view, ca, true));
        }
        if let Some(ca) = &view.trust.self_signed {
            out.extend(check_secret(cx, view, ca, false));
        }
    }
    out
}

fn check_secret(cx: &Context, view: &MeshView, ca: &CaSecret, plug_in: bool) -> Option<Finding> {
    let mut problems: Vec<(String, Option<String>)> = Vec::new();
    for key in &ca.missing {
        problems.push((
            format!("`{key}` is missing or empty"),
            Some(format!("data.{key}")),
        ));
    }
    if ca.ca_cert.is_none() && !ca.missing.contains(&CA_CERT) {
        problems.push((
            format!("`{CA_CERT}` holds no parseable certificate"),
            Some(format!("data.{CA_CERT}")),
        ));
    }
    if let Some(cert) = &ca.ca_cert {
        if ca.ca_key.as_ref().and_then(|k| k.matches(cert)) == Some(false) {
            problems.push((
                format!("`{CA_KEY}` is not the private key of `{CA_CERT}` (public keys differ)"),
                Some(format!("data.{CA_KEY}")),
            ));
        }
        if plug_in && !ca.root_certs.is_empty() {
            problems.extend(chain_problem(cx, ca, cert));
        }
    }
    problems.extend(order_problem(ca));
    if problems.is_empty() {
        return None;
    }
    let name = &ca.source.object;
    let mut finding = Finding::new(
        &CHECK.info,
        view.side,
        format!(
            "{} in {} is not a usable CA bundle: {}.",
            name,
            view.mesh.name,
            problems
                .iter()
                .map(|(p, _)| p.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    );
    for (problem, field) in &problems {
        finding = finding.evidence(Evidence::object(
            view.side,
            &ca.source,
            field.as_deref(),
            problem.clone(),
        ));
    }
    Some(
        finding
            .fix("Recreate the Secret from a matching certificate, key, root and full chain, then restart istiod.")
            .fix_command(format!(
                "kubectl -n {ns} create secret generic {n} --from-file=ca-cert.pem --from-file=ca-key.pem \
                 --from-file=root-cert.pem --from-file=cert-chain.pem --dry-run=client -o yaml | kubectl apply -f - \
                 && kubectl -n {ns} rollout restart deploy/istiod",
                ns = name.namespace,
                n = name.name
            )),
    )
}

/// `ca-cert.pem` must chain to `root-cert.pem`. A missing intermediate is T005's business.
fn chain_problem(
    cx: &Context,
    ca: &CaSecret,
    cert: &std::sync::Arc<crate::pki::Certificate>,
) -> Option<(String, Option<String>)> {
    match verify(cert, &ca.cert_chain, &ca.root_certs, cx.at()) {
        Verification::Trusted { .. } => None,
        Verification::Untrusted(Untrusted::UnknownIssuer { cert: stuck, .. })
            if super::t005_chain_incomplete::is_gap(ca, &stuck) =>
        {
            None
        }
        Verification::Untrusted(why) => Some((
            format!(
                "`{CA_CERT}` does not verify to `{ROOT_CERT}`: {}",
                why.describe()
            ),
            Some(format!("data.{ROOT_CERT}")),
        )),
    }
}

/// `cert-chain.pem` must go from the issuing CA towards the root: a certificate whose issuer
/// is in the file, but not right after it, is out of order (an absent issuer is T005's gap).
fn order_problem(ca: &CaSecret) -> Option<(String, Option<String>)> {
    let chain = &ca.cert_chain;
    let misordered = chain.windows(2).position(|w| {
        !w[0].self_issued
            && w[0].raw_issuer() != w[1].raw_subject()
            && chain.iter().any(|c| c.raw_subject() == w[0].raw_issuer())
    })?;
    Some((
        format!(
            "`cert-chain.pem` is out of order: certificate {} (`{}`) is not issued by the next one (`{}`)",
            misordered + 1,
            chain[misordered].subject,
            chain[misordered + 1].subject
        ),
        Some("data.cert-chain.pem".into()),
    ))
}
