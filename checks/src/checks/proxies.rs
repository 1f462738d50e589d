//! Shared by the checks that read running proxies (`--inspect-proxies`): which proxies
//! belong to a mesh, how a pod is cited, and how to restart a set of pods.

use crate::context::Context;
use crate::finding::Evidence;
use crate::model::{LoadedCertificate, ProxyObservation, Side};

/// The inspected proxies of one mesh.
pub fn of_mesh<'a>(cx: &'a Context, side: Side) -> impl Iterator<Item = &'a ProxyObservation> {
    cx.snapshot.proxies.iter().filter(move |p| p.mesh == side)
}

/// Evidence naming the pod, its role and what its proxy holds.
pub fn evidence(p: &ProxyObservation, note: impl Into<String>) -> Evidence {
    Evidence::pod(
        p.mesh,
        &p.context,
        &p.namespace,
        &p.pod,
        format!("{} ({}): {}", p.workload, p.role.as_str(), note.into()),
    )
}

/// `shop/frontend-0, shop/frontend-1`
pub fn pod_list(pods: &[&ProxyObservation]) -> String {
    pods.iter()
        .map(|p| format!("{}/{}", p.namespace, p.pod))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Restarts the pods' workloads where the owner is known (`Deployment shop/frontend` →
/// `kubectl rollout restart`), deletes the pods otherwise (their controller recreates them).
pub fn restart_command(pods: &[&ProxyObservation]) -> String {
    let mut commands: Vec<String> = Vec::new();
    for p in pods {
        let command = match p.workload.split_once(' ') {
            Some((kind @ ("Deployment" | "StatefulSet" | "DaemonSet"), name)) => {
                let (ns, name) = name.split_once('/').unwrap_or((&p.namespace, name));
                format!(
                    "kubectl --context {} -n {ns} rollout restart {}/{name}",
                    p.context,
                    kind.to_ascii_lowercase()
                )
            }
            _ => format!(
                "kubectl --context {} -n {} delete pod {}",
                p.context, p.namespace, p.pod
            ),
        };
        if !commands.contains(&command) {
            commands.push(command);
        }
    }
    commands.join(" && ")
}

/// `serial 1a2b…, expires 2027-06-10T00:00:00Z`
pub fn describe(cert: &LoadedCertificate) -> String {
    let expires = cert
        .expiration
        .map(|t| format!(", expires {t}"))
        .unwrap_or_default();
    match cert.spiffe_id() {
        Some(id) => format!("`{id}` (serial {}{expires})", cert.serial),
        None => format!("serial {}{expires}", cert.serial),
    }
}
