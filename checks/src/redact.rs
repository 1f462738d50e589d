//! Secrets are reduced before anything keeps them: certificates stay, private keys become the
//! public facts needed to match them to a certificate, everything else goes.
//!
//! Live collection applies this the moment a Secret arrives, and `snapshot` writes the
//! result, so a live run and a run on its snapshot see exactly the same Secret contents.

use crate::model::KEY_FACTS_ANNOTATION;
use crate::pki::{Certificate, KeyFacts, parse_blocks};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

/// Rewrites a Secret body in place: `data` keeps only certificate values; private keys are
/// replaced by their [`KeyFacts`] in the `istio-peer.io/key-facts` annotation; other values
/// are dropped and listed in `istio-peer.io/redacted`.
pub fn redact_secret(body: &mut Value) {
    let Some(object) = body.as_object_mut() else {
        return;
    };
    let mut kept = Map::new();
    let mut facts = Map::new();
    let mut dropped: Vec<String> = Vec::new();
    for section in ["data", "stringData"] {
        let Some(Value::Object(entries)) = object.remove(section) else {
            continue;
        };
        for (key, value) in entries {
            let text = value.as_str().unwrap_or_default();
            let bytes = if section == "data" {
                let compact: String = text.split_whitespace().collect();
                STANDARD.decode(compact.as_bytes()).unwrap_or_default()
            } else {
                text.as_bytes().to_vec()
            };
            match classify(&bytes) {
                Content::Certificates => {
                    kept.insert(key, Value::String(STANDARD.encode(&bytes)));
                }
                Content::PrivateKey(Some(f)) => {
                    facts.insert(key, serde_json::to_value(f).unwrap_or(Value::Null));
                }
                Content::PrivateKey(None) | Content::Other => dropped.push(key),
            }
        }
    }
    object.insert("data".into(), Value::Object(kept));
    drop_copies_of_the_body(object);
    let annotations = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .map(|m| {
            m.entry("annotations")
                .or_insert_with(|| Value::Object(Map::new()))
        });
    if let Some(Value::Object(annotations)) = annotations {
        if !facts.is_empty() {
            annotations.insert(
                KEY_FACTS_ANNOTATION.into(),
                Value::String(Value::Object(facts).to_string()),
            );
        }
        if !dropped.is_empty() {
            dropped.sort();
            annotations.insert(
                "istio-peer.io/redacted".into(),
                Value::String(dropped.join(",")),
            );
        }
    }
}

/// Annotations and fields that can repeat a Secret's original data: `kubectl apply` keeps the
/// whole applied object (keys included) in `last-applied-configuration`; `managedFields` is
/// dropped too, and so is any annotation that holds key material.
fn drop_copies_of_the_body(object: &mut Map<String, Value>) {
    let Some(Value::Object(metadata)) = object.get_mut("metadata") else {
        return;
    };
    metadata.remove("managedFields");
    if let Some(Value::Object(annotations)) = metadata.get_mut("annotations") {
        annotations.retain(|name, value| {
            name != "kubectl.kubernetes.io/last-applied-configuration"
                && !value.as_str().is_some_and(|v| v.contains("PRIVATE KEY"))
        });
    }
}

enum Content {
    Certificates,
    PrivateKey(Option<KeyFacts>),
    Other,
}

/// A value is kept only if all its PEM blocks are certificates; a value with a private key is
/// reduced to its facts whatever else it holds — even a key block too broken to parse. A
/// binary value (DER) is kept only if it is one X.509 certificate: a DER key or a PKCS#12
/// keystore is dropped.
fn classify(bytes: &[u8]) -> Content {
    let (blocks, _) = parse_blocks(bytes);
    if let Some(key) = blocks.iter().find(|b| b.is_private_key()) {
        return Content::PrivateKey(KeyFacts::from_block(key).ok());
    }
    if bytes.windows(11).any(|w| w == b"PRIVATE KEY") {
        return Content::PrivateKey(None);
    }
    if !bytes.starts_with(b"-----") && !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return match Certificate::from_der(bytes) {
            Ok(_) => Content::Certificates,
            Err(_) => Content::Other,
        };
    }
    if !blocks.is_empty()
        && blocks
            .iter()
            .all(|b| b.label == "CERTIFICATE" || b.label == "TRUSTED CERTIFICATE")
    {
        return Content::Certificates;
    }
    // Unparseable values that claim to be certificates are kept so that C005 can report them.
    if bytes
        .windows(27)
        .any(|w| w == b"-----BEGIN CERTIFICATE-----")
        && !blocks.iter().any(|b| b.is_private_key())
    {
        return Content::Certificates;
    }
    Content::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_keys_applied_copies_and_broken_keys_do_not_survive() {
        let cert = "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n";
        let broken_key = "-----BEGIN PRIVATE KEY-----\nnot base64 at all!\n";
        let der_key: Vec<u8> = vec![0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07];
        let mut body = serde_json::json!({
            "kind": "Secret",
            "metadata": {"name": "x", "managedFields": [{"manager": "kubectl"}], "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"tls.key\":\"c2VjcmV0\"}}",
                "team": "payments",
            }},
            "data": {
                "key.der": STANDARD.encode(&der_key),
                "bundle.pem": STANDARD.encode(format!("{cert}{broken_key}")),
                "keystore.p12": STANDARD.encode([0x30, 0x82, 0x01, 0x00, 0x02, 0x01, 0x03]),
            }
        });
        redact_secret(&mut body);
        let text = body.to_string();
        assert!(
            body["data"].as_object().is_some_and(|d| d.is_empty()),
            "{text}"
        );
        assert!(
            !text.contains("c2VjcmV0") && !text.contains("managedFields"),
            "{text}"
        );
        assert_eq!(body["metadata"]["annotations"]["team"], "payments");
    }

    #[test]
    fn keeps_certificates_reduces_keys_drops_the_rest() {
        let key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----\n";
        let cert = "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n";
        let mut body = serde_json::json!({
            "kind": "Secret",
            "metadata": {"name": "x"},
            "data": {
                "tls.key": STANDARD.encode(key),
                "tls.crt": STANDARD.encode(cert),
                "password": STANDARD.encode("hunter2"),
            }
        });
        redact_secret(&mut body);
        let text = body.to_string();
        assert!(!text.contains(&STANDARD.encode(key)));
        assert!(!text.contains("hunter2") && !text.contains(&STANDARD.encode("hunter2")));
        assert!(body["data"]["tls.crt"].is_string());
        assert!(body["data"].get("tls.key").is_none());
        assert_eq!(
            body["metadata"]["annotations"]["istio-peer.io/redacted"],
            "password,tls.key"
        );
    }
}
