//! The L family shares one shape: each observation of a given outcome becomes a finding.

use crate::context::Context;
use crate::finding::{Evidence, Finding};
use crate::model::{ProbeObservation, Side};
use crate::registry::CheckInfo;

/// A finding for every probe that `describe` words a message for (it returns `None` for the
/// outcomes the check is not about).
pub fn findings(
    cx: &Context,
    info: &CheckInfo,
    side: Side,
    describe: impl Fn(&ProbeObservation) -> Option<String>,
    fix: &str,
) -> Vec<Finding> {
    cx.snapshot
        .probes
        .iter()
        .filter_map(|p| describe(p).map(|message| observation_finding(info, side, p, message, fix)))
        .collect()
}

/// A finding for one probe, with its stages and the presented chain as evidence.
pub fn observation_finding(
    info: &CheckInfo,
    side: Side,
    probe: &ProbeObservation,
    message: String,
    fix: &str,
) -> Finding {
    let mut f = Finding::new(info, side, message);
    if let Some(route) = &probe.route {
        f = f.route(route.clone());
    }
    let stages: Vec<String> = probe
        .stages
        .iter()
        .map(|s| {
            format!(
                "{} {}{}",
                if s.ok { "✓" } else { "✗" },
                s.name,
                if s.detail.is_empty() {
                    String::new()
                } else {
                    format!(": {}", s.detail)
                }
            )
        })
        .collect();
    f = f.evidence(Evidence::fact(
        side,
        format!(
            "probe of {} (SNI {}): {}",
            probe.target,
            probe.sni.as_deref().unwrap_or("none"),
            stages.join("; ")
        ),
    ));
    for cert in &probe.server_chain {
        let mut e = Evidence::fact(Side::Server, "certificate the server presented");
        e.certificate = Some(cert.clone());
        f = f.evidence(e);
    }
    for note in &probe.unconfirmed {
        f = f.evidence(Evidence::fact(Side::Client, format!("not checked: {note}")));
    }
    f.fix(fix)
}
