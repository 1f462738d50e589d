//! `doctor --inspect-proxies`: read what running Envoys hold through their admin port.
//!
//! For every route, a bounded sample of pods is chosen — the client workloads in mesh A, the
//! gateway and target pods in mesh B — and each pod's admin port (15000) is reached through a
//! Kubernetes port-forward: a listener on 127.0.0.1 forwards every accepted connection into a
//! `pods/portforward` stream, and reqwest speaks plain HTTP to that listener. Only GET requests
//! to the read-only endpoints in [`ADMIN_READS`] are ever sent.

pub mod envoy;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use checks::context::Context;
use checks::model::{
    CounterScope, Mesh, ProxyObservation, ProxyRole, ProxyState, RbacRule, Side, Snapshot,
    UnavailableInput,
};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

/// Envoy's admin port in every Istio proxy.
pub const ADMIN_PORT: u16 = 15000;

/// The sidecar's virtual inbound listener, where Istio terminates inbound mTLS.
const INBOUND_PORT: u32 = 15006;

/// The only admin endpoints ever requested, all with GET. Envoy's mutating endpoints
/// (`/quitquitquit`, `/healthcheck/fail`, `/logging`, `/reset_counters`, …) are POSTs and are
/// never built.
pub const ADMIN_READS: &[&str] = &["/certs", "/config_dump", "/stats"];

/// Proxies inspected at once.
const CONCURRENCY: usize = 8;

/// Largest admin response read (a big mesh's cluster dump is a few MiB).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Checks that cannot run on a proxy whose admin port could not be read.
const PROXY_CHECKS: &[&str] = &["T008", "I005", "C002", "L009", "L010"];

#[derive(Debug, Clone)]
pub struct InspectOptions {
    /// Pods per workload.
    pub limit: usize,
    /// Time between the two counter samples.
    pub interval: Duration,
    /// Bound on each port-forward and admin request.
    pub timeout: Duration,
}

/// A kube client for one mesh and the context it was built from.
#[derive(Clone)]
pub struct Cluster {
    pub context: String,
    pub client: kube::Client,
}

/// A set of pods to inspect: one workload's pods, with the routes they matter for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub mesh: Side,
    pub namespace: String,
    pub selector: BTreeMap<String, String>,
    pub workload: String,
    pub role: ProxyRole,
    pub routes: Vec<String>,
    pub ports: Vec<u32>,
    /// `(port, host)` of the outbound clusters to read (client workloads only).
    pub clusters: Vec<(u32, String)>,
}

/// What the inspection found, and what it could not read (E001).
#[derive(Default)]
pub struct Inspection {
    pub proxies: Vec<ProxyObservation>,
    pub unavailable: Vec<(Side, UnavailableInput)>,
}

/// The pods that matter for the snapshot's routes, one entry per workload.
pub fn plan(snapshot: &Snapshot) -> Vec<Wanted> {
    let cx = Context::new(snapshot);
    let mut wanted = WantedSet::default();
    for route in &cx.routes {
        for w in cx
            .client
            .index
            .workloads_in(&route.client_namespace)
            .filter(|w| {
                !matches!(w.source.object.kind.as_str(), "Pod" | "ReplicaSet")
                    && !w.spec.pod_labels.is_empty()
                    && cx.client.index.has_sidecar(w)
            })
        {
            wanted.merge(Wanted {
                mesh: Side::Client,
                namespace: w.namespace().to_string(),
                selector: w.spec.pod_labels.clone(),
                workload: format!("{} {}/{}", w.source.object.kind, w.namespace(), w.name()),
                role: ProxyRole::ClientWorkload,
                routes: vec![route.id.clone()],
                ports: Vec::new(),
                clusters: vec![(route.port, route.host.clone())],
            });
        }
        if let Some(hop) = &route.gateway {
            // A passthrough gateway forwards the TLS bytes: its listener counts no handshake.
            let terminates = !matches!(hop.tls_mode.as_str(), "AUTO_PASSTHROUGH" | "PASSTHROUGH");
            let port = service_target_port(&snapshot.server, &hop.service, hop.port)
                .filter(|_| terminates);
            for labels in hop.pod_labels.iter().filter(|l| !l.is_empty()) {
                wanted.merge(Wanted {
                    mesh: Side::Server,
                    namespace: hop.workload_namespace.clone(),
                    selector: labels.clone(),
                    workload: format!(
                        "gateway {}/{}",
                        hop.service.object.namespace, hop.service.object.name
                    ),
                    role: ProxyRole::Gateway,
                    routes: vec![route.id.clone()],
                    ports: port.into_iter().collect(),
                    clusters: Vec::new(),
                });
            }
        }
        if let Some(target) = &route.target {
            for pod in target
                .pods
                .iter()
                .filter(|p| p.sidecar && !p.labels.is_empty())
            {
                wanted.merge(Wanted {
                    mesh: Side::Server,
                    namespace: pod.source.object.namespace.clone(),
                    selector: pod.labels.clone(),
                    workload: format!(
                        "{} {}/{}",
                        pod.source.object.kind, pod.source.object.namespace, pod.source.object.name
                    ),
                    role: ProxyRole::Target,
                    routes: vec![route.id.clone()],
                    // Sidecars terminate inbound mTLS on the virtual inbound listener.
                    ports: std::iter::once(INBOUND_PORT)
                        .chain(target.target_port)
                        .collect(),
                    clusters: Vec::new(),
                });
            }
        }
    }
    wanted.list
}

/// The workloads to inspect, each once however many routes it serves.
#[derive(Default)]
struct WantedSet {
    list: Vec<Wanted>,
    index: HashMap<(Side, String, BTreeMap<String, String>, ProxyRole), usize>,
}

impl WantedSet {
    /// Adds `w`, or folds its routes, ports and clusters into the entry for the same pods.
    fn merge(&mut self, w: Wanted) {
        let key = (w.mesh, w.namespace.clone(), w.selector.clone(), w.role);
        match self.index.get(&key).and_then(|&i| self.list.get_mut(i)) {
            Some(existing) => existing.absorb(&w),
            None => {
                self.index.insert(key, self.list.len());
                self.list.push(w);
            }
        }
    }
}

impl Wanted {
    /// Takes on the routes, ports and clusters of another entry for the same pods.
    fn absorb(&mut self, other: &Wanted) {
        extend_distinct(&mut self.routes, &other.routes);
        extend_distinct(&mut self.ports, &other.ports);
        extend_distinct(&mut self.clusters, &other.clusters);
    }
}

fn extend_distinct<T: PartialEq + Clone>(into: &mut Vec<T>, from: &[T]) {
    for item in from {
        if !into.contains(item) {
            into.push(item.clone());
        }
    }
}

/// The container port behind a Service port (the port Envoy's listener binds).
fn service_target_port(mesh: &Mesh, service: &checks::model::Source, port: u32) -> Option<u32> {
    let svc = mesh
        .services
        .iter()
        .find(|s| s.reference() == &service.object)?;
    let p = svc.spec.spec.ports.iter().find(|p| p.port == port)?;
    match &p.target_port {
        Some(checks::model::IntOrString::Int(n)) => Some(*n),
        Some(checks::model::IntOrString::Str(_)) => None,
        None => Some(p.port),
    }
}

/// Inspects every wanted workload's pods (up to `limit` each) in the meshes a cluster is
/// given for.
pub async fn inspect(
    wanted: Vec<Wanted>,
    clusters: &HashMap<Side, Cluster>,
    options: &InspectOptions,
) -> Inspection {
    let mut inspection = Inspection::default();
    let mut jobs = Jobs::default();
    for (cluster, w, pods) in list_pods(wanted, clusters, options).await {
        match pods {
            Ok(pods) => jobs.add(&cluster, &w, pods),
            Err(missing) => inspection.unavailable.push((w.mesh, missing)),
        }
    }
    let results: Vec<Result<ProxyObservation, (Side, UnavailableInput)>> =
        futures::stream::iter(jobs.list)
            .map(|(cluster, w, pod)| async move {
                inspect_pod(&cluster, &w, &pod, options)
                    .await
                    .map_err(|missing| (w.mesh, missing))
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
    for result in results {
        match result {
            Ok(observation) => inspection.proxies.push(observation),
            Err(missing) => inspection.unavailable.push(missing),
        }
    }
    inspection.unavailable = fold_unavailable(inspection.unavailable);
    inspection
}

type Listed = (Cluster, Wanted, Result<Vec<String>, UnavailableInput>);

/// Each wanted workload's running pods, listed concurrently.
async fn list_pods(
    wanted: Vec<Wanted>,
    clusters: &HashMap<Side, Cluster>,
    options: &InspectOptions,
) -> Vec<Listed> {
    futures::stream::iter(
        wanted
            .into_iter()
            .filter_map(|w| clusters.get(&w.mesh).map(|c| (c.clone(), w))),
    )
    .map(|(cluster, w)| async move {
        let pods = running_pods(&cluster, &w, options).await;
        (cluster, w, pods)
    })
    .buffered(CONCURRENCY)
    .collect()
    .await
}

/// The pods to read, each once: a pod two selectors match is read once, for both.
#[derive(Default)]
struct Jobs {
    list: Vec<(Cluster, Wanted, String)>,
    index: HashMap<(Side, String, String), usize>,
}

impl Jobs {
    fn add(&mut self, cluster: &Cluster, w: &Wanted, pods: Vec<String>) {
        for pod in pods {
            let key = (w.mesh, w.namespace.clone(), pod.clone());
            match self.index.get(&key).and_then(|&i| self.list.get_mut(i)) {
                Some((_, existing, _)) => existing.absorb(w),
                None => {
                    self.index.insert(key, self.list.len());
                    self.list.push((cluster.clone(), w.clone(), pod));
                }
            }
        }
    }
}

/// Running pods of a workload that carry an Istio proxy, sorted by name, at most `limit`.
async fn running_pods(
    cluster: &Cluster,
    w: &Wanted,
    options: &InspectOptions,
) -> Result<Vec<String>, UnavailableInput> {
    let pods: kube::Api<Pod> = kube::Api::namespaced(cluster.client.clone(), &w.namespace);
    let selector: Vec<String> = w.selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let params = kube::api::ListParams::default().labels(&selector.join(","));
    let listed = match tokio::time::timeout(options.timeout, pods.list(&params)).await {
        Ok(Ok(list)) => list,
        Ok(Err(kube::Error::Api(status))) if matches!(status.code, 401 | 403) => {
            return Err(unavailable(
                w,
                "pods",
                format!("forbidden: {}", status.message),
                Some(rule("list", "pods", &w.namespace)),
            ));
        }
        Ok(Err(e)) => return Err(unavailable(w, "pods", e.to_string(), None)),
        Err(_) => return Err(unavailable(w, "pods", "timed out".into(), None)),
    };
    let mut names: Vec<String> = listed
        .items
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        // A terminating pod's admin port may vanish mid-read.
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| has_proxy(p))
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    names.sort();
    names.truncate(options.limit);
    Ok(names)
}

/// Whether a pod runs Envoy: an `istio-proxy` container (or native sidecar init container).
fn has_proxy(pod: &Pod) -> bool {
    pod.spec.as_ref().is_some_and(|spec| {
        spec.containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .any(|c| c.name == "istio-proxy")
    })
}

fn rule(verb: &str, resource: &str, namespace: &str) -> RbacRule {
    RbacRule {
        verb: verb.into(),
        resource: resource.into(),
        api_group: String::new(),
        namespace: Some(namespace.into()),
        resource_name: None,
    }
}

fn unavailable(w: &Wanted, what: &str, reason: String, rbac: Option<RbacRule>) -> UnavailableInput {
    UnavailableInput {
        what: format!("{what} of {} ({})", w.workload, w.role.as_str()),
        reason,
        disables: PROXY_CHECKS
            .iter()
            .map(|c| format!("{c} on running proxies"))
            .collect(),
        rbac,
        optional: false,
    }
}

/// One finding per (mesh, RBAC rule or reason) rather than one per pod.
fn fold_unavailable(list: Vec<(Side, UnavailableInput)>) -> Vec<(Side, UnavailableInput)> {
    let mut out: Vec<(Side, UnavailableInput)> = Vec::new();
    for (side, missing) in list {
        match out.iter_mut().find(|(s, m)| {
            *s == side
                && m.rbac == missing.rbac
                && m.reason == missing.reason
                && missing.rbac.is_some()
        }) {
            Some((_, existing)) => {
                existing.what = format!("{}, {}", existing.what, missing.what);
            }
            None => out.push((side, missing)),
        }
    }
    out
}

/// Port-forward to one pod's admin port and read it.
async fn inspect_pod(
    cluster: &Cluster,
    w: &Wanted,
    pod: &str,
    options: &InspectOptions,
) -> Result<ProxyObservation, UnavailableInput> {
    let what = |reason: String, rbac: Option<RbacRule>| UnavailableInput {
        what: format!(
            "the Envoy admin port of pod {}/{pod} ({})",
            w.namespace,
            w.role.as_str()
        ),
        reason,
        disables: PROXY_CHECKS
            .iter()
            .map(|c| format!("{c} on this proxy"))
            .collect(),
        rbac,
        optional: false,
    };
    let tunnel = AdminTunnel::open(cluster, &w.namespace, pod, options.timeout)
        .await
        .map_err(|e| match e {
            TunnelError::Forbidden(message) => what(
                format!("forbidden: {message}"),
                Some(rule("create", "pods/portforward", &w.namespace)),
            ),
            TunnelError::Other(message) => what(message, None),
        })?;
    let admin = Admin::new(tunnel.addr, options.timeout).map_err(|e| what(e, None))?;
    let state = read_state(&admin, w, options)
        .await
        .map_err(|e| what(tunnel.explain(e), None))?;
    Ok(ProxyObservation {
        mesh: w.mesh,
        context: cluster.context.clone(),
        namespace: w.namespace.clone(),
        pod: pod.to_string(),
        role: w.role,
        workload: w.workload.clone(),
        routes: w.routes.clone(),
        ports: w.ports.clone(),
        state,
    })
}

/// Counters, certificates, clusters, counters again.
async fn read_state(
    admin: &Admin,
    w: &Wanted,
    options: &InspectOptions,
) -> Result<ProxyState, String> {
    let started = Instant::now();
    let first = envoy::ssl_counters(&admin.text("/stats?filter=ssl").await?);
    let certs = admin.json("/certs").await?;
    let (roots, certificates) = envoy::certificates(&certs).map_err(|e| format!("/certs: {e}"))?;
    let clusters = if w.clusters.is_empty() {
        Vec::new()
    } else {
        let dump = admin
            .json("/config_dump?resource=dynamic_active_clusters")
            .await?;
        envoy::clusters(&dump, |name| {
            w.clusters
                .iter()
                .any(|(port, host)| is_route_cluster(name, *port, host))
        })
    };
    let elapsed = started.elapsed();
    if elapsed < options.interval {
        tokio::time::sleep(options.interval - elapsed).await;
    }
    let second = envoy::ssl_counters(&admin.text("/stats?filter=ssl").await?);
    let keep = |(scope, owner, _, _): &(CounterScope, String, String, u64)| match scope {
        CounterScope::Cluster => w
            .clusters
            .iter()
            .any(|(port, host)| is_route_cluster(owner, *port, host)),
        CounterScope::Listener => w.ports.iter().any(|p| owner.ends_with(&format!("_{p}"))),
    };
    let first: Vec<_> = first.into_iter().filter(|c| keep(c)).collect();
    let second: Vec<_> = second.into_iter().filter(|c| keep(c)).collect();
    // Something to count only where this proxy originates or terminates the routes' TLS.
    let expects_counters = !w.clusters.is_empty() || !w.ports.is_empty();
    Ok(ProxyState {
        roots,
        certificates,
        clusters,
        ssl_stats_exposed: expects_counters.then_some(!second.is_empty()),
        counters: envoy::counters_between(&first, &second),
        sample_millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// `outbound|PORT|SUBSET|HOST`, any subset.
pub fn is_route_cluster(name: &str, port: u32, host: &str) -> bool {
    let mut parts = name.split('|');
    parts.next() == Some("outbound")
        && parts.next() == Some(port.to_string().as_str())
        && parts.next().is_some()
        && parts.next() == Some(host)
        && parts.next().is_none()
}

/// A plain-HTTP client for one admin port behind a tunnel: GET only, bounded bodies.
struct Admin {
    http: reqwest::Client,
    base: String,
}

impl Admin {
    fn new(addr: SocketAddr, timeout: Duration) -> Result<Admin, String> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Admin {
            http,
            base: format!("http://{addr}"),
        })
    }

    async fn get(&self, path: &str) -> Result<Vec<u8>, String> {
        if !ADMIN_READS.iter().any(|p| path.starts_with(p)) {
            return Err(format!("{path} is not a read-only admin endpoint"));
        }
        let mut response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|e| format!("GET {path}: {}", error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(format!("GET {path}: HTTP {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("GET {path}: {}", error_chain(&e)))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(format!("GET {path}: larger than {} MiB", MAX_BODY >> 20));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    async fn text(&self, path: &str) -> Result<String, String> {
        Ok(String::from_utf8_lossy(&self.get(path).await?).into_owned())
    }

    async fn json(&self, path: &str) -> Result<Value, String> {
        let body = self.get(path).await?;
        serde_json::from_slice(&body).map_err(|e| format!("GET {path}: not JSON ({e})"))
    }
}

/// reqwest's error with its sources (the useful part is usually the innermost).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

enum TunnelError {
    Forbidden(String),
    Other(String),
}

/// A local listener that forwards each accepted connection into a new `pods/portforward`
/// stream to the pod's admin port. The first port-forward is opened before listening, so a
/// missing permission is reported as such rather than as a failed HTTP request.
struct AdminTunnel {
    addr: SocketAddr,
    /// What the API server said on the port-forward's error channel (e.g. connection refused).
    remote_error: Arc<Mutex<Option<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AdminTunnel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl AdminTunnel {
    async fn open(
        cluster: &Cluster,
        namespace: &str,
        pod: &str,
        timeout: Duration,
    ) -> Result<AdminTunnel, TunnelError> {
        let pods: kube::Api<Pod> = kube::Api::namespaced(cluster.client.clone(), namespace);
        let first = forward(&pods, pod, timeout).await?;
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| TunnelError::Other(format!("cannot listen on 127.0.0.1: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| TunnelError::Other(e.to_string()))?;
        let remote_error = Arc::new(Mutex::new(None));
        let errors = remote_error.clone();
        let pod = pod.to_string();
        let task = tokio::spawn(async move {
            let mut ready = Some(first);
            while let Ok((tcp, _)) = listener.accept().await {
                let forwarder = match ready.take() {
                    Some(f) => f,
                    None => match forward(&pods, &pod, timeout).await {
                        Ok(f) => f,
                        Err(TunnelError::Forbidden(m) | TunnelError::Other(m)) => {
                            remember(&errors, m);
                            continue;
                        }
                    },
                };
                tokio::spawn(pipe(tcp, forwarder, errors.clone()));
            }
        });
        Ok(AdminTunnel {
            addr,
            remote_error,
            task,
        })
    }

    /// An HTTP error, with what the port-forward said when it said something.
    fn explain(&self, error: String) -> String {
        match self.remote_error.lock().ok().and_then(|e| e.clone()) {
            Some(remote) => format!("admin port {ADMIN_PORT} unreachable: {remote} ({error})"),
            None => error,
        }
    }
}

fn remember(slot: &Mutex<Option<String>>, message: String) {
    if let Ok(mut s) = slot.lock() {
        s.get_or_insert(message);
    }
}

async fn forward(
    pods: &kube::Api<Pod>,
    pod: &str,
    timeout: Duration,
) -> Result<kube::api::Portforwarder, TunnelError> {
    match tokio::time::timeout(timeout, pods.portforward(pod, &[ADMIN_PORT])).await {
        Ok(Ok(f)) => Ok(f),
        Ok(Err(kube::Error::Api(status))) if matches!(status.code, 401 | 403) => {
            Err(TunnelError::Forbidden(status.message))
        }
        Ok(Err(e)) => Err(TunnelError::Other(format!("port-forward to {pod}: {e}"))),
        Err(_) => Err(TunnelError::Other(format!(
            "port-forward to {pod}: timed out"
        ))),
    }
}

/// Copies bytes both ways between a local connection and a port-forward stream.
async fn pipe(
    mut tcp: tokio::net::TcpStream,
    mut forwarder: kube::api::Portforwarder,
    errors: Arc<Mutex<Option<String>>>,
) {
    if let Some(error) = forwarder.take_error(ADMIN_PORT) {
        let errors = errors.clone();
        tokio::spawn(async move {
            if let Some(message) = error.await {
                remember(&errors, message);
            }
        });
    }
    if let Some(mut stream) = forwarder.take_stream(ADMIN_PORT) {
        let _ = tokio::io::copy_bidirectional(&mut tcp, &mut stream).await;
    }
    forwarder.abort();
}
