//! SPIFFE identities and Istio principals.

use serde::{Deserialize, Serialize};

/// `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`, the identity Istio puts in a
/// workload certificate's URI SAN.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SpiffeId {
    pub trust_domain: String,
    pub namespace: String,
    pub service_account: String,
}

impl SpiffeId {
    pub fn new(trust_domain: &str, namespace: &str, service_account: &str) -> SpiffeId {
        SpiffeId {
            trust_domain: trust_domain.to_string(),
            namespace: namespace.to_string(),
            service_account: service_account.to_string(),
        }
    }

    /// Parses a URI SAN. Only Istio's `/ns/<ns>/sa/<sa>` path form is an identity here.
    pub fn parse(uri: &str) -> Option<SpiffeId> {
        let rest = uri.strip_prefix("spiffe://")?;
        Self::parse_principal(rest)
    }

    /// Parses an AuthorizationPolicy principal `<td>/ns/<ns>/sa/<sa>` (no wildcards).
    pub fn parse_principal(text: &str) -> Option<SpiffeId> {
        let mut parts = text.split('/');
        let (td, ns_kw, ns, sa_kw, sa) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        let valid = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace);
        if parts.next().is_some()
            || ns_kw != "ns"
            || sa_kw != "sa"
            || ![td, ns, sa].into_iter().all(valid)
        {
            return None;
        }
        Some(SpiffeId::new(td, ns, sa))
    }

    pub fn uri(&self) -> String {
        format!("spiffe://{}", self.principal())
    }

    /// The form AuthorizationPolicies use: `<td>/ns/<ns>/sa/<sa>`.
    pub fn principal(&self) -> String {
        format!(
            "{}/ns/{}/sa/{}",
            self.trust_domain, self.namespace, self.service_account
        )
    }

    pub fn with_trust_domain(&self, trust_domain: &str) -> SpiffeId {
        SpiffeId {
            trust_domain: trust_domain.to_string(),
            ..self.clone()
        }
    }
}

impl std::fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "spiffe://{}", self.principal())
    }
}

/// The trust domain of any `spiffe://` URI, Istio path form or not.
pub fn trust_domain_of(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("spiffe://")?;
    let td = rest.split('/').next()?;
    (!td.is_empty()).then_some(td)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let id = SpiffeId::parse("spiffe://mesh-a.local/ns/shop/sa/frontend").unwrap();
        assert_eq!(id.trust_domain, "mesh-a.local");
        assert_eq!(id.uri(), "spiffe://mesh-a.local/ns/shop/sa/frontend");
        assert_eq!(id.principal(), "mesh-a.local/ns/shop/sa/frontend");
        assert_eq!(SpiffeId::parse_principal(&id.principal()), Some(id));
    }

    #[test]
    fn rejects_non_istio_forms() {
        for bad in [
            "spiffe://td/ns/a",
            "spiffe://td/ns/a/sa/b/c",
            "spiffe:///ns/a/sa/b",
            "https://td/ns/a/sa/b",
            "spiffe://td/x/a/sa/b",
        ] {
            assert_eq!(SpiffeId::parse(bad), None, "{bad}");
        }
        assert_eq!(trust_domain_of("spiffe://td/anything"), Some("td"));
    }
}
