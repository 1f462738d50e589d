use std::collections::HashMap;

use super::proxies;
use crate::analysis::Route;
use crate::context::Context;
use crate::finding::{Evidence, Finding, Severity};
use crate::model::{CounterScope, ProxyObservation, ProxyRole, Side, TlsCounter};

crate::declare_check! {
    /// Running proxies count failed TLS handshakes on a route's cluster or gateway listener.
    ///
    /// **What it checks.** With `--inspect-proxies`, Envoy's `ssl.*` counters are sampled
    /// twice (`--inspect-interval`, default 2 s): on the client workloads' cluster for the
    /// route (the proxy is the TLS client) and on the listeners of B's gateway and target pods
    /// for the route's port (the proxy is the TLS server). A counter that rose between the two
    /// samples is failing *now* (error); one that is non-zero but still is a past failure
    /// (warning).
    ///
    /// **What the counters say.** On A's cluster: `fail_verify_error` — A does not trust the
    /// chain B presents (T001, C001); `fail_verify_san` — B's identity is not in A's SAN list
    /// (I002, L009); `connection_error` without verification failures — B rejects A (its
    /// certificate: T002, I001, G005) or the TLS parameters (P001). On B's listener:
    /// `fail_verify_error` — B does not trust A's client certificates (T002);
    /// `fail_verify_no_cert` — clients come without a certificate while B requires one.
    ///
    /// **How to fix.** Fix the cause the counters point at (the configuration findings of the
    /// same route usually name it), then watch the counters stop rising. Istio keeps few
    /// Envoy statistics by default; when no `ssl` counter is exposed, the check says so:
    /// include them with `proxyStatsMatcher` (mesh config `defaultConfig` or the pod
    /// annotation `proxy.istio.io/config`): `inclusionRegexps: [".*ssl.*"]`.
    pub static CHECK = {
        code: "L010",
        name: "proxy-handshake-failures",
        category: Probe,
        severity: Error,
        run: run,
    };
}

/// Counters that count failures (`handshake` counts successes).
const FAILURES: &[&str] = &[
    "fail_verify_error",
    "fail_verify_san",
    "fail_verify_no_cert",
    "connection_error",
];

fn run(cx: &Context) -> Vec<Finding> {
    let routes: HashMap<&str, &Route> = cx.routes.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut out = Vec::new();
    for p in &cx.snapshot.proxies {
        let own: Vec<&Route> = p
            .routes
            .iter()
            .filter_map(|id| routes.get(id.as_str()).copied())
            .collect();
        let counters: Vec<&TlsCounter> = relevant(&own, p).collect();
        let mut owners: Vec<&str> = Vec::new();
        for c in &counters {
            if !owners.contains(&c.owner.as_str()) {
                owners.push(&c.owner);
            }
        }
        for owner in owners {
            let failing: Vec<&TlsCounter> = counters
                .iter()
                .copied()
                .filter(|c| c.owner == owner && FAILURES.contains(&c.counter.as_str()))
                .filter(|c| c.value > 0)
                .collect();
            if !failing.is_empty() {
                out.push(finding(&own, p, owner, &failing));
            }
        }
    }
    out.extend(counters_not_exposed(cx, Side::Client));
    out.extend(counters_not_exposed(cx, Side::Server));
    out
}

/// The counters of this proxy that belong to its routes: the routes' clusters for a client,
/// the listeners on the routes' ports for a gateway or target (all listeners when unknown).
fn relevant<'p>(
    routes: &[&Route],
    p: &'p ProxyObservation,
) -> impl Iterator<Item = &'p TlsCounter> {
    let clusters: Vec<(u32, String)> = routes.iter().map(|r| (r.port, r.host.clone())).collect();
    p.state
        .counters
        .iter()
        .filter(move |c| match (p.role, c.scope) {
            (ProxyRole::ClientWorkload, CounterScope::Cluster) => clusters
                .iter()
                .any(|(port, host)| is_cluster_of(&c.owner, *port, host)),
            (ProxyRole::Gateway | ProxyRole::Target, CounterScope::Listener) => p
                .ports
                .iter()
                .any(|port| c.owner.ends_with(&format!("_{port}"))),
            _ => false,
        })
}

fn is_cluster_of(name: &str, port: u32, host: &str) -> bool {
    name.starts_with(&format!("outbound|{port}|")) && name.ends_with(&format!("|{host}"))
}

fn finding(
    routes: &[&Route],
    p: &ProxyObservation,
    owner: &str,
    failing: &[&TlsCounter],
) -> Finding {
    let rising = failing.iter().any(|c| c.rise > 0);
    let seconds = p.state.sample_millis as f64 / 1000.0;
    let counts: Vec<String> = failing
        .iter()
        .map(|c| {
            if c.rise > 0 {
                format!(
                    "ssl.{} {} (+{} in {seconds:.1} s)",
                    c.counter, c.value, c.rise
                )
            } else {
                format!("ssl.{} {}", c.counter, c.value)
            }
        })
        .collect();
    let meaning: Vec<&str> = failing
        .iter()
        .filter_map(|c| meaning(p.role, &c.counter, failing))
        .collect();
    let (scope, when) = match p.role {
        ProxyRole::ClientWorkload => (
            "cluster",
            if rising {
                "failing now"
            } else {
                "failed earlier, not during the sample"
            },
        ),
        _ => (
            "listener",
            if rising {
                "failing now"
            } else {
                "failed earlier, not during the sample"
            },
        ),
    };
    let mut f = Finding::new(
        &CHECK.info,
        p.mesh,
        format!(
            "{}/{} ({}) {scope} {owner}: {} — {when}. {}",
            p.namespace,
            p.pod,
            p.role.as_str(),
            counts.join(", "),
            meaning.join(" ")
        ),
    )
    .evidence(proxies::evidence(p, format!("{scope} {owner}: {}", counts.join(", "))))
    .fix("Fix the root cause the other findings name; the counters show which side rejects whom. Confirm with `istioctl proxy-config log POD --level connection:debug` if needed.");
    if !rising {
        f = f.severity(Severity::Warning);
    }
    let routes: Vec<&String> = routes
        .iter()
        .filter(|r| p.role != ProxyRole::ClientWorkload || is_cluster_of(owner, r.port, &r.host))
        .map(|r| &r.id)
        .collect();
    if let [route] = routes.as_slice() {
        f = f.route(route.as_str());
    }
    f
}

/// Which side rejects whom, for one counter.
fn meaning(role: ProxyRole, counter: &str, all: &[&TlsCounter]) -> Option<&'static str> {
    let verify_failed = all.iter().any(|c| c.counter.starts_with("fail_verify"));
    Some(match (role, counter) {
        (ProxyRole::ClientWorkload, "fail_verify_error") => {
            "The client's proxy does not trust the chain the server presents (unknown root, expired or incomplete chain)."
        }
        (ProxyRole::ClientWorkload, "fail_verify_san") => {
            "The client's proxy rejects the server's identity: its SAN is not in the list the proxy verifies."
        }
        (ProxyRole::ClientWorkload, "connection_error") if !verify_failed => {
            "Handshakes fail without a verification failure on the client's side: the server rejects the client's certificate, or the TLS parameters do not match."
        }
        (_, "fail_verify_error") => {
            "This proxy rejects the clients' certificates: their chain does not lead to a root it trusts."
        }
        (_, "fail_verify_no_cert") => {
            "Clients connect without a certificate while this proxy requires one."
        }
        (_, "fail_verify_san") => "This proxy rejects the clients' identities (SAN match).",
        (_, "connection_error") if !verify_failed => {
            "Handshakes fail at this proxy without a verification failure here: clients reject its certificate, or the TLS parameters do not match."
        }
        _ => return None,
    })
}

/// One info finding per mesh whose inspected proxies expose no ssl counters at all.
fn counters_not_exposed(cx: &Context, side: Side) -> Option<Finding> {
    let silent: Vec<&ProxyObservation> = proxies::of_mesh(cx, side)
        .filter(|p| p.state.ssl_stats_exposed == Some(false))
        .collect();
    if silent.is_empty() {
        return None;
    }
    let mut f = Finding::new(
        &CHECK.info,
        side,
        format!(
            "{} inspected prox{} expose no `ssl` counters for the routes ({}), so handshake failures could not be counted there.",
            silent.len(),
            if silent.len() == 1 { "y" } else { "ies" },
            proxies::pod_list(&silent)
        ),
    )
    .severity(Severity::Info)
    .fix("Include the counters: mesh config `defaultConfig.proxyStatsMatcher.inclusionRegexps: [\".*ssl.*\"]`, or the same under the pod annotation `proxy.istio.io/config`, then restart the pods.");
    for p in &silent {
        f = f.evidence(Evidence::pod(
            p.mesh,
            &p.context,
            &p.namespace,
            &p.pod,
            "GET /stats?filter=ssl returned no ssl counter for the route's clusters or TLS listeners",
        ));
    }
    Some(f)
}
