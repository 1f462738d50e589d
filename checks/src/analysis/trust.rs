//! Where a mesh's trust comes from (§1 "Where trust comes from"): its CA, the chain its
//! workloads present, and the roots its proxies accept. Derived once per mesh.

use std::sync::Arc;

use serde::Serialize;

use crate::model::{Item, Mesh, PemIssue, SecretContents, SecretEntry, Source};
use crate::pki::{Certificate, KeyFacts};

/// The keys Istio reads from a CA Secret.
pub const CA_CERT: &str = "ca-cert.pem";
pub const CA_KEY: &str = "ca-key.pem";
pub const ROOT_CERT: &str = "root-cert.pem";
pub const CERT_CHAIN: &str = "cert-chain.pem";

/// `cacerts` (plug-in CA) or `istio-ca-secret` (istiod's self-signed CA), decoded.
#[derive(Debug, Clone, Serialize)]
pub struct CaSecret {
    pub source: Source,
    pub ca_cert: Option<Arc<Certificate>>,
    pub ca_key: Option<KeyFacts>,
    pub root_certs: Vec<Arc<Certificate>>,
    pub cert_chain: Vec<Arc<Certificate>>,
    /// Keys Istio needs that the Secret lacks (or holds empty).
    pub missing: Vec<&'static str>,
    /// PEM problems: (key, problem).
    pub unparseable: Vec<(String, PemIssue)>,
}

impl CaSecret {
    fn read(item: &Item<SecretContents>, required: &[&'static str]) -> CaSecret {
        let entry = |key: &str| item.spec.entries.get(key);
        let certs = |key: &str| {
            entry(key)
                .map(|e| e.certificates.clone())
                .unwrap_or_default()
        };
        let missing = required
            .iter()
            .copied()
            .filter(|key| entry(key).is_none_or(|e| e.empty))
            .collect();
        let unparseable = item
            .spec
            .entries
            .iter()
            .flat_map(|(key, e)| e.errors.iter().map(move |err| (key.clone(), err.clone())))
            .collect();
        CaSecret {
            source: item.source.clone(),
            ca_cert: certs(CA_CERT).into_iter().next(),
            ca_key: entry(CA_KEY).and_then(|e| e.keys.first().cloned()),
            root_certs: certs(ROOT_CERT),
            cert_chain: certs(CERT_CHAIN),
            missing,
            unparseable,
        }
    }

    /// The chain a workload presents above its leaf: the issuing CA, then `cert-chain.pem`
    /// without a repeat of the issuing CA.
    pub fn signing_chain(&self) -> Vec<Arc<Certificate>> {
        let mut chain: Vec<Arc<Certificate>> = self.ca_cert.iter().cloned().collect();
        for cert in &self.cert_chain {
            if !chain.iter().any(|c| c.fingerprint == cert.fingerprint) {
                chain.push(cert.clone());
            }
        }
        chain
    }
}

/// A copy of the mesh root published to a namespace (ConfigMap `istio-ca-root-cert`).
#[derive(Debug, Clone, Serialize)]
pub struct PublishedRoots {
    pub source: Source,
    pub namespace: String,
    pub roots: Vec<Arc<Certificate>>,
}

/// `meshConfig.caCertificates[i]`.
#[derive(Debug, Clone, Serialize)]
pub struct ExtraRoots {
    pub index: usize,
    pub certs: Vec<Arc<Certificate>>,
    pub trust_domains: Vec<String>,
    pub errors: Vec<PemIssue>,
    /// Whether proxies receive these roots (both multi-root flags set, PEM holds CA certificates).
    pub effective: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaMode {
    /// `cacerts` is in use.
    PlugIn,
    /// istiod's self-signed CA (`istio-ca-secret`), no `cacerts`.
    SelfSigned,
    /// `cacerts` exists but the published root is another one (T009).
    PlugInNotInEffect,
    /// Only the published root is known.
    PublishedOnly,
    /// No CA material in the inputs.
    Unknown,
}

/// The trust facts of one mesh.
#[derive(Debug, Clone, Serialize)]
pub struct MeshTrust {
    pub mode: CaMode,
    pub plug_in: Option<CaSecret>,
    pub self_signed: Option<CaSecret>,
    pub published: Vec<PublishedRoots>,
    /// What workloads present above their leaf, issuing CA first; empty when unknown.
    pub signing_chain: Vec<Arc<Certificate>>,
    pub signing_source: Option<Source>,
    /// The roots the mesh's proxies trust by default (the published copy when known).
    pub own_roots: Vec<Arc<Certificate>>,
    pub own_roots_source: Option<Source>,
    pub extra_roots: Vec<ExtraRoots>,
    /// Whether istiod and the proxies have the flags that distribute `caCertificates`.
    pub multi_root_enabled: bool,
}

pub const MULTIROOT_FLAG: &str = "ISTIO_MULTIROOT_MESH";
pub const XDS_AGENT_FLAG: &str = "PROXY_CONFIG_XDS_AGENT";

impl MeshTrust {
    pub fn derive(mesh: &Mesh) -> MeshTrust {
        let system = mesh.system_namespace();
        let plug_in = mesh
            .secret(system, "cacerts")
            .map(|s| CaSecret::read(s, &[CA_CERT, CA_KEY, ROOT_CERT, CERT_CHAIN]));
        let self_signed = mesh
            .secret(system, "istio-ca-secret")
            .map(|s| CaSecret::read(s, &[CA_CERT, CA_KEY]));
        let published = published_roots(mesh);
        let system_published = published
            .iter()
            .find(|p| p.namespace == system)
            .or(published.first())
            .filter(|p| !p.roots.is_empty());

        let plug_in_in_effect = plug_in.as_ref().is_some_and(|ca| {
            system_published.is_none_or(|p| {
                ca.root_certs
                    .iter()
                    .any(|r| p.roots.iter().any(|q| q.same_key_and_name(r)))
                    || ca.root_certs.is_empty()
            })
        });
        let (mode, signer) = match (&plug_in, &self_signed) {
            (Some(ca), _) if plug_in_in_effect => (CaMode::PlugIn, Some(ca)),
            (Some(_), self_signed) => (CaMode::PlugInNotInEffect, self_signed.as_ref()),
            (None, Some(ca)) => (CaMode::SelfSigned, Some(ca)),
            (None, None) if system_published.is_some() => (CaMode::PublishedOnly, None),
            (None, None) => (CaMode::Unknown, None),
        };
        let (own_roots, own_roots_source) = match (system_published, signer) {
            (Some(p), _) => (p.roots.clone(), Some(p.source.clone())),
            (None, Some(ca)) => (ca_roots(ca), Some(ca.source.clone())),
            (None, None) => (Vec::new(), None),
        };
        let multi_root_enabled = mesh
            .istiod
            .as_ref()
            .is_some_and(|i| i.spec.flag(MULTIROOT_FLAG))
            && mesh
                .config
                .default_config
                .proxy_metadata
                .get(XDS_AGENT_FLAG)
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let extra_roots = extra_roots(mesh, multi_root_enabled);
        MeshTrust {
            mode,
            signing_chain: signer.map(CaSecret::signing_chain).unwrap_or_default(),
            signing_source: signer.map(|s| s.source.clone()),
            plug_in,
            self_signed,
            published,
            own_roots,
            own_roots_source,
            extra_roots,
            multi_root_enabled,
        }
    }

    /// Every root this mesh's proxies accept: its own plus effective extra roots.
    pub fn trust_set(&self) -> Vec<Arc<Certificate>> {
        let mut set = self.own_roots.clone();
        for extra in self.extra_roots.iter().filter(|e| e.effective) {
            for cert in &extra.certs {
                if !set.iter().any(|c| c.fingerprint == cert.fingerprint) {
                    set.push(cert.clone());
                }
            }
        }
        set
    }

    /// The root(s) of the CA in use (the `cacerts` roots, or the self-signed root); empty
    /// when the CA is not in the inputs or not in effect.
    pub fn ca_roots_in_use(&self) -> Vec<Arc<Certificate>> {
        let roots = match self.mode {
            CaMode::PlugIn => self.plug_in.as_ref().map(|c| c.root_certs.clone()),
            CaMode::SelfSigned => self
                .self_signed
                .as_ref()
                .map(|c| c.ca_cert.iter().cloned().collect()),
            _ => None,
        };
        roots.unwrap_or_default()
    }

    /// Whether anything is known about the roots of this mesh.
    pub fn is_known(&self) -> bool {
        !self.own_roots.is_empty() || !self.signing_chain.is_empty()
    }

    /// The certificate this mesh's workload certificates are issued by.
    pub fn issuing_ca(&self) -> Option<&Arc<Certificate>> {
        self.signing_chain.first()
    }
}

/// The roots a CA Secret anchors in: `root-cert.pem`, or a self-signed `ca-cert.pem`.
fn ca_roots(ca: &CaSecret) -> Vec<Arc<Certificate>> {
    if !ca.root_certs.is_empty() {
        return ca.root_certs.clone();
    }
    ca.ca_cert
        .iter()
        .filter(|c| c.self_issued)
        .cloned()
        .collect()
}

fn published_roots(mesh: &Mesh) -> Vec<PublishedRoots> {
    mesh.config_maps
        .iter()
        .filter(|c| c.name() == "istio-ca-root-cert")
        .map(|c| PublishedRoots {
            source: c.source.clone(),
            namespace: c.namespace().to_string(),
            roots: c
                .spec
                .pem
                .get(super::trust::ROOT_CERT)
                .map(|e: &SecretEntry| e.certificates.clone())
                .unwrap_or_default(),
        })
        .collect()
}

fn extra_roots(mesh: &Mesh, multi_root_enabled: bool) -> Vec<ExtraRoots> {
    let mut cache = crate::pki::CertificateCache::default();
    mesh.config
        .ca_certificates
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let bundle = crate::pki::Bundle::decode(entry.pem.as_bytes(), &mut cache);
            let all_ca =
                !bundle.certificates.is_empty() && bundle.certificates.iter().all(|c| c.is_ca);
            ExtraRoots {
                index,
                effective: multi_root_enabled && all_ca,
                certs: bundle.certificates,
                trust_domains: entry.trust_domains.clone(),
                errors: if entry.pem.trim().is_empty() {
                    Vec::new()
                } else {
                    bundle.errors.into_iter().map(PemIssue::from).collect()
                },
            }
        })
        .collect()
}

/// The trust domains a mesh accepts from peers, with where each comes from.
/// `caCertificates[].trustDomains` only count from Istio 1.18 on (V001 reports older meshes).
pub fn accepted_trust_domains(mesh: &Mesh) -> Vec<(String, String)> {
    let mut out = vec![(mesh.config.trust_domain.clone(), "trustDomain".to_string())];
    for alias in &mesh.config.trust_domain_aliases {
        out.push((alias.clone(), "trustDomainAliases".to_string()));
    }
    if mesh.istio_minor_version().is_some_and(|v| v < (1, 18)) {
        return out;
    }
    for (i, entry) in mesh.config.ca_certificates.iter().enumerate() {
        for td in &entry.trust_domains {
            out.push((td.clone(), format!("caCertificates[{i}].trustDomains")));
        }
    }
    out
}
