//! An HTTPS fake Kubernetes API server, so that `kube` runs for real over TLS.
//!
//! It serves fixture objects with legacy discovery (`/api`, `/apis`), list (with `limit` /
//! `continue` pagination and field/label selectors) and get, checks a bearer token, can answer
//! 403 or 404 or slowly on demand, and records every request.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path_and_query: String,
}

/// How the fake misbehaves.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Resources (plural, e.g. `secrets`) answered with 403.
    pub forbidden: Vec<String>,
    /// API groups that are not served (404 page not found), e.g. `networking.istio.io`.
    pub missing_groups: Vec<String>,
    /// Delay before every response.
    pub delay: Option<Duration>,
    /// Largest page the server returns whatever `limit` asks (forces pagination).
    pub max_page: usize,
    /// Where `pods/portforward` connects (every pod, every port); `None`: no port-forward.
    pub port_forward_to: Option<SocketAddr>,
    /// Per pod (by name): where its port-forward connects, before `port_forward_to`.
    pub port_forward_pods: Vec<(String, SocketAddr)>,
    /// Resources (plural) answered with invalid JSON.
    pub invalid_json: Vec<String>,
    /// Resources (plural) answered with HTTP 500.
    pub server_error: Vec<String>,
}

/// Fake `Deployment` objects to serve besides the fixture objects (a huge list).
pub fn many_deployments(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": format!("d{i}"), "namespace": "bulk"},
                   "spec": {"template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}}})
        })
        .collect()
}

/// The resource (plural) a kind is served as.
fn plural_of(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Namespace" => "namespaces",
        "Service" => "services",
        "Pod" => "pods",
        "ConfigMap" => "configmaps",
        "Secret" => "secrets",
        "ServiceAccount" => "serviceaccounts",
        "Deployment" => "deployments",
        "StatefulSet" => "statefulsets",
        "DaemonSet" => "daemonsets",
        "Gateway" => "gateways",
        "VirtualService" => "virtualservices",
        "DestinationRule" => "destinationrules",
        "ServiceEntry" => "serviceentries",
        "Sidecar" => "sidecars",
        "WorkloadEntry" => "workloadentries",
        "PeerAuthentication" => "peerauthentications",
        "AuthorizationPolicy" => "authorizationpolicies",
        _ => return None,
    })
}

struct State {
    token: String,
    behaviour: Behaviour,
    /// plural → objects
    objects: BTreeMap<String, Vec<Value>>,
    requests: Mutex<Vec<Recorded>>,
}

/// A running fake API server.
pub struct FakeApi {
    pub addr: SocketAddr,
    pub token: String,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The TLS identity shared by every fake server of a test: a CA and a server certificate
/// for `localhost` and 127.0.0.1.
pub struct Pki {
    pub ca_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

impl Pki {
    pub fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("ca cert");
        let key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_string()]).expect("server params");
        params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().expect("ip")));
        let cert = params
            .signed_by(&key, &Issuer::from_params(&ca_params, &ca_key))
            .expect("server cert");
        Pki {
            ca_pem: ca.pem(),
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        }
    }
}

impl FakeApi {
    /// Serves the objects of the YAML files under `dir`.
    pub async fn start(pki: &Pki, dir: &Path, behaviour: Behaviour) -> FakeApi {
        FakeApi::start_with(pki, dir, behaviour, Vec::new()).await
    }

    /// Serves the objects under `dir` plus `extra` objects.
    pub async fn start_with(
        pki: &Pki,
        dir: &Path,
        behaviour: Behaviour,
        extra: Vec<Value>,
    ) -> FakeApi {
        let mut objects = load_objects(dir);
        for object in extra {
            if let Some(plural) = object["kind"].as_str().and_then(plural_of) {
                objects.entry(plural.to_string()).or_default().push(object);
            }
        }
        let token = format!("token-{}", std::process::id());
        let state = Arc::new(State {
            token: token.clone(),
            behaviour,
            objects,
            requests: Mutex::new(Vec::new()),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let acceptor = tls_acceptor(pki);
        let task_state = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let state = task_state.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        FakeApi {
            addr,
            token,
            state,
            task,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }
}

fn tls_acceptor(pki: &Pki) -> TlsAcceptor {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(pki.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key_der.clone())),
        )
        .expect("server config");
    TlsAcceptor::from(Arc::new(config))
}

/// Reads every YAML document under `dir`, as the API server would store it: `stringData`
/// folded into base64 `data`.
fn load_objects(dir: &Path) -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for doc in checks::yaml::decode(&text, checks::yaml::Budget::default()).documents {
            let mut value = doc.value;
            let Some(plural) = value["kind"].as_str().and_then(plural_of) else {
                continue;
            };
            fold_string_data(&mut value);
            if plural == "deployments" {
                let replicas = value["spec"]["replicas"].as_u64().unwrap_or(1).min(10);
                for i in 0..replicas {
                    out.entry("pods".into())
                        .or_default()
                        .push(pod_of(&value, i));
                }
            }
            out.entry(plural.to_string()).or_default().push(value);
        }
    }
    out
}

/// Running pod `index` of a Deployment, as the cluster would have it: with the `istio-proxy`
/// container the injector adds, unless the template opts out.
fn pod_of(deployment: &Value, index: u64) -> Value {
    let meta = &deployment["metadata"];
    let template = &deployment["spec"]["template"];
    let mut spec = template["spec"].clone();
    let opted_out = template["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false"
        || template["metadata"]["labels"]["sidecar.istio.io/inject"] == "false";
    if let Some(containers) = spec["containers"].as_array_mut()
        && !opted_out
        && !containers.iter().any(|c| c["name"] == "istio-proxy")
    {
        containers.push(json!({"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.24.2"}));
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("{}-{index}", meta["name"].as_str().unwrap_or("pod")),
            "namespace": meta["namespace"],
            "labels": template["metadata"]["labels"],
        },
        "spec": spec,
        "status": {"phase": "Running"},
    })
}

fn fold_string_data(value: &mut Value) {
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    let Some(Value::Object(string_data)) = obj.remove("stringData") else {
        return;
    };
    let data = obj.entry("data").or_insert_with(|| json!({}));
    for (k, v) in string_data {
        data[k] = Value::String(STANDARD.encode(v.as_str().unwrap_or_default()));
    }
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().to_string();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    if let Ok(mut r) = state.requests.lock() {
        r.push(Recorded {
            method: method.clone(),
            path_and_query: path_and_query.clone(),
        });
    }
    if let Some(delay) = state.behaviour.delay {
        tokio::time::sleep(delay).await;
    }
    let authorized = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h == format!("Bearer {}", state.token));
    if authorized && method == "GET" && req.uri().path().ends_with("/portforward") {
        return Ok(port_forward(&state, req));
    }
    // Drain the body: a read-only client sends none.
    let _ = req.into_body().collect().await;
    if !authorized {
        return Ok(status(401, "Unauthorized", "no valid bearer token"));
    }
    if method != "GET" {
        return Ok(status(
            405,
            "MethodNotAllowed",
            "the fake API server only serves GET",
        ));
    }
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((&path_and_query, ""));
    Ok(route(&state, path, &parse_query(query)))
}

fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect()
}

fn percent_decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        if bytes[i] == b'%'
            && let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn route(state: &State, path: &str, query: &BTreeMap<String, String>) -> Response<Full<Bytes>> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["api"] => json_response(200, json!({"kind": "APIVersions", "versions": ["v1"]})),
        ["apis"] => json_response(200, group_list(state)),
        ["apis", group, ..] if state.behaviour.missing_groups.iter().any(|g| g == group) => {
            not_found_page()
        }
        ["api", "v1"] => json_response(200, resource_list("v1")),
        ["apis", group, version] => {
            json_response(200, resource_list(&format!("{group}/{version}")))
        }
        ["api", "v1", plural] => list(state, "v1", plural, None, query),
        ["api", "v1", "namespaces", ns, plural] => list(state, "v1", plural, Some(ns), query),
        ["api", "v1", "namespaces", ns, plural, name] => get(state, plural, ns, name),
        ["apis", group, version, plural] => {
            list(state, &format!("{group}/{version}"), plural, None, query)
        }
        ["apis", group, version, "namespaces", ns, plural] => list(
            state,
            &format!("{group}/{version}"),
            plural,
            Some(ns),
            query,
        ),
        ["apis", _group, _version, "namespaces", ns, plural, name] => get(state, plural, ns, name),
        _ => not_found_page(),
    }
}

/// Legacy discovery of one group version's resources (what kubectl reads before `get`).
fn resource_list(group_version: &str) -> Value {
    let resources: &[(&str, &str, bool)] = match group_version {
        "v1" => &[
            ("namespaces", "Namespace", false),
            ("services", "Service", true),
            ("pods", "Pod", true),
            ("configmaps", "ConfigMap", true),
            ("secrets", "Secret", true),
        ],
        "apps/v1" => &[
            ("deployments", "Deployment", true),
            ("statefulsets", "StatefulSet", true),
            ("daemonsets", "DaemonSet", true),
        ],
        gv if gv.starts_with("networking.istio.io/") => &[
            ("gateways", "Gateway", true),
            ("virtualservices", "VirtualService", true),
            ("destinationrules", "DestinationRule", true),
            ("serviceentries", "ServiceEntry", true),
            ("sidecars", "Sidecar", true),
            ("workloadentries", "WorkloadEntry", true),
        ],
        gv if gv.starts_with("security.istio.io/") => &[
            ("peerauthentications", "PeerAuthentication", true),
            ("authorizationpolicies", "AuthorizationPolicy", true),
        ],
        _ => &[],
    };
    let resources: Vec<Value> = resources
        .iter()
        .map(|(plural, kind, namespaced)| json!({"name": plural, "singularName": "", "kind": kind, "namespaced": namespaced, "verbs": ["get", "list"]}))
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

fn group_list(state: &State) -> Value {
    let groups: Vec<Value> = [
        ("apps", vec!["v1"]),
        ("networking.istio.io", vec!["v1", "v1beta1", "v1alpha3"]),
        ("security.istio.io", vec!["v1", "v1beta1"]),
    ]
    .into_iter()
    .filter(|(g, _)| !state.behaviour.missing_groups.iter().any(|m| m == g))
    .map(|(g, versions)| {
        let versions: Vec<Value> = versions
            .iter()
            .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
            .collect();
        json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
    })
    .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn forbidden(state: &State, plural: &str, verb: &str) -> Option<Response<Full<Bytes>>> {
    state.behaviour.forbidden.iter().any(|f| f == plural).then(|| {
        status(
            403,
            "Forbidden",
            &format!("{plural} is forbidden: User \"system:serviceaccount:test:reader\" cannot {verb} resource \"{plural}\""),
        )
    })
}

fn list(
    state: &State,
    api_version: &str,
    plural: &str,
    namespace: Option<&str>,
    query: &BTreeMap<String, String>,
) -> Response<Full<Bytes>> {
    if let Some(denied) = forbidden(state, plural, "list") {
        return denied;
    }
    if state.behaviour.invalid_json.iter().any(|p| p == plural) {
        return Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(
                "{\"kind\": \"List\", \"items\": [{\"metadata\": ",
            )))
            .unwrap_or_default();
    }
    if state.behaviour.server_error.iter().any(|p| p == plural) {
        return status(500, "InternalError", "etcdserver: request timed out");
    }
    // Filter by reference and clone only the page: lists of 100k objects are served in pages.
    let all: &[Value] = state
        .objects
        .get(plural)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let matching: Vec<&Value> = all
        .iter()
        .filter(|o| namespace.is_none_or(|ns| o["metadata"]["namespace"] == ns))
        .filter(|o| field_selector_matches(o, query.get("fieldSelector")))
        .filter(|o| label_selector_matches(o, query.get("labelSelector")))
        .collect();
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(usize::MAX);
    let page_size = if state.behaviour.max_page > 0 {
        limit.min(state.behaviour.max_page)
    } else {
        limit
    };
    let start: usize = query
        .get("continue")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let end = start.saturating_add(page_size).min(matching.len());
    let items: Vec<Value> = matching[start.min(end)..end]
        .iter()
        .map(|o| {
            let mut o = (*o).clone();
            // Real list items carry no apiVersion/kind.
            if let Some(m) = o.as_object_mut() {
                m.remove("apiVersion");
                m.remove("kind");
            }
            o
        })
        .collect();
    let mut metadata = json!({"resourceVersion": "1"});
    if end < matching.len() {
        metadata["continue"] = Value::String(end.to_string());
    }
    let kind = state
        .objects
        .get(plural)
        .and_then(|o| o.first())
        .and_then(|o| o["kind"].as_str())
        .unwrap_or("Object");
    json_response(
        200,
        json!({"kind": format!("{kind}List"), "apiVersion": api_version, "metadata": metadata, "items": items}),
    )
}

fn field_selector_matches(o: &Value, selector: Option<&String>) -> bool {
    let Some(selector) = selector else {
        return true;
    };
    selector.split(',').all(|term| match term.split_once('=') {
        Some(("metadata.name", v)) => o["metadata"]["name"] == v,
        Some(("metadata.namespace", v)) => o["metadata"]["namespace"] == v,
        _ => true,
    })
}

fn label_selector_matches(o: &Value, selector: Option<&String>) -> bool {
    let Some(selector) = selector else {
        return true;
    };
    selector.split(',').all(|term| match term.split_once('=') {
        Some((k, v)) => o["metadata"]["labels"][k] == v,
        None => o["metadata"]["labels"].get(term).is_some(),
    })
}

fn get(state: &State, plural: &str, namespace: &str, name: &str) -> Response<Full<Bytes>> {
    if let Some(denied) = forbidden(state, plural, "get") {
        return denied;
    }
    let found = state
        .objects
        .get(plural)
        .into_iter()
        .flatten()
        .find(|o| o["metadata"]["namespace"] == namespace && o["metadata"]["name"] == name);
    match found {
        Some(o) => json_response(200, o.clone()),
        None => status(404, "NotFound", &format!("{plural} \"{name}\" not found")),
    }
}

fn json_response(code: u16, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

fn status(code: u16, reason: &str, message: &str) -> Response<Full<Bytes>> {
    json_response(
        code,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason, "code": code}),
    )
}

/// What the API server answers for a path it does not serve at all (e.g. a missing CRD group).
fn not_found_page() -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from("404 page not found\n")))
        .unwrap_or_default()
}

/// A kubeconfig with one context per (name, server).
pub fn kubeconfig(pki: &Pki, clusters: &[(&str, SocketAddr, &str)]) -> String {
    let ca = STANDARD.encode(&pki.ca_pem);
    let mut clusters_yaml = String::new();
    let mut users = String::new();
    let mut contexts = String::new();
    for (name, addr, token) in clusters {
        clusters_yaml.push_str(&format!(
            "- name: {name}\n  cluster:\n    server: https://{addr}\n    certificate-authority-data: {ca}\n"
        ));
        users.push_str(&format!(
            "- name: {name}-reader\n  user:\n    token: {token}\n"
        ));
        contexts.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: {name}\n    user: {name}-reader\n"
        ));
    }
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n{clusters_yaml}users:\n{users}contexts:\n{contexts}current-context: {}\n",
        clusters.first().map_or("", |c| c.0)
    )
}

/// `pods/portforward` over WebSocket (`v4.channel.k8s.io`): each requested port gets a data
/// channel (2i) and an error channel (2i+1), each announced by a frame carrying the port.
fn port_forward(state: &State, mut req: Request<Incoming>) -> Response<Full<Bytes>> {
    use futures::{SinkExt, StreamExt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    use tokio_tungstenite::tungstenite::protocol::Role;

    if state
        .behaviour
        .forbidden
        .iter()
        .any(|f| f == "pods/portforward")
    {
        return status(
            403,
            "Forbidden",
            "pods \"x\" is forbidden: cannot create resource \"pods/portforward\"",
        );
    }
    // …/namespaces/{ns}/pods/{pod}/portforward
    let pod = req
        .uri()
        .path()
        .rsplit('/')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let target = state
        .behaviour
        .port_forward_pods
        .iter()
        .find(|(name, _)| *name == pod)
        .map(|(_, addr)| *addr)
        .or(state.behaviour.port_forward_to);
    let Some(target) = target else {
        return status(404, "NotFound", "no port-forward target configured");
    };
    let port: u16 = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("ports=")))
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let Some(key) = req
        .headers()
        .get("sec-websocket-key")
        .map(|k| derive_accept_key(k.as_bytes()))
    else {
        return status(400, "BadRequest", "not a WebSocket upgrade");
    };
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            None,
        )
        .await;
        let (mut sink, mut source) = ws.split();
        let [lo, hi] = port.to_le_bytes();
        if sink.send(Message::binary(vec![0, lo, hi])).await.is_err()
            || sink.send(Message::binary(vec![1, lo, hi])).await.is_err()
        {
            return;
        }
        let Ok(tcp) = tokio::net::TcpStream::connect(target).await else {
            let _ = sink
                .send(Message::binary(
                    [&[1u8][..], b"connection refused"].concat(),
                ))
                .await;
            return;
        };
        let (mut read, mut write) = tcp.into_split();
        let to_pod = async move {
            while let Some(Ok(msg)) = source.next().await {
                if let Message::Binary(bytes) = msg
                    && bytes.first() == Some(&0)
                    && write.write_all(&bytes[1..]).await.is_err()
                {
                    break;
                }
            }
        };
        let from_pod = async move {
            let mut buf = vec![0u8; 16 * 1024];
            while let Ok(n) = read.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let mut frame = vec![0u8];
                frame.extend_from_slice(&buf[..n]);
                if sink.send(Message::binary(frame)).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        };
        tokio::join!(to_pod, from_pod);
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-accept", key)
        .header("sec-websocket-protocol", "v4.channel.k8s.io")
        .body(Full::new(Bytes::new()))
        .unwrap_or_default()
}
