use super::proxies;
use crate::context::Context;
use crate::finding::Finding;

crate::declare_check! {
    /// A certificate the cross-mesh handshake needs has expired.
    ///
    /// **What it checks.** Every certificate on the path — both meshes' issuing CAs, their
    /// chains and the roots their proxies trust — is compared with the evaluation instant
    /// (`--at`, default now); with `--inspect-proxies`, so is the certificate each inspected
    /// Envoy presents.
    ///
    /// **Why it breaks.** An expired CA invalidates every workload certificate below it; peers
    /// answer `SSLV3_ALERT_CERTIFICATE_EXPIRED` (268436501) or fail verification.
    ///
    /// **How to fix.** Re-issue the certificate (for a CA: a new intermediate under the same
    /// root), update the Secret, restart istiod and roll the workloads.
    pub static CHECK = {
        code: "C001",
        name: "certificate-expired",
        category: Certificates,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out: Vec<Finding> = super::path_certificates::collect(cx)
        .iter()
        .filter(|p| cx.at() > p.cert.not_after)
        .map(|p| {
            Finding::new(
                &CHECK.info,
                p.view.side,
                format!(
                    "{}'s {} `{}` expired {} ({} days before the evaluation time).",
                    p.view.mesh.name,
                    p.role,
                    p.cert.subject,
                    p.cert.not_after,
                    p.cert.not_after.days_until(cx.at())
                ),
            )
            .evidence(p.evidence(format!("notAfter {}", p.cert.not_after)))
            .fix("Re-issue the certificate, update the Secret, restart istiod and roll the workloads.")
        })
        .collect();
    out.extend(proxies_presenting_expired(cx));
    out
}

/// Inspected proxies (`--inspect-proxies`) presenting an expired certificate: peers reject
/// every handshake with them right now.
fn proxies_presenting_expired(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in &cx.snapshot.proxies {
        for cert in &p.state.certificates {
            let Some(expiry) = cert.expiration.filter(|t| cx.at() > *t) else {
                continue;
            };
            out.push(
                Finding::new(
                    &CHECK.info,
                    p.mesh,
                    format!(
                        "Pod {}/{}'s proxy presents a certificate {} that expired {expiry}: peers reject it.",
                        p.namespace,
                        p.pod,
                        proxies::describe(cert)
                    ),
                )
                .evidence(proxies::evidence(p, format!("presents {}", proxies::describe(cert))))
                .fix(if cert.spiffe_id().is_some() {
                    "The proxy could not renew its workload certificate: check that it reaches istiod (`istioctl proxy-status`, istio-proxy logs) and that the CA issues, then restart the pod."
                } else {
                    "Renew the certificate in the Secret the gateway's credentialName names."
                })
                .fix_command(proxies::restart_command(&[p])),
            );
        }
    }
    out
}
