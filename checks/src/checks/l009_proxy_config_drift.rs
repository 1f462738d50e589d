use std::collections::{BTreeMap, HashMap};

use super::proxies;
use crate::analysis::Route;
use crate::context::Context;
use crate::finding::Finding;
use crate::model::{ClusterTls, ProxyObservation, ProxyRole};

crate::declare_check! {
    /// A running client proxy uses other TLS settings for a route than the configuration implies.
    ///
    /// **What it checks.** With `--inspect-proxies`, the outbound cluster of each route in the
    /// client workloads' Envoys (`/config_dump`, `outbound|PORT||HOST`) is compared with what
    /// the model computed from the DestinationRules, ServiceEntries and mesh config: the TLS
    /// mode (ISTIO_MUTUAL, MUTUAL, SIMPLE, DISABLE), the SNI, and the SANs the proxy
    /// verifies the server against. A cluster that is not loaded at all is reported too.
    ///
    /// **Why it matters.** The configuration is what should happen; the proxy is what does.
    /// Differences come from istiod not pushing (rejected config, a proxy disconnected from
    /// istiod, a Sidecar scope), from another DestinationRule winning than expected, or from
    /// proxies older than the change. The handshake then fails with the proxy's settings, not
    /// the manifest's: a SAN list that misses B's identity shows as `ssl.fail_verify_san`.
    ///
    /// **How to fix.** Check `istioctl proxy-status` for stale or rejected pushes and
    /// `istioctl proxy-config cluster POD --fqdn HOST -o json` for the settings in force; fix
    /// the configuration that wins, then restart the listed pods if they stay stale.
    pub static CHECK = {
        code: "L009",
        name: "proxy-config-drift",
        category: Probe,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let routes: HashMap<&str, (usize, &Route)> = cx
        .routes
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), (i, r)))
        .collect();
    // Per route (in route order), pods with the same differences are reported together.
    let mut groups: BTreeMap<(usize, Vec<String>), Vec<&ProxyObservation>> = BTreeMap::new();
    for p in cx
        .snapshot
        .proxies
        .iter()
        .filter(|p| p.role == ProxyRole::ClientWorkload)
    {
        for (i, route) in p.routes.iter().filter_map(|id| routes.get(id.as_str())) {
            let differences = differences(route, p);
            if !differences.is_empty() {
                groups.entry((*i, differences)).or_default().push(p);
            }
        }
    }
    let mut out = Vec::new();
    for ((i, differences), pods) in groups {
        let Some(route) = cx.routes.get(i) else {
            continue;
        };
        {
            let mut finding = Finding::new(
                &CHECK.info,
                pods[0].mesh,
                format!(
                    "Route {}: {} running client prox{} ({}) differ{} from the configuration: {}.",
                    route.id,
                    pods.len(),
                    if pods.len() == 1 { "y" } else { "ies" },
                    proxies::pod_list(&pods),
                    if pods.len() == 1 { "s" } else { "" },
                    differences.join("; ")
                ),
            )
            .route(&route.id);
            for p in &pods {
                finding = finding.evidence(proxies::evidence(p, loaded_settings(route, p)));
            }
            out.push(
                finding
                    .fix(format!(
                        "See what is in force with `istioctl proxy-config cluster {} --fqdn {} -o json` and stale pushes with `istioctl proxy-status`; fix the winning DestinationRule, then restart the pods if they stay stale.",
                        pods[0].pod, route.host
                    ))
                    .fix_command(proxies::restart_command(&pods)),
            );
        }
    }
    out
}

/// The route's cluster in this proxy, any subset.
fn cluster<'p>(route: &Route, p: &'p ProxyObservation) -> Option<&'p ClusterTls> {
    let wanted = format!("outbound|{}||{}", route.port, route.host);
    p.state
        .clusters
        .iter()
        .find(|c| c.name == wanted)
        .or_else(|| {
            p.state.clusters.iter().find(|c| {
                c.name.starts_with(&format!("outbound|{}|", route.port))
                    && c.name.ends_with(&format!("|{}", route.host))
            })
        })
}

/// What differs, in words; empty when the proxy does what the configuration says.
fn differences(route: &Route, p: &ProxyObservation) -> Vec<String> {
    let model = &route.client;
    let Some(loaded) = cluster(route, p) else {
        return vec![format!(
            "no cluster outbound|{}||{} is loaded (istiod has not pushed it to this proxy)",
            route.port, route.host
        )];
    };
    let mut out = Vec::new();
    // Without DestinationRule TLS, Istio builds auto-mTLS matches and TLS applies per
    // endpoint (`tlsMode=istio`): the model has judged the endpoints (R002); the cluster
    // cannot say more.
    let per_endpoint = loaded.auto && (model.auto_mtls || model.tls.is_none());
    if per_endpoint {
        if model.mode == "DISABLE" {
            return out;
        }
    } else if loaded.mode != model.mode {
        out.push(format!(
            "TLS mode {} instead of {}",
            loaded.mode, model.mode
        ));
    }
    if loaded.mode == "DISABLE" || model.mode == "DISABLE" {
        return out;
    }
    // For SIMPLE/MUTUAL without `tls.sni` Istio leaves the SNI to Envoy's auto_sni (the
    // request's host): an empty SNI there is what the configuration implies.
    let explicit_sni = model.tls.as_ref().is_some_and(|t| !t.sni.is_empty());
    let sni_decided = model.mode == "ISTIO_MUTUAL" || explicit_sni;
    if sni_decided && loaded.sni != model.sni {
        out.push(format!(
            "SNI {} instead of {}",
            shown(loaded.sni.as_deref()),
            shown(model.sni.as_deref())
        ));
    }
    let mut expected = model.expected_sans.clone();
    expected.sort();
    expected.dedup();
    if loaded.sans != expected {
        out.push(format!(
            "verifies SANs [{}] instead of [{}]",
            loaded.sans.join(", "),
            expected.join(", ")
        ));
    }
    out
}

fn shown(value: Option<&str>) -> String {
    value.map_or_else(|| "(none)".into(), |v| format!("`{v}`"))
}

fn loaded_settings(route: &Route, p: &ProxyObservation) -> String {
    match cluster(route, p) {
        Some(c) => format!(
            "cluster {}: mode {}{}, SNI {}, SANs [{}], ALPN [{}]",
            c.name,
            c.mode,
            if c.auto {
                " (auto, tlsMode=istio endpoints)"
            } else {
                ""
            },
            shown(c.sni.as_deref()),
            c.sans.join(", "),
            c.alpn.join(", ")
        ),
        None => format!(
            "no cluster for {}:{} in /config_dump",
            route.host, route.port
        ),
    }
}
