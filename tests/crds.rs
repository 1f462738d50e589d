//! The typed model against Istio's own material (`../shared/istio`): the CRD schemas in
//! `crds/crd-all.gen.yaml` and the sample east-west Gateway in `expose-services.yaml`.
//!
//! A *maximal sample* of a kind is a `spec` with every property of the CRD schema filled with
//! a value of its declared type; the model must type it without complaint, and every field the
//! model writes back must be a field the schema declares.

use std::path::Path;

use checks::engine::{Options, run};
use checks::model::{Item, Mesh, MeshBuilder, Origin, RawObject, Snapshot};
use checks::time::Timestamp;
use checks::yaml::{Budget, decode};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::common::shared_istio;

/// The Istio kinds the model types, with their API group.
const KINDS: [(&str, &str); 8] = [
    ("Gateway", "networking.istio.io"),
    ("VirtualService", "networking.istio.io"),
    ("DestinationRule", "networking.istio.io"),
    ("ServiceEntry", "networking.istio.io"),
    ("Sidecar", "networking.istio.io"),
    ("WorkloadEntry", "networking.istio.io"),
    ("PeerAuthentication", "security.istio.io"),
    ("AuthorizationPolicy", "security.istio.io"),
];

/// The served versions checked, preferred first.
const VERSIONS: [&str; 3] = ["v1", "v1beta1", "v1alpha3"];

/// Property nesting beyond which samples stop (CRD schemas are acyclic; this is a guard).
const MAX_DEPTH: usize = 8;

/// The schema of a kind's `spec` in one served version.
struct SpecSchema {
    kind: &'static str,
    api_version: String,
    spec: Value,
}

impl SpecSchema {
    fn label(&self) -> String {
        format!("{} {}", self.api_version, self.kind)
    }
}

// ---------------------------------------------------------------- reading the CRDs

fn istio_crds(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("crds/crd-all.gen.yaml")).unwrap();
    let budget = Budget {
        max_depth: 256,
        max_nodes: 10_000_000,
    };
    let decoded = decode(&text, budget);
    assert!(decoded.error.is_none(), "{:?}", decoded.error);
    decoded.documents.into_iter().map(|d| d.value).collect()
}

/// Every (kind, version) of [`KINDS`] × [`VERSIONS`] the CRDs serve; each kind must have one.
fn spec_schemas(dir: &Path) -> Vec<SpecSchema> {
    let crds = istio_crds(dir);
    let mut out = Vec::new();
    for (kind, group) in KINDS {
        let crd = crds
            .iter()
            .find(|c| c["spec"]["names"]["kind"] == kind && c["spec"]["group"] == group)
            .unwrap_or_else(|| panic!("no CRD for {group} {kind}"));
        let served = crd["spec"]["versions"].as_array().unwrap();
        let before = out.len();
        for version in VERSIONS {
            let Some(v) = served.iter().find(|v| v["name"] == version) else {
                continue;
            };
            let spec = &v["schema"]["openAPIV3Schema"]["properties"]["spec"];
            assert!(spec.is_object(), "{group}/{version} {kind}: no spec schema");
            out.push(SpecSchema {
                kind,
                api_version: format!("{group}/{version}"),
                spec: spec.clone(),
            });
        }
        assert!(out.len() > before, "{kind}: none of {VERSIONS:?} is served");
    }
    out
}

// ---------------------------------------------------------------- maximal samples

/// A value for `schema` with every property filled. `oneOf`/`anyOf` only constrain which
/// properties may be combined, so they are ignored: the sample holds all of them.
fn sample(schema: &Value, depth: usize) -> Value {
    if let Some(first) = schema["enum"].get(0) {
        return first.clone();
    }
    if schema["x-kubernetes-int-or-string"] == true {
        return small_integer(schema);
    }
    match schema["type"].as_str() {
        Some("string") => match schema["format"].as_str() {
            Some("date-time") => json!("2025-01-01T00:00:00Z"),
            Some("byte") => json!("c2FtcGxl"),
            _ => json!("sample"),
        },
        Some("integer") => small_integer(schema),
        Some("number") => json!(0.5),
        Some("boolean") => json!(true),
        Some("array") if depth < MAX_DEPTH => json!([sample(&schema["items"], depth)]),
        Some("array") => json!([]),
        _ if depth < MAX_DEPTH => sample_object(schema, depth + 1),
        _ => json!({}),
    }
}

/// An object: every declared property, or one entry of a map.
fn sample_object(schema: &Value, depth: usize) -> Value {
    let mut object = Map::new();
    if let Some(properties) = schema["properties"].as_object() {
        for (name, property) in properties {
            object.insert(name.clone(), sample(property, depth));
        }
    }
    match &schema["additionalProperties"] {
        Value::Object(_) => {
            object.insert(
                "example".into(),
                sample(&schema["additionalProperties"], depth),
            );
        }
        Value::Bool(true) => {
            object.insert("example".into(), json!("sample"));
        }
        _ => {}
    }
    Value::Object(object)
}

/// 80, moved into `[minimum, maximum]` when the schema bounds it.
fn small_integer(schema: &Value) -> Value {
    let mut n = 80;
    if let Some(max) = schema["maximum"].as_i64() {
        n = n.min(max);
    }
    if let Some(min) = schema["minimum"].as_i64() {
        n = n.max(min);
    }
    json!(n)
}

fn maximal_object(s: &SpecSchema) -> Value {
    json!({
        "apiVersion": s.api_version,
        "kind": s.kind,
        "metadata": {"name": "maximal", "namespace": "default"},
        "spec": sample(&s.spec, 0),
    })
}

// ---------------------------------------------------------------- the model

fn mesh_of(objects: impl IntoIterator<Item = Value>) -> Mesh {
    let mut builder = MeshBuilder::new("test");
    for object in objects {
        builder.add(RawObject::new(object, Origin::Default));
    }
    builder.finish()
}

fn specs<T: Serialize>(items: &[Item<T>]) -> Vec<Value> {
    items
        .iter()
        .map(|i| serde_json::to_value(&i.spec).unwrap())
        .collect()
}

/// The typed specs of `kind` in the mesh, written back as JSON.
fn typed_specs(mesh: &Mesh, kind: &str) -> Vec<Value> {
    match kind {
        "Gateway" => specs(&mesh.gateways),
        "VirtualService" => specs(&mesh.virtual_services),
        "DestinationRule" => specs(&mesh.destination_rules),
        "ServiceEntry" => specs(&mesh.service_entries),
        "Sidecar" => specs(&mesh.sidecars),
        "WorkloadEntry" => specs(&mesh.workload_entries),
        "PeerAuthentication" => specs(&mesh.peer_authentications),
        "AuthorizationPolicy" => specs(&mesh.authorization_policies),
        other => panic!("not a modelled kind: {other}"),
    }
}

// ---------------------------------------------------------------- schema conformance

/// Marks a place where the schema admits any field.
static ANY_FIELD: Value = Value::Bool(true);

/// The schema of field `key` of an object whose schema is `schema`, if it declares one.
fn field_schema<'s>(schema: &'s Value, key: &str) -> Option<&'s Value> {
    if let Some(property) = schema["properties"].get(key) {
        return Some(property);
    }
    match &schema["additionalProperties"] {
        map @ Value::Object(_) => Some(map),
        Value::Bool(true) => Some(&ANY_FIELD),
        _ => None,
    }
}

/// Paths of the object keys in `value` that `schema` does not declare.
fn undeclared_fields(value: &Value, schema: &Value, path: &str, out: &mut Vec<String>) {
    if schema == &ANY_FIELD || schema["x-kubernetes-preserve-unknown-fields"] == true {
        return;
    }
    match value {
        Value::Object(fields) => {
            for (key, child) in fields {
                let child_path = format!("{path}.{key}");
                match field_schema(schema, key) {
                    Some(s) => undeclared_fields(child, s, &child_path, out),
                    None => out.push(child_path),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                undeclared_fields(item, &schema["items"], &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_modelled_istio_kind_types_its_maximal_sample() {
    let Some(dir) = shared_istio() else { return };
    let mut failures = Vec::new();
    for s in spec_schemas(&dir) {
        let mesh = mesh_of([maximal_object(&s)]);
        for invalid in &mesh.invalid {
            failures.push(format!(
                "{}: {}: {}",
                s.label(),
                invalid.field.as_deref().unwrap_or("?"),
                invalid.message
            ));
        }
        let typed = typed_specs(&mesh, s.kind).len();
        if typed != 1 {
            failures.push(format!("{}: {typed} typed objects, want 1", s.label()));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_field_the_model_declares_is_in_the_schema() {
    let Some(dir) = shared_istio() else { return };
    let mut mismatches = Vec::new();
    for s in spec_schemas(&dir) {
        let mesh = mesh_of([maximal_object(&s)]);
        for spec in typed_specs(&mesh, s.kind) {
            let mut paths = Vec::new();
            undeclared_fields(&spec, &s.spec, "spec", &mut paths);
            mismatches.extend(paths.into_iter().map(|p| format!("{}: {p}", s.label())));
        }
    }
    assert!(
        mismatches.is_empty(),
        "fields the model writes that the schema lacks:\n{}",
        mismatches.join("\n")
    );
}

// ---------------------------------------------------------------- the sample east-west gateway

/// The objects of a YAML file, as the CLI reads them.
fn file_objects(path: &Path) -> Vec<RawObject> {
    let text = std::fs::read_to_string(path).unwrap();
    let decoded = decode(&text, Budget::default());
    assert!(decoded.error.is_none(), "{:?}", decoded.error);
    decoded
        .documents
        .into_iter()
        .map(|d| {
            let origin = Origin::file(path.display().to_string(), d.index, d.start);
            RawObject::new(d.value, origin)
        })
        .collect()
}

fn deployment(namespace: &str, name: &str, labels: Value, service_account: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": {
            "metadata": {"labels": labels},
            "spec": {
                "serviceAccountName": service_account,
                "containers": [{"name": "istio-proxy", "image": "istio/proxyv2:1.26.0"}],
            },
        }},
    })
}

/// Mesh B: Istio's sample Gateway, the east-west gateway behind it, and `payments/api`.
fn server_mesh(dir: &Path) -> Mesh {
    let mut builder = MeshBuilder::new("mesh-b");
    for object in file_objects(&dir.join("expose-services.yaml")) {
        builder.add(object);
    }
    let objects = [
        deployment(
            "istio-system",
            "istio-eastwestgateway",
            json!({"istio": "eastwestgateway"}),
            "istio-eastwestgateway",
        ),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "istio-eastwestgateway", "namespace": "istio-system"},
            "spec": {
                "type": "LoadBalancer",
                "selector": {"istio": "eastwestgateway"},
                "ports": [{"name": "tls", "port": 15443, "targetPort": 15443}],
            },
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}},
        }),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "api", "namespace": "payments"},
            "spec": {"selector": {"app": "api"}, "ports": [{"name": "http", "port": 8080}]},
        }),
        deployment("payments", "api", json!({"app": "api"}), "api"),
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "istio", "namespace": "istio-system"},
            "data": {"mesh": "trustDomain: mesh-b.local\n"},
        }),
    ];
    for object in objects {
        builder.add(RawObject::new(object, Origin::Default));
    }
    builder.finish()
}

/// Mesh A: `shop/frontend` reaching `payments/api` through B's east-west gateway.
fn client_mesh() -> Mesh {
    mesh_of([
        deployment("shop", "frontend", json!({"app": "frontend"}), "frontend"),
        json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "ServiceEntry",
            "metadata": {"name": "payments-api", "namespace": "shop"},
            "spec": {
                "hosts": ["api.payments.mesh-b.global"],
                "ports": [{"number": 8080, "name": "http", "protocol": "HTTP"}],
                "location": "MESH_INTERNAL",
                "resolution": "STATIC",
                "endpoints": [{"address": "203.0.113.10", "ports": {"http": 15443}}],
            },
        }),
        json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "DestinationRule",
            "metadata": {"name": "payments-api", "namespace": "shop"},
            "spec": {
                "host": "api.payments.mesh-b.global",
                "trafficPolicy": {"tls": {
                    "mode": "ISTIO_MUTUAL",
                    "sni": "outbound_.8080_._.api.payments.svc.cluster.local",
                }},
            },
        }),
    ])
}

#[test]
fn istio_sample_east_west_gateway_is_read_as_an_east_west_route() {
    let Some(dir) = shared_istio() else { return };
    let server = server_mesh(&dir);
    let client = client_mesh();
    for mesh in [&server, &client] {
        assert!(mesh.invalid.is_empty(), "{}: {:?}", mesh.name, mesh.invalid);
    }

    assert_eq!(
        server.gateways.len(),
        1,
        "expose-services.yaml holds one Gateway"
    );
    let gateway = &server.gateways[0].spec;
    let tls = gateway.servers[0].tls.as_ref().expect("servers[0].tls");
    assert_eq!(tls.mode, "AUTO_PASSTHROUGH");
    assert_eq!(gateway.servers[0].hosts, ["*.local"]);

    let snapshot = Snapshot {
        at: Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap(),
        expiry_warning_days: 30,
        client,
        server,
        hosts: Vec::new(),
        probes: Vec::new(),
        proxies: Vec::new(),
    };
    let report = run(&snapshot, &Options::default());
    let [route] = report.routes.as_slice() else {
        panic!("want one route, got {:#?}", report.routes);
    };
    assert_eq!(route.topology, "east-west", "{route:#?}");
    assert_eq!(route.address.as_deref(), Some("203.0.113.10:15443"));
    assert_eq!(
        route.sni.as_deref(),
        Some("outbound_.8080_._.api.payments.svc.cluster.local")
    );
    assert_eq!(
        route.server_identities,
        ["spiffe://mesh-b.local/ns/payments/sa/api"]
    );
}
