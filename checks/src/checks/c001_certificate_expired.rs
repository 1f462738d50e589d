use crate::context::Context;
use crate::finding::Finding;

crate::declare_check! {
    /// A certificate the cross-mesh handshake needs has expired.
    ///
    /// **What it checks.** Every certificate on the path — both meshes' issuing CAs, their
    /// chains and the roots their proxies trust — is compared with the evaluation instant
    /// (`--at`, default now).
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
    super::path_certificates::collect(cx)
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
        .collect()
}
