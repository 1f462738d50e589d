//! Kubernetes objects as the inputs hold them, before typing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::source::Origin;

/// The identity of an object: kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// The metadata fields the checks read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Metadata {
    #[serde(deserialize_with = "super::kinds::null_as_default")]
    pub name: String,
    #[serde(deserialize_with = "super::kinds::null_as_default")]
    pub namespace: String,
    #[serde(deserialize_with = "super::kinds::null_as_default")]
    pub labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "super::kinds::null_as_default")]
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339, as the API server sets it; decides which of two conflicting rules wins.
    pub creation_timestamp: Option<String>,
}

/// One Kubernetes object as read from a file or a cluster, before the model types it.
///
/// For Secrets, `body` must not be trusted to be free of key material: the model builder
/// redacts private keys when it turns a `RawObject` into an [`super::Object`].
#[derive(Clone, PartialEq)]
pub struct RawObject {
    pub body: Value,
    pub origin: Origin,
    /// Path of this object inside its document when it is an item of a `List` (`items[3]`).
    pub prefix: String,
}

impl std::fmt::Debug for RawObject {
    // Secret bodies may hold private keys: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawObject")
            .field("kind", &self.body.get("kind"))
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl RawObject {
    pub fn new(body: Value, origin: Origin) -> RawObject {
        RawObject {
            body,
            origin,
            prefix: String::new(),
        }
    }

    pub fn kind(&self) -> &str {
        self.body.get("kind").and_then(Value::as_str).unwrap_or("")
    }

    pub fn api_version(&self) -> &str {
        self.body
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// Expands `kind: List` (and `*List` kinds from `kubectl get -o yaml`) into its items,
    /// each keeping the list's origin and its item path in `prefix`.
    pub fn flatten(self) -> Vec<RawObject> {
        let is_list = self.kind() == "List"
            || (self.kind().ends_with("List")
                && self.body.get("items").is_some_and(Value::is_array));
        if !is_list {
            return vec![self];
        }
        let RawObject { body, origin, .. } = self;
        let items = match body {
            Value::Object(mut map) => map.remove("items"),
            _ => None,
        };
        match items {
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| RawObject {
                    body: item,
                    origin: origin.clone(),
                    prefix: format!("items[{i}]."),
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}
