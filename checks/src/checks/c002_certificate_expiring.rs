use super::proxies;
use crate::context::Context;
use crate::finding::Finding;
use crate::time::Timestamp;

crate::declare_check! {
    /// A certificate the cross-mesh handshake needs expires soon.
    ///
    /// **What it checks.** Certificates on the path (issuing CAs, chains, trusted roots) whose
    /// `notAfter` falls within the warning window (`--expiry-warning DAYS`, default 30) of the
    /// evaluation instant; with `--inspect-proxies`, also the certificate each inspected
    /// Envoy presents when it is past Istio's renewal point (less than 40% of its lifetime
    /// left): short-lived workload certificates are always "expiring", so only a renewal that
    /// did not happen is reported.
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
    let mut out: Vec<Finding> = super::path_certificates::collect(cx)
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
        .collect();
    out.extend(proxy_certificates_expiring(cx, horizon));
    out
}

/// Istio renews a workload certificate when half its lifetime is left (`SECRET_GRACE_PERIOD_RATIO`
/// 0.5, with jitter); one with less than this share left was not renewed.
const RENEWAL_OVERDUE_SHARE: f64 = 0.4;

/// Certificates presented by inspected proxies (`--inspect-proxies`) that expire within the
/// window *and* are overdue for renewal. Istio's workload certificates live 24 hours, so the
/// window alone would flag every healthy pod; a certificate past its renewal point means the
/// proxy cannot get a new one (istiod unreachable, CA failing).
fn proxy_certificates_expiring(cx: &Context, horizon: Timestamp) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in &cx.snapshot.proxies {
        for cert in &p.state.certificates {
            let Some(expiry) = cert.expiration.filter(|t| cx.at() <= *t && *t <= horizon) else {
                continue;
            };
            // Istio renews its own (SPIFFE) certificates; others (gateway credentials) only
            // by someone's hand, so the window alone applies to them.
            let istio_issued = cert.spiffe_id().is_some();
            let left = (expiry.0 - cx.at().0) as f64;
            let lifetime = cert.valid_from.map(|from| (expiry.0 - from.0) as f64);
            if istio_issued
                && lifetime.is_some_and(|l| l > 0.0 && left >= l * RENEWAL_OVERDUE_SHARE)
            {
                continue;
            }
            let (what, fix) = if istio_issued {
                (
                    "was not renewed",
                    "Istio renews workload certificates at half their lifetime: one that was not renewed means the proxy cannot reach istiod or the CA fails (check `istioctl proxy-status` and the istio-proxy logs), then restart the pod.",
                )
            } else {
                (
                    "expires soon",
                    "Renew the certificate in the Secret the gateway's credentialName names; the gateway picks it up without a restart.",
                )
            };
            out.push(
                Finding::new(
                    &CHECK.info,
                    p.mesh,
                    format!(
                        "Pod {}/{}'s proxy presents a certificate {} that expires {expiry} and {what} (in {} days; warning window {} days).",
                        p.namespace,
                        p.pod,
                        proxies::describe(cert),
                        cx.at().days_until(expiry),
                        cx.snapshot.expiry_warning_days
                    ),
                )
                .evidence(proxies::evidence(p, format!("presents {}", proxies::describe(cert))))
                .fix(fix)
                .fix_command(proxies::restart_command(&[p])),
            );
        }
    }
    out
}
