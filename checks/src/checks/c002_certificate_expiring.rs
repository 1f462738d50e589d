use crate::context::Context;
use crate::finding::Finding;

crate::declare_check! {
    /// A certificate the cross-mesh handshake needs expires soon.
    ///
    /// **What it checks.** Certificates on the path (issuing CAs, chains, trusted roots) whose
    /// `notAfter` falls within the warning window (`--expiry-warning DAYS`, default 30) of the
    /// evaluation instant.
    ///
    /// **Why it matters.** When it expires, every cross-mesh connection that depends on it
    /// fails at once (C001). Root rotations between two meshes need both meshes to trust old
    /// and new roots before the switch, which takes time to roll out.
    ///
    /// **How to fix.** Plan the rotation now: issue the new certificate, overlap old and new
    /// roots in both meshes' trust, then switch.
    pub static CHECK = {
        code: "C002",
        name: "certificate-expiring",
        category: Certificates,
        severity: Warning,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let horizon = cx.at().plus_days(cx.snapshot.expiry_warning_days);
    super::path_certificates::collect(cx)
        .iter()
        .filter(|p| cx.at() <= p.cert.not_after && p.cert.not_after <= horizon)
        .map(|p| {
            Finding::new(
                &CHECK.info,
                p.view.side,
                format!(
                    "{}'s {} `{}` expires {} (in {} days; warning window {} days).",
                    p.view.mesh.name,
                    p.role,
                    p.cert.subject,
                    p.cert.not_after,
                    cx.at().days_until(p.cert.not_after),
                    cx.snapshot.expiry_warning_days
                ),
            )
            .evidence(p.evidence(format!("notAfter {}", p.cert.not_after)))
            .fix("Rotate before it expires: issue the replacement, trust old and new roots in both meshes, then switch.")
        })
        .collect()
}
