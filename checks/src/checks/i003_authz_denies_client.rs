use std::collections::BTreeMap;

use crate::analysis::index::{MeshIndex, labels_match};
use crate::context::Context;
use crate::finding::{Evidence, Finding};
use crate::model::{AuthorizationPolicySpec, AuthzSource, Item, Mesh, Side};
use crate::spiffe::SpiffeId;

crate::declare_check! {
    /// The server mesh's AuthorizationPolicies deny the caller.
    ///
    /// **What it checks.** For the route's target workloads in B, the ALLOW and DENY
    /// AuthorizationPolicies that select them (their namespace with a matching selector, or
    /// the root namespace). The caller is A's workload identity end-to-end, or B's gateway
    /// when a gateway terminates (G008). In B, a policy principal whose trust domain is B's
    /// own, one of B's aliases, or `cluster.local` is expanded to B's trust domain and every
    /// alias; other trust domains are kept literally. Only the `from` part of rules is judged;
    /// rules that also restrict `to`/`when` are assumed to admit some requests. When the callers
    /// of one client namespace are admitted, other namespaces being denied the same host is
    /// taken as least privilege and not reported.
    ///
    /// **Why it breaks.** mTLS succeeds, then every request gets HTTP 403
    /// `RBAC: access denied`. Principals written as `cluster.local/ns/shop/sa/frontend` match
    /// a caller from mesh A only if B aliases A's trust domain.
    ///
    /// **How to fix.** Allow the caller's real principal: `<A's trust domain>/ns/<ns>/sa/<sa>`
    /// (or the gateway's principal for terminated routes).
    pub static CHECK = {
        code: "I003",
        name: "authz-denies-client",
        category: Identity,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let server = cx.server.mesh;
    let mut out: Vec<(String, Finding)> = Vec::new();
    // A host whose callers from some client namespace are admitted works; other namespaces
    // being denied is least privilege, not a failure.
    let mut admitted_hosts: std::collections::HashSet<String> = std::collections::HashSet::new();
    for route in &cx.routes {
        let Some(target) = &route.target else {
            continue;
        };
        if route.caller_identities.is_empty() {
            continue;
        }
        let Some(labels) = target.pods.first().map(|p| &p.labels) else {
            continue;
        };
        let policies = applicable(&cx.server.index, &target.service.object.namespace, labels);
        let denied_by = |id: &SpiffeId| -> Option<Vec<&Item<AuthorizationPolicySpec>>> {
            let deny: Vec<_> = policies
                .iter()
                .copied()
                .filter(|p| p.spec.action == "DENY" && admits(server, p, id))
                .collect();
            if !deny.is_empty() {
                return Some(deny);
            }
            let allow: Vec<_> = policies
                .iter()
                .copied()
                .filter(|p| matches!(p.spec.action.as_str(), "" | "ALLOW"))
                .collect();
            (!allow.is_empty() && !allow.iter().any(|p| admits(server, p, id))).then_some(allow)
        };
        let verdicts: Vec<_> = route
            .caller_identities
            .iter()
            .map(|id| (id, denied_by(id)))
            .collect();
        if verdicts.iter().any(|(_, d)| d.is_none()) {
            admitted_hosts.insert(format!("{}:{}", route.host, route.port));
            continue; // At least one caller gets through.
        }
        let callers: Vec<String> = route
            .caller_identities
            .iter()
            .map(|i| i.principal())
            .collect();
        let mut f = Finding::new(
            &CHECK.info,
            Side::Server,
            format!(
                "{}'s AuthorizationPolicies for {} admit none of the callers [{}]: requests get 403 RBAC: access denied.",
                server.name,
                target.service.object,
                callers.join(", ")
            ),
        )
        .route(route.id.clone());
        let mut shown = Vec::new();
        for (_, policies) in &verdicts {
            for p in policies.iter().flatten() {
                if !shown.contains(&p.reference()) {
                    shown.push(p.reference());
                    f = f.evidence(Evidence::object(
                        Side::Server,
                        &p.source,
                        Some("spec.rules"),
                        format!(
                            "{} policy does not admit the caller",
                            if p.spec.action.is_empty() {
                                "ALLOW"
                            } else {
                                &p.spec.action
                            }
                        ),
                    ));
                }
            }
        }
        let principals: Vec<String> = callers.iter().map(|c| format!("        - {c}")).collect();
        out.push((
            format!("{}:{}", route.host, route.port),
            f.fix("Allow the caller's real principal (its own trust domain, or the gateway's identity for terminated routes).")
                .fix_yaml(format!(
                    "# add to the ALLOW policy's rules\n- from:\n  - source:\n      principals:\n{}",
                    principals.join("\n")
                )),
        ));
    }
    out.into_iter()
        .filter(|(host, _)| !admitted_hosts.contains(host))
        .map(|(_, f)| f)
        .collect()
}

/// Policies that apply to pods with `labels` in `namespace`.
fn applicable<'m>(
    index: &MeshIndex<'m>,
    namespace: &str,
    labels: &BTreeMap<String, String>,
) -> Vec<&'m Item<AuthorizationPolicySpec>> {
    let root = index.mesh.config.root_namespace.as_str();
    let scopes = if namespace == root {
        vec![namespace]
    } else {
        vec![namespace, root]
    };
    scopes
        .into_iter()
        .flat_map(|ns| index.authorization_policies_in(ns))
        .filter(|p| p.spec.target_ref.is_none() && p.spec.target_refs.is_empty())
        .filter(|p| {
            p.spec
                .selector
                .as_ref()
                .is_none_or(|s| labels_match(s.labels(), labels))
        })
        .collect()
}

/// Whether a policy's rules match a request from `caller`.
fn admits(mesh: &Mesh, policy: &Item<AuthorizationPolicySpec>, caller: &SpiffeId) -> bool {
    let Some(rules) = &policy.spec.rules else {
        return false;
    };
    rules.iter().any(|rule| {
        rule.from.is_empty()
            || rule
                .from
                .iter()
                .any(|f| source_matches(mesh, &f.source, caller))
    })
}

fn source_matches(mesh: &Mesh, source: &AuthzSource, caller: &SpiffeId) -> bool {
    let principal_ok = |list: &[String]| list.iter().any(|p| principal_matches(mesh, p, caller));
    let namespace_ok = |list: &[String]| list.iter().any(|n| wildcard(n, &caller.namespace));
    (source.principals.is_empty() || principal_ok(&source.principals))
        && !principal_ok(&source.not_principals)
        && (source.namespaces.is_empty() || namespace_ok(&source.namespaces))
        && !namespace_ok(&source.not_namespaces)
    // Request principals (JWT) and IP blocks cannot be judged from identities: a source that
    // needs them is assumed to match some requests.
}

/// Matches a policy principal against a caller, with B's trust-domain expansion.
fn principal_matches(mesh: &Mesh, pattern: &str, caller: &SpiffeId) -> bool {
    let actual = caller.principal();
    if wildcard(pattern, &actual) {
        return true;
    }
    let Some((td, rest)) = pattern.split_once("/ns/") else {
        return false;
    };
    let own = &mesh.config.trust_domain;
    let aliases = &mesh.config.trust_domain_aliases;
    let expandable = td == own || td == "cluster.local" || aliases.iter().any(|a| a == td);
    expandable
        && std::iter::once(own)
            .chain(aliases)
            .any(|t| wildcard(&format!("{t}/ns/{rest}"), &actual))
}

/// Istio's string match: exact, `prefix*`, `*suffix`, or `*`.
fn wildcard(pattern: &str, value: &str) -> bool {
    if pattern == "*" || pattern == value {
        return true;
    }
    if let Some(prefix) = pattern.strip_suffix('*') {
        return value.starts_with(prefix);
    }
    if let Some(suffix) = pattern.strip_prefix('*') {
        return value.ends_with(suffix);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_own_trust_domain_and_cluster_local() {
        let mut mesh = Mesh::default();
        mesh.config.trust_domain = "mesh-b.local".into();
        mesh.config.trust_domain_aliases = vec!["mesh-a.local".into()];
        let caller = SpiffeId::new("mesh-a.local", "shop", "frontend");
        assert!(principal_matches(
            &mesh,
            "cluster.local/ns/shop/sa/frontend",
            &caller
        ));
        assert!(principal_matches(
            &mesh,
            "mesh-b.local/ns/shop/sa/*",
            &caller
        ));
        mesh.config.trust_domain_aliases.clear();
        assert!(!principal_matches(
            &mesh,
            "cluster.local/ns/shop/sa/frontend",
            &caller
        ));
        assert!(principal_matches(
            &mesh,
            "mesh-a.local/ns/shop/sa/frontend",
            &caller
        ));
        assert!(!principal_matches(
            &mesh,
            "other.local/ns/shop/sa/frontend",
            &caller
        ));
    }
}
