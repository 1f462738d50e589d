//! Turns raw objects into a typed [`Mesh`]: decode, redact, type, index.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::*;
use crate::pki::{Bundle, CertificateCache};
use crate::yaml;

/// Accumulates the objects of one mesh.
pub struct MeshBuilder {
    mesh: Mesh,
    cache: CertificateCache,
    istio_config_maps: Vec<(Source, String)>,
    keep_objects: bool,
}

impl MeshBuilder {
    pub fn new(name: impl Into<String>) -> MeshBuilder {
        MeshBuilder {
            mesh: Mesh {
                name: name.into(),
                ..Mesh::default()
            },
            cache: CertificateCache::default(),
            istio_config_maps: Vec::new(),
            keep_objects: false,
        }
    }

    /// Also keeps every object's body (Secrets redacted) for user checks.
    pub fn keep_objects(mut self, keep: bool) -> MeshBuilder {
        self.keep_objects = keep;
        self
    }

    /// Records a document or file that could not be decoded (E002).
    pub fn invalid(&mut self, origin: Origin, message: impl Into<String>) {
        self.mesh.invalid.push(InvalidInput {
            origin,
            object: None,
            field: None,
            message: message.into(),
        });
    }

    /// Records an input that could not be read at all (E001).
    pub fn unavailable(&mut self, input: UnavailableInput) {
        self.mesh.unavailable.push(input);
    }

    /// Adds one object (a `List` is expanded). Unknown kinds are counted and ignored.
    pub fn add(&mut self, raw: RawObject) {
        for object in raw.flatten() {
            self.mesh.objects_read += 1;
            self.add_one(object);
        }
    }

    fn add_one(&mut self, raw: RawObject) {
        if !raw.body.is_object() {
            // Empty documents (`---` at the end of a file) are common and harmless.
            if !raw.body.is_null() {
                self.invalid(
                    raw.origin,
                    "document is not a mapping (a Kubernetes object)",
                );
            }
            return;
        }
        let meta: Metadata = match raw.body.get("metadata") {
            None | Some(Value::Null) => Metadata::default(),
            Some(m) => match typed(m) {
                Ok(meta) => meta,
                Err((field, message)) => {
                    return self.reject(&raw, None, Some(format!("metadata.{field}")), message);
                }
            },
        };
        let kind = raw.kind().to_string();
        if kind.is_empty() {
            return self.reject(
                &raw,
                None,
                Some("kind".into()),
                "object has no `kind`".into(),
            );
        }
        let source = Source {
            object: ObjectRef {
                kind: kind.clone(),
                namespace: meta.namespace.clone(),
                name: meta.name.clone(),
            },
            api_version: raw.api_version().to_string(),
            origin: raw.origin.clone(),
            prefix: raw.prefix.clone(),
        };
        let kept_source = self.keep_objects.then(|| source.clone());
        let group = raw.api_version().split('/').next().unwrap_or("");
        let istio_networking = group == "networking.istio.io";
        let istio_security = group == "security.istio.io";
        match kind.as_str() {
            "Namespace" => self.mesh.namespaces.push(Item {
                meta,
                source,
                spec: (),
            }),
            "Service" => self.service(&raw, meta, source),
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
                self.pod_template(&raw, meta, source)
            }
            "Pod" => self.pod(&raw, meta, source),
            "Secret" => self.secret(&raw, meta, source),
            "ConfigMap" => self.config_map(&raw, meta, source),
            "Gateway" if istio_networking => self.spec(&raw, meta, source, |m| &mut m.gateways),
            "VirtualService" if istio_networking => {
                self.spec(&raw, meta, source, |m| &mut m.virtual_services)
            }
            "DestinationRule" if istio_networking => {
                self.spec(&raw, meta, source, |m| &mut m.destination_rules)
            }
            "ServiceEntry" if istio_networking => {
                self.spec(&raw, meta, source, |m| &mut m.service_entries)
            }
            "Sidecar" if istio_networking => self.spec(&raw, meta, source, |m| &mut m.sidecars),
            "WorkloadEntry" if istio_networking => {
                self.spec(&raw, meta, source, |m| &mut m.workload_entries)
            }
            "PeerAuthentication" if istio_security => {
                self.spec(&raw, meta, source, |m| &mut m.peer_authentications)
            }
            "AuthorizationPolicy" if istio_security => {
                self.spec(&raw, meta, source, |m| &mut m.authorization_policies)
            }
            _ => {}
        }
        // Once typed, the body is kept (compact) for user checks.
        if let Some(source) = kept_source {
            let mut body = raw.body;
            if kind == "Secret" {
                crate::redact::redact_secret(&mut body);
            }
            if let Ok(body) = serde_json::value::to_raw_value(&body) {
                self.mesh.objects.push(KeptObject { source, body });
            }
        }
    }

    fn reject(
        &mut self,
        raw: &RawObject,
        object: Option<ObjectRef>,
        field: Option<String>,
        message: String,
    ) {
        self.mesh.invalid.push(InvalidInput {
            origin: raw.origin.clone(),
            object,
            field: field.map(|f| format!("{}{f}", raw.prefix)),
            message,
        });
    }

    /// Types `spec` (absent → defaults) and files it into the collection `pick` selects.
    fn spec<T: DeserializeOwned + Default>(
        &mut self,
        raw: &RawObject,
        meta: Metadata,
        source: Source,
        pick: fn(&mut Mesh) -> &mut Vec<Item<T>>,
    ) {
        match field::<T>(&raw.body, "spec") {
            Ok(spec) => pick(&mut self.mesh).push(Item { meta, source, spec }),
            Err((path, message)) => {
                self.reject(raw, Some(source.object), Some(path), message);
            }
        }
    }

    fn service(&mut self, raw: &RawObject, meta: Metadata, source: Source) {
        let spec = field::<ServiceSpec>(&raw.body, "spec");
        let status = field::<ServiceStatus>(&raw.body, "status");
        match (spec, status) {
            (Ok(spec), Ok(status)) => self.mesh.services.push(Item {
                meta,
                source,
                spec: Service { spec, status },
            }),
            (Err((path, message)), _) | (_, Err((path, message))) => {
                self.reject(raw, Some(source.object), Some(path), message)
            }
        }
    }

    fn pod_template(&mut self, raw: &RawObject, meta: Metadata, source: Source) {
        match field::<WorkloadSpec>(&raw.body, "spec") {
            Ok(spec) => {
                let workload = Workload {
                    pod_labels: spec.template.metadata.labels,
                    pod_annotations: spec.template.metadata.annotations,
                    pod: spec.template.spec,
                };
                self.workload(meta, source, workload);
            }
            Err((path, message)) => self.reject(raw, Some(source.object), Some(path), message),
        }
    }

    fn pod(&mut self, raw: &RawObject, meta: Metadata, source: Source) {
        match field::<PodSpec>(&raw.body, "spec") {
            Ok(pod) => {
                let workload = Workload {
                    pod_labels: meta.labels.clone(),
                    pod_annotations: meta.annotations.clone(),
                    pod,
                };
                self.workload(meta, source, workload);
            }
            Err((path, message)) => self.reject(raw, Some(source.object), Some(path), message),
        }
    }

    fn workload(&mut self, meta: Metadata, source: Source, workload: Workload) {
        if is_istiod(&meta, &workload) {
            let discovery = workload
                .pod
                .containers
                .iter()
                .find(|c| c.name == "discovery")
                .or(workload.pod.containers.first());
            let istiod = Istiod {
                env: discovery
                    .map(|c| {
                        c.env
                            .iter()
                            .filter_map(|e| e.value.clone().map(|v| (e.name.clone(), v)))
                            .collect()
                    })
                    .unwrap_or_default(),
                version: discovery.and_then(|c| image_tag(&c.image)),
            };
            self.mesh.istiod = Some(Item {
                meta: meta.clone(),
                source: source.clone(),
                spec: istiod,
            });
        }
        self.mesh.workloads.push(Item {
            meta,
            source,
            spec: workload,
        });
    }

    fn secret(&mut self, raw: &RawObject, meta: Metadata, source: Source) {
        let secret_type = raw
            .body
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("Opaque")
            .to_string();
        let mut contents = SecretContents {
            secret_type,
            entries: BTreeMap::new(),
        };
        for (section, encoded) in [("data", true), ("stringData", false)] {
            let Some(Value::Object(entries)) = raw.body.get(section) else {
                continue;
            };
            for (key, value) in entries {
                let text = match value {
                    Value::String(s) => s.as_str(),
                    Value::Null => "",
                    _ => {
                        self.reject(
                            raw,
                            Some(source.object.clone()),
                            Some(format!("{section}.{key}")),
                            "value is not a string".into(),
                        );
                        continue;
                    }
                };
                let bytes = if encoded {
                    let compact: String = text.split_whitespace().collect();
                    match STANDARD.decode(compact.as_bytes()) {
                        Ok(b) => b,
                        Err(e) => {
                            self.reject(
                                raw,
                                Some(source.object.clone()),
                                Some(format!("{section}.{key}")),
                                format!("value is not base64: {e}"),
                            );
                            continue;
                        }
                    }
                } else {
                    text.as_bytes().to_vec()
                };
                if let Some(entry) = self.pem_entry(key, &bytes) {
                    contents.entries.insert(key.clone(), entry);
                }
            }
        }
        self.restore_key_facts(raw, &meta, &source, &mut contents);
        self.mesh.secrets.push(Item {
            meta,
            source,
            spec: contents,
        });
    }

    /// Redacted Secrets carry their keys' public facts in an annotation instead of the keys.
    fn restore_key_facts(
        &mut self,
        raw: &RawObject,
        meta: &Metadata,
        source: &Source,
        contents: &mut SecretContents,
    ) {
        let Some(text) = meta.annotations.get(KEY_FACTS_ANNOTATION) else {
            return;
        };
        match serde_json::from_str::<BTreeMap<String, crate::pki::KeyFacts>>(text) {
            Ok(facts) => {
                for (key, fact) in facts {
                    contents.entries.entry(key).or_default().keys.push(fact);
                }
            }
            Err(e) => self.reject(
                raw,
                Some(source.object.clone()),
                Some(format!("metadata.annotations.{KEY_FACTS_ANNOTATION}")),
                format!("not a key-facts map: {e}"),
            ),
        }
    }

    /// Decodes a value that should hold PEM material; `None` for unrelated values, which are
    /// dropped so that no unrelated secret data lingers in the model.
    fn pem_entry(&mut self, key: &str, bytes: &[u8]) -> Option<SecretEntry> {
        let named_like_pem = [".pem", ".crt", ".key", "cacert", ".cer"]
            .iter()
            .any(|suffix| key.ends_with(suffix));
        let looks_like_pem = bytes.windows(11).take(4096).any(|w| w == b"-----BEGIN ");
        if !named_like_pem && !looks_like_pem {
            return None;
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Some(SecretEntry {
                empty: true,
                ..SecretEntry::default()
            });
        }
        let bundle = Bundle::decode(bytes, &mut self.cache);
        Some(SecretEntry {
            certificates: bundle.certificates,
            keys: bundle.keys,
            errors: bundle.errors.into_iter().map(PemIssue::from).collect(),
            empty: false,
        })
    }

    fn config_map(&mut self, raw: &RawObject, meta: Metadata, source: Source) {
        // Only Istio's own ConfigMaps matter; dropping the rest keeps big meshes lean.
        if !meta.name.starts_with("istio") {
            return;
        }
        let data: BTreeMap<String, String> = match field(&raw.body, "data") {
            Ok(d) => d,
            Err((path, message)) => {
                return self.reject(raw, Some(source.object), Some(path), message);
            }
        };
        let mut contents = ConfigMapContents::default();
        for (key, value) in &data {
            if key.ends_with(".pem")
                && let Some(entry) = self.pem_entry(key, value.as_bytes())
            {
                contents.pem.insert(key.clone(), entry);
            }
        }
        // `istio` or a revision's `istio-<rev>`.
        let is_mesh_config = meta.name == "istio" || meta.name.starts_with("istio-");
        if is_mesh_config && let Some(mesh) = data.get("mesh") {
            self.istio_config_maps.push((source.clone(), mesh.clone()));
        }
        contents.data = data
            .into_iter()
            .filter(|(k, _)| k == "mesh" || k == "meshNetworks")
            .collect();
        self.mesh.config_maps.push(Item {
            meta,
            source,
            spec: contents,
        });
    }

    /// Finishes the mesh: reads the mesh config and records missing CA material.
    pub fn finish(mut self) -> Mesh {
        self.read_mesh_config();
        self.mesh
    }

    fn read_mesh_config(&mut self) {
        // Prefer the default revision's `istio` ConfigMap in the control-plane namespace.
        let system = self.mesh.system_namespace().to_string();
        self.istio_config_maps
            .sort_by_key(|(s, _)| (s.object.name != "istio", s.object.namespace != system));
        let Some((source, text)) = self.istio_config_maps.first().cloned() else {
            return;
        };
        let decoded = yaml::decode(&text, yaml::Budget::default());
        if let Some(err) = decoded.error {
            self.mesh.invalid.push(InvalidInput {
                origin: source.origin.clone(),
                object: Some(source.object.clone()),
                field: Some(format!("{}data.mesh", source.prefix)),
                message: format!("mesh config line {}: {}", err.position.line, err.message),
            });
            return;
        }
        let value = decoded
            .documents
            .into_iter()
            .next()
            .map(|d| d.value)
            .filter(|v| !v.is_null())
            .unwrap_or(Value::Object(Default::default()));
        match typed::<MeshConfig>(&value) {
            Ok(mut config) => {
                if config.trust_domain.is_empty() {
                    config.trust_domain = MeshConfig::default().trust_domain;
                }
                if config.root_namespace.is_empty() {
                    config.root_namespace = MeshConfig::default().root_namespace;
                }
                self.mesh.config = config;
                self.mesh.config_source = Some(source);
            }
            Err((path, message)) => self.mesh.invalid.push(InvalidInput {
                origin: source.origin.clone(),
                object: Some(source.object.clone()),
                field: Some(format!("{}data.mesh", source.prefix)),
                message: format!("mesh config field `{path}`: {message}"),
            }),
        }
    }
}

fn is_istiod(meta: &Metadata, workload: &Workload) -> bool {
    (meta.name == "istiod" || meta.name.starts_with("istiod-"))
        && workload
            .pod
            .containers
            .iter()
            .any(|c| c.name == "discovery")
}

fn image_tag(image: &str) -> Option<String> {
    let tail = image.rsplit('/').next()?;
    let tag = tail.split_once(':')?.1;
    let tag = tag.split('@').next().unwrap_or(tag);
    (!tag.is_empty()).then(|| tag.to_string())
}

/// Deserializes `body[name]` (absent or null → default), reporting the failing field path.
fn field<T: DeserializeOwned + Default>(body: &Value, name: &str) -> Result<T, (String, String)> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => typed(v).map_err(|(path, message)| {
            let path = if path == "." {
                name.to_string()
            } else {
                format!("{name}.{path}")
            };
            (path, message)
        }),
    }
}

fn typed<T: DeserializeOwned>(value: &Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        (path, e.into_inner().to_string())
    })
}
