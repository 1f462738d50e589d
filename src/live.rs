//! Reading a mesh from a live cluster: the same objects the offline path reads, read-only.
//!
//! Every kind is listed across all namespaces with pagination, kinds are fetched concurrently
//! (bounded), each request has its own timeout and the whole collection an overall one. Only
//! GET requests are ever sent. Secrets are not listed: only those the checks use are fetched
//! by name, and they are redacted (`redact`) the moment they arrive.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use checks::model::{Origin, RawObject, RbacRule, UnavailableInput};
use futures::StreamExt;
use kube::Client;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use serde_json::Value;

use checks::redact::redact_secret;

/// Kinds fetched at once per cluster.
const CONCURRENCY: usize = 6;
/// Page size for list requests.
const PAGE_SIZE: u32 = 500;

/// Where and how to collect.
#[derive(Debug, Clone)]
pub struct LiveTarget {
    pub context: String,
    pub kubeconfig: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Overall bound for one cluster.
    pub timeout: Duration,
    /// Log every request and its duration on stderr.
    pub verbose: bool,
    /// Keep the CA Secrets' certificate and key (in memory) to mint probe identities.
    pub capture_signing: bool,
}

/// What a cluster gave.
#[derive(Debug, Default)]
pub struct Collected {
    pub context: String,
    pub server: String,
    pub objects: Vec<RawObject>,
    pub unavailable: Vec<UnavailableInput>,
    /// CA material kept for probes (only with `capture_signing`).
    pub signing: Vec<crate::probe::SigningCa>,
}

/// One kind the tool reads, and the checks that depend on it.
struct KindSpec {
    group: &'static str,
    /// Served versions in order of preference.
    versions: &'static [&'static str],
    kind: &'static str,
    plural: &'static str,
    /// Restricts the list (e.g. only the ConfigMaps istiod publishes).
    field_selector: Option<&'static str>,
    label_selector: Option<&'static str>,
    feeds: &'static str,
    /// Missing it does not make a run inconclusive.
    optional: bool,
}

const ISTIO_NETWORKING: &[&str] = &["v1", "v1beta1", "v1alpha3"];
const ISTIO_SECURITY: &[&str] = &["v1", "v1beta1"];

const KINDS: &[KindSpec] = &[
    KindSpec {
        group: "",
        versions: &["v1"],
        kind: "Namespace",
        plural: "namespaces",
        field_selector: None,
        label_selector: None,
        feeds: "G004, N001, sidecar injection",
        optional: false,
    },
    KindSpec {
        group: "",
        versions: &["v1"],
        kind: "Service",
        plural: "services",
        field_selector: None,
        label_selector: None,
        feeds: "route discovery, G001, G002, G007",
        optional: false,
    },
    KindSpec {
        group: "",
        versions: &["v1"],
        kind: "ConfigMap",
        plural: "configmaps",
        field_selector: Some("metadata.name=istio-ca-root-cert"),
        label_selector: None,
        feeds: "T001, T002, T008, T009",
        optional: false,
    },
    KindSpec {
        group: "apps",
        versions: &["v1"],
        kind: "Deployment",
        plural: "deployments",
        field_selector: None,
        label_selector: None,
        feeds: "identities, istiod flags, I003, G004, S001, S002, V001",
        optional: false,
    },
    KindSpec {
        group: "apps",
        versions: &["v1"],
        kind: "StatefulSet",
        plural: "statefulsets",
        field_selector: None,
        label_selector: None,
        feeds: "identities",
        optional: false,
    },
    KindSpec {
        group: "apps",
        versions: &["v1"],
        kind: "DaemonSet",
        plural: "daemonsets",
        field_selector: None,
        label_selector: None,
        feeds: "identities",
        optional: false,
    },
    KindSpec {
        group: "",
        versions: &["v1"],
        kind: "Secret",
        plural: "secrets",
        field_selector: None,
        label_selector: Some("istio/multiCluster=true"),
        feeds: "multi-primary routes",
        optional: true,
    },
    KindSpec {
        group: "networking.istio.io",
        versions: ISTIO_NETWORKING,
        kind: "Gateway",
        plural: "gateways",
        field_selector: None,
        label_selector: None,
        feeds: "G001-G009, topology",
        optional: false,
    },
    KindSpec {
        group: "networking.istio.io",
        versions: ISTIO_NETWORKING,
        kind: "VirtualService",
        plural: "virtualservices",
        field_selector: None,
        label_selector: None,
        feeds: "G002, G009",
        optional: false,
    },
    KindSpec {
        group: "networking.istio.io",
        versions: ISTIO_NETWORKING,
        kind: "DestinationRule",
        plural: "destinationrules",
        field_selector: None,
        label_selector: None,
        feeds: "R002, R003, R006, R007, I002, G002",
        optional: false,
    },
    KindSpec {
        group: "networking.istio.io",
        versions: ISTIO_NETWORKING,
        kind: "ServiceEntry",
        plural: "serviceentries",
        field_selector: None,
        label_selector: None,
        feeds: "route discovery, R001, R005",
        optional: false,
    },
    KindSpec {
        group: "networking.istio.io",
        versions: ISTIO_NETWORKING,
        kind: "Sidecar",
        plural: "sidecars",
        field_selector: None,
        label_selector: None,
        feeds: "R004",
        optional: false,
    },
    KindSpec {
        group: "networking.istio.io",
        versions: ISTIO_NETWORKING,
        kind: "WorkloadEntry",
        plural: "workloadentries",
        field_selector: None,
        label_selector: None,
        feeds: "registry",
        optional: false,
    },
    KindSpec {
        group: "security.istio.io",
        versions: ISTIO_SECURITY,
        kind: "PeerAuthentication",
        plural: "peerauthentications",
        field_selector: None,
        label_selector: None,
        feeds: "S001",
        optional: false,
    },
    KindSpec {
        group: "security.istio.io",
        versions: ISTIO_SECURITY,
        kind: "AuthorizationPolicy",
        plural: "authorizationpolicies",
        field_selector: None,
        label_selector: None,
        feeds: "I003",
        optional: false,
    },
];

/// Every (API group, resource) the collector lists, for documentation and its test.
pub fn listed_resources() -> Vec<(&'static str, &'static str)> {
    KINDS.iter().map(|k| (k.group, k.plural)).collect()
}

/// Checks that need the CA Secrets.
const CA_SECRET_CHECKS: &str = "T001, T002, T004, T005, T007, T009, C001-C005";

/// Collects one cluster. Never fails: what cannot be read becomes `unavailable` (E001).
pub async fn collect(target: &LiveTarget, options: &Options) -> Collected {
    let started = Instant::now();
    let mut collected = Collected {
        context: target.context.clone(),
        ..Collected::default()
    };
    let client = match connect(target, options).await {
        Ok((client, server)) => {
            collected.server = server;
            client
        }
        Err(reason) => {
            collected
                .unavailable
                .push(cluster_unavailable(&target.context, reason));
            return collected;
        }
    };
    let session = Session {
        client,
        context: target.context.clone(),
        verbose: options.verbose,
        capture_signing: options.capture_signing,
    };
    match tokio::time::timeout(options.timeout, collect_all(&session, &mut collected)).await {
        Ok(()) => {}
        Err(_) => collected.unavailable.push(cluster_unavailable(
            &target.context,
            format!(
                "collection did not finish within --timeout {}s",
                options.timeout.as_secs()
            ),
        )),
    }
    if options.verbose {
        eprintln!(
            "[{}] collected {} objects in {} ms",
            target.context,
            collected.objects.len(),
            started.elapsed().as_millis()
        );
    }
    collected
}

fn cluster_unavailable(context: &str, reason: String) -> UnavailableInput {
    unavailable(
        format!("cluster `{context}`"),
        reason,
        "every check of this mesh",
    )
}

fn unavailable(what: String, reason: String, disables: &str) -> UnavailableInput {
    UnavailableInput {
        what,
        reason,
        disables: vec![disables.to_string()],
        rbac: None,
        optional: false,
    }
}

/// A 401/403: the message, and the rule that would allow the request.
fn forbidden(what: String, message: &str, rule: RbacRule, disables: &str) -> UnavailableInput {
    UnavailableInput {
        reason: format!("forbidden: {message}; needs RBAC {}", rule.describe()),
        rbac: Some(rule),
        ..unavailable(what, String::new(), disables)
    }
}

fn get_rule(resource: &str, namespace: &str, name: &str) -> RbacRule {
    RbacRule {
        verb: "get".into(),
        resource: resource.into(),
        api_group: String::new(),
        namespace: Some(namespace.into()),
        resource_name: Some(name.into()),
    }
}

/// A client for a kubeconfig context (for port-forwards).
pub async fn client(target: &LiveTarget, options: &Options) -> Result<Client, String> {
    connect(target, options).await.map(|(client, _)| client)
}

async fn connect(target: &LiveTarget, options: &Options) -> Result<(Client, String), String> {
    let kubeconfig = match &target.kubeconfig {
        Some(path) => Kubeconfig::read_from(path),
        None => Kubeconfig::read(),
    }
    .map_err(|e| format!("cannot read kubeconfig: {e}"))?;
    let kube_options = KubeConfigOptions {
        context: Some(target.context.clone()),
        ..KubeConfigOptions::default()
    };
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &kube_options)
        .await
        .map_err(|e| format!("context `{}`: {e}", target.context))?;
    let per_request = options.timeout.min(Duration::from_secs(10));
    config.connect_timeout = Some(per_request);
    config.read_timeout = Some(per_request);
    config.write_timeout = Some(per_request);
    let server = config.cluster_url.to_string();
    let client =
        Client::try_from(config).map_err(|e| format!("context `{}`: {e}", target.context))?;
    Ok((client, server))
}

/// A connected cluster.
struct Session {
    client: Client,
    context: String,
    verbose: bool,
    capture_signing: bool,
}

/// How a GET failed.
enum Failure {
    /// 401/403 with the server's message.
    Forbidden(String),
    NotFound,
    /// Anything else: connection, TLS, timeout, 5xx, bad body.
    Other(String),
}

impl Session {
    /// One GET, logged when verbose. Only GET is ever sent.
    async fn get(&self, path: &str) -> Result<Value, Failure> {
        let started = Instant::now();
        let request = http::Request::get(path)
            .body(Vec::new())
            .map_err(|e| Failure::Other(e.to_string()))?;
        let result = self.client.request_text(request).await;
        if self.verbose {
            let outcome = match &result {
                Ok(_) => "ok".to_string(),
                Err(kube::Error::Api(s)) => format!("{} {}", s.code, s.reason),
                Err(e) => format!("error: {e}"),
            };
            eprintln!(
                "[{}] GET {path} → {outcome} ({} ms)",
                self.context,
                started.elapsed().as_millis()
            );
        }
        match result {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| Failure::Other(format!("invalid JSON from {path}: {e}"))),
            Err(kube::Error::Api(status)) => Err(match status.code {
                401 | 403 => Failure::Forbidden(status.message.clone()),
                404 => Failure::NotFound,
                code => {
                    Failure::Other(format!("HTTP {code} {}: {}", status.reason, status.message))
                }
            }),
            Err(e) => Err(Failure::Other(e.to_string())),
        }
    }

    /// Lists a resource across all namespaces (or in one), following `continue` tokens.
    async fn list(
        &self,
        base: &str,
        spec: &KindSpec,
        api_version: &str,
    ) -> Result<Vec<Value>, Failure> {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![format!("limit={PAGE_SIZE}")];
            if let Some(f) = spec.field_selector {
                query.push(format!("fieldSelector={}", encode(f)));
            }
            if let Some(l) = spec.label_selector {
                query.push(format!("labelSelector={}", encode(l)));
            }
            if let Some(t) = &token {
                query.push(format!("continue={}", encode(t)));
            }
            let page = self.get(&format!("{base}?{}", query.join("&"))).await?;
            let Value::Object(mut page) = page else {
                return Err(Failure::Other(format!("{base}: not a list")));
            };
            if let Some(Value::Array(page_items)) = page.remove("items") {
                items.extend(page_items.into_iter().map(|mut item| {
                    set_type(&mut item, api_version, spec.kind);
                    item
                }));
            }
            token = page
                .get("metadata")
                .and_then(|m| m.get("continue"))
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                return Ok(items);
            }
        }
    }
}

/// List items come without `apiVersion` and `kind`; the model needs them.
fn set_type(item: &mut Value, api_version: &str, kind: &str) {
    if let Some(map) = item.as_object_mut() {
        map.entry("apiVersion")
            .or_insert_with(|| Value::String(api_version.to_string()));
        map.entry("kind")
            .or_insert_with(|| Value::String(kind.to_string()));
    }
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn collect_all(session: &Session, collected: &mut Collected) {
    let served = match served_versions(session).await {
        Ok(served) => served,
        Err(reason) => {
            collected
                .unavailable
                .push(cluster_unavailable(&session.context, reason));
            return;
        }
    };
    let progress = Progress::new(&session.context, KINDS.len(), session.verbose);
    let results: Vec<(&KindSpec, Result<Listed, Failure>)> = futures::stream::iter(KINDS)
        .map(|spec| {
            let served = &served;
            let progress = &progress;
            async move {
                let result = list_kind(session, spec, served).await;
                progress.tick();
                (spec, result)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    progress.finish();
    for (spec, result) in results {
        match result {
            Ok((_, items)) => collected
                .objects
                .extend(items.into_iter().map(|body| raw(session, body))),
            Err(failure) => collected
                .unavailable
                .push(kind_unavailable(spec, failure, &served)),
        }
    }
    for object in &mut collected.objects {
        if object.kind() == "Secret" {
            redact_secret(&mut object.body);
        }
    }
    let secrets = wanted_secrets(&collected.objects);
    let fetched: Vec<_> = futures::stream::iter(secrets)
        .map(|(ns, name, required)| async move {
            let result = session
                .get(&format!("/api/v1/namespaces/{ns}/secrets/{name}"))
                .await;
            (ns, name, required, result)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (ns, name, required, result) in fetched {
        let disables = if required {
            CA_SECRET_CHECKS
        } else {
            "G005, T001, T002 for routes through this gateway credential"
        };
        match result {
            Ok(mut body) => {
                set_type(&mut body, "v1", "Secret");
                if session.capture_signing
                    && let Some(ca) = crate::probe::SigningCa::from_secret(&body)
                {
                    collected.signing.push(ca);
                }
                redact_secret(&mut body);
                collected.objects.push(raw(session, body));
            }
            Err(Failure::NotFound) => {} // Absent Secrets are facts the checks judge (T007, G005).
            Err(Failure::Forbidden(message)) => collected.unavailable.push(forbidden(
                format!("Secret {ns}/{name}"),
                &message,
                get_rule("secrets", &ns, &name),
                disables,
            )),
            Err(Failure::Other(reason)) => collected.unavailable.push(unavailable(
                format!("Secret {ns}/{name}"),
                reason,
                disables,
            )),
        }
    }
    let istio_config = collected
        .objects
        .iter()
        .any(|o| o.kind() == "ConfigMap" && o.body["metadata"]["name"] == "istio");
    if !istio_config {
        // The mesh config lives in the control plane's namespace: one more GET.
        let ns = control_plane_namespace(&collected.objects);
        match session
            .get(&format!("/api/v1/namespaces/{ns}/configmaps/istio"))
            .await
        {
            Ok(mut body) => {
                set_type(&mut body, "v1", "ConfigMap");
                collected.objects.push(raw(session, body));
            }
            Err(Failure::NotFound) => {}
            Err(Failure::Forbidden(message)) => collected.unavailable.push(forbidden(
                format!("ConfigMap {ns}/istio"),
                &message,
                get_rule("configmaps", &ns, "istio"),
                "every check that reads the mesh config (trust domain, caCertificates)",
            )),
            Err(Failure::Other(reason)) => collected.unavailable.push(unavailable(
                format!("ConfigMap {ns}/istio"),
                reason,
                "every check that reads the mesh config (trust domain, caCertificates)",
            )),
        }
    }
}

fn raw(session: &Session, body: Value) -> RawObject {
    RawObject::new(
        body,
        Origin::Cluster {
            context: session.context.clone(),
        },
    )
}

/// A listed kind: its served `apiVersion` and its items.
type Listed = (String, Vec<Value>);

/// Lists one kind at the first served version.
async fn list_kind(
    session: &Session,
    spec: &KindSpec,
    served: &BTreeSet<String>,
) -> Result<Listed, Failure> {
    let version = spec
        .versions
        .iter()
        .find(|v| served.contains(&group_version(spec.group, v)))
        .ok_or(Failure::NotFound)?;
    let api_version = group_version(spec.group, version);
    let base = if spec.group.is_empty() {
        format!("/api/{version}/{}", spec.plural)
    } else {
        format!("/apis/{api_version}/{}", spec.plural)
    };
    session
        .list(&base, spec, &api_version)
        .await
        .map(|items| (api_version, items))
}

fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// Every `group/version` the API server serves (legacy discovery).
async fn served_versions(session: &Session) -> Result<BTreeSet<String>, String> {
    let mut served = BTreeSet::new();
    let describe = |f: Failure| match f {
        Failure::Forbidden(m) => format!("discovery forbidden: {m}"),
        Failure::NotFound => "discovery endpoint not found".to_string(),
        Failure::Other(m) => m,
    };
    let core = session.get("/api").await.map_err(describe)?;
    for v in core["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        served.insert(v.to_string());
    }
    let groups = session.get("/apis").await.map_err(describe)?;
    for group in groups["groups"].as_array().into_iter().flatten() {
        for v in group["versions"].as_array().into_iter().flatten() {
            if let Some(gv) = v["groupVersion"].as_str() {
                served.insert(gv.to_string());
            }
        }
    }
    Ok(served)
}

fn kind_unavailable(
    spec: &KindSpec,
    failure: Failure,
    served: &BTreeSet<String>,
) -> UnavailableInput {
    let what = format!(
        "{} ({})",
        spec.plural,
        if spec.group.is_empty() {
            "core"
        } else {
            spec.group
        }
    );
    let mut entry = match failure {
        Failure::Forbidden(message) => forbidden(
            what,
            &message,
            RbacRule {
                verb: "list".into(),
                resource: spec.plural.into(),
                api_group: spec.group.into(),
                namespace: None,
                resource_name: None,
            },
            spec.feeds,
        ),
        Failure::NotFound
            if !spec.group.is_empty()
                && !served
                    .iter()
                    .any(|gv| gv.starts_with(&format!("{}/", spec.group))) =>
        {
            unavailable(
                what,
                format!(
                    "API group {} is not served: Istio not installed or its CRDs are absent",
                    spec.group
                ),
                spec.feeds,
            )
        }
        Failure::NotFound => unavailable(
            what,
            format!(
                "none of the versions {:?} of {} is served",
                spec.versions, spec.plural
            ),
            spec.feeds,
        ),
        Failure::Other(reason) => unavailable(what, reason, spec.feeds),
    };
    entry.optional = spec.optional;
    entry
}

/// The namespace istiod runs in (default `istio-system`).
fn control_plane_namespace(objects: &[RawObject]) -> String {
    objects
        .iter()
        .filter(|o| o.kind() == "Deployment")
        .find(|o| {
            o.body["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n == "istiod" || n.starts_with("istiod-"))
        })
        .and_then(|o| o.body["metadata"]["namespace"].as_str())
        .unwrap_or("istio-system")
        .to_string()
}

/// The Secrets the checks use, fetched by name: the CA Secrets, and the credentials of
/// Gateway servers (in the namespaces of the gateway pods) with their `-cacert` companions.
/// The flag says whether the Secret is required (CA material) or optional.
fn wanted_secrets(objects: &[RawObject]) -> Vec<(String, String, bool)> {
    let system = control_plane_namespace(objects);
    let mut wanted: BTreeSet<(String, String, bool)> = BTreeSet::new();
    wanted.insert((system.clone(), "cacerts".into(), true));
    wanted.insert((system, "istio-ca-secret".into(), true));
    let workloads: Vec<(&str, &Value)> = objects
        .iter()
        .filter(|o| matches!(o.kind(), "Deployment" | "StatefulSet" | "DaemonSet"))
        .map(|o| {
            (
                o.body["metadata"]["namespace"].as_str().unwrap_or(""),
                &o.body["spec"]["template"]["metadata"]["labels"],
            )
        })
        .collect();
    for gateway in objects.iter().filter(|o| o.kind() == "Gateway") {
        let selector = &gateway.body["spec"]["selector"];
        let Some(selector) = selector.as_object().filter(|s| !s.is_empty()) else {
            continue;
        };
        let namespaces: BTreeSet<&str> = workloads
            .iter()
            .filter(|(_, labels)| selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
            .map(|(ns, _)| *ns)
            .collect();
        for server in gateway.body["spec"]["servers"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let Some(name) = server["tls"]["credentialName"]
                .as_str()
                .filter(|n| !n.is_empty())
            else {
                continue;
            };
            for ns in &namespaces {
                wanted.insert((ns.to_string(), name.to_string(), false));
                wanted.insert((ns.to_string(), format!("{name}-cacert"), false));
            }
        }
    }
    wanted.into_iter().collect()
}

/// A one-line progress indicator on stderr, only on a terminal and when not verbose.
struct Progress {
    context: String,
    total: usize,
    done: AtomicUsize,
    enabled: bool,
}

impl Progress {
    fn new(context: &str, total: usize, verbose: bool) -> Progress {
        Progress {
            context: context.to_string(),
            total,
            done: AtomicUsize::new(0),
            enabled: !verbose && std::io::stderr().is_terminal(),
        }
    }

    fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if self.enabled {
            eprint!(
                "\r\x1b[2Kcollecting {}: {done}/{} kinds",
                self.context, self.total
            );
        }
    }

    fn finish(&self) {
        if self.enabled {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Collects several clusters concurrently.
pub async fn collect_many(targets: Vec<LiveTarget>, options: Options) -> Vec<Collected> {
    futures::future::join_all(targets.iter().map(|t| collect(t, &options))).await
}
