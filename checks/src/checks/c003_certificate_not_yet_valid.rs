use crate::context::Context;
use crate::finding::Finding;

crate::declare_check! {
    /// A certificate the cross-mesh handshake needs is not valid yet.
    ///
    /// **What it checks.** Certificates on the path whose `notBefore` lies after the
    /// evaluation instant. Istio backdates workload certificates by two minutes; a CA issued
    /// "in the future" is not covered by that.
    ///
    /// **Why it breaks.** Peers reject the chain as not yet valid
    /// (`SSLV3_ALERT_CERTIFICATE_EXPIRED` in Envoy's logs, despite the name).
    ///
    /// **How to fix.** Fix the clock of the machine that issued it (NTP), or re-issue with a
    /// `notBefore` in the past.
    pub static CHECK = {
        code: "C003",
        name: "certificate-not-yet-valid",
        category: Certificates,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    super::path_certificates::collect(cx)
        .iter()
        .filter(|p| cx.at() < p.cert.not_before)
        .map(|p| {
            Finding::new(
                &CHECK.info,
                p.view.side,
                format!(
                    "{}'s {} `{}` is not valid before {} ({} days after the evaluation time).",
                    p.view.mesh.name,
                    p.role,
                    p.cert.subject,
                    p.cert.not_before,
                    cx.at().days_until(p.cert.not_before)
                ),
            )
            .evidence(p.evidence(format!("notBefore {}", p.cert.not_before)))
            .fix("Check the issuing machine's clock (NTP) and re-issue with a notBefore in the past.")
        })
        .collect()
}
