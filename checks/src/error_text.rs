//! Decodes error text pasted from Envoy logs, `curl`/OpenSSL output or application errors into
//! cross-mesh mTLS diagnoses: who rejected whom, what it means, the catalogue codes that usually
//! cause it and what to run next. Backs `istio-peer explain "<error text>"`.
//!
//! Recognition is a static table of [`Signature`]s. Text is matched case-insensitively with `_`
//! read as a space, so Envoy's `CERTIFICATE_VERIFY_FAILED`, OpenSSL's `certificate verify failed`
//! and an access log's `Connection_reset_by_peer` are one spelling. A BoringSSL code and its name
//! in the same text are one signature, hence one diagnosis. Commands in the next steps use the
//! kube contexts `A` (client mesh) and `B` (server mesh) and `<placeholders>` to fill in.

use Needle::{Flag, Text};
use serde::Serialize;

/// One recognised item of error text, explained.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnosis {
    /// What was recognised, e.g. "CERTIFICATE_VERIFY_FAILED (268435581)".
    pub matched: String,
    /// Who rejected whom, in words: e.g. "this proxy rejected the peer's certificate chain or SAN".
    pub who_rejected: String,
    /// What it means and the usual causes, 1-3 sentences.
    pub meaning: String,
    /// Catalogue codes that commonly cause it, most likely first (e.g. ["T001", "T005", "I002", "C001"]).
    pub likely_codes: Vec<&'static str>,
    /// Concrete next steps (commands).
    pub next_steps: Vec<String>,
}

/// Every recognised item in `text`, in order of first appearance; empty when nothing is
/// recognised. Generic signatures (Envoy's 503 body, a bare `403`) are reported only when nothing
/// more specific was recognised.
pub fn decode(text: &str) -> Vec<Diagnosis> {
    let texts = SearchTexts::new(text);
    let found = first_appearances(leftmost_longest(all_hits(&texts)));
    let any_specific = found.iter().any(|item| !item.is_generic());
    found
        .into_iter()
        .filter(|item| !(any_specific && item.is_generic()))
        .map(Item::diagnosis)
        .collect()
}

/// Envoy reports BoringSSL errors as `ERR_PACK(ERR_LIB_SSL, reason)` = 268435456 + reason.
const SSL_LIBRARY_BASE: u64 = 268_435_456;
/// BoringSSL's `SSL_R_*_ALERT_*` reasons are 1000 + the TLS alert number the peer sent.
const ALERT_REASON_BASE: u64 = 1000;

// Steps name only commands that exist today; `doctor` on live contexts and `probe` replace
// these once they land.
const DOCTOR: &str = "istio-peer doctor --client-context <A> --server-context <B>  # or --client/--server with manifests or snapshots";
const PROBE: &str = "openssl s_client -connect <gateway-address>:15443 -servername outbound_.<port>_._.<host> -alpn istio -showcerts  # what B presents";
const CLIENT_ROOTS: &str = "istioctl --context A proxy-config secret <client-pod> -n <ns>  # ROOTCA and the chain A's proxy holds";
const SERVER_ROOTS: &str = "istioctl --context B proxy-config secret <server-pod> -n <ns>  # ROOTCA and the chain B's proxy holds";
const CLIENT_CLUSTER: &str = "istioctl --context A proxy-config cluster <client-pod> -n <ns> --fqdn <host> -o json  # SNI, ALPN, expected SANs, client certificate";
const GATEWAY_CHAINS: &str = "istioctl --context B proxy-config listener <eastwest-gateway-pod> -n istio-system --port 15443  # the SNIs B's gateway serves";
const SERVER_MESH_CONFIG: &str = "kubectl --context B -n istio-system get configmap istio -o jsonpath='{.data.mesh}'  # trustDomain, trustDomainAliases, caCertificates, meshMTLS";
const CLIENT_TLS_OBJECTS: &str = "kubectl --context A get destinationrule,serviceentry -A -o yaml  # tls.mode, credentialName, subjectAltNames, endpoints";
const CLIENT_ROOT_FINGERPRINT: &str = r"kubectl --context A -n istio-system get configmap istio-ca-root-cert -o jsonpath='{.data.root-cert\.pem}' | openssl x509 -noout -subject -fingerprint -sha256";
const CLIENT_CA_EXTENSIONS: &str = r"kubectl --context A -n istio-system get secret cacerts -o jsonpath='{.data.ca-cert\.pem}' | base64 -d | openssl x509 -noout -text | grep -A1 -E 'Basic Constraints|Key Usage|Key Identifier'";
const TLS_VERSION_POLICY: &str = "kubectl --context B -n istio-system get deploy istiod -o yaml | grep -A1 -E 'COMPLIANCE_POLICY|ISTIO_MULTIROOT_MESH'  # repeat with --context A";
const GATEWAY_SERVICE: &str = "kubectl --context B -n istio-system get service istio-eastwestgateway  # port 15443 and EXTERNAL-IP";
const GATEWAY_LOG: &str = "kubectl --context B -n istio-system logs deploy/istio-eastwestgateway | grep -E 'filter_chain_not_found|NR'";
const CLIENT_PROXY_LOG: &str = "kubectl --context A -n <ns> logs <client-pod> -c istio-proxy | grep -E ' UF |TLS_error'  # the transport failure reason";

/// How a needle is searched for.
#[derive(Debug, Clone, Copy)]
enum Needle {
    /// Case-insensitive, `_` read as a space, whole words at alphanumeric edges.
    Text(&'static str),
    /// Exact case (Envoy response flags like `UF`), `_` read as a space, whole words.
    Flag(&'static str),
}

/// A recognisable error, with its explanation.
#[derive(Debug)]
struct Signature {
    /// The canonical name shown in `matched`.
    name: &'static str,
    /// Envoy's numeric code; also searched for, so code and name are one diagnosis.
    code: Option<u64>,
    needles: &'static [Needle],
    who_rejected: &'static str,
    meaning: &'static str,
    likely_codes: &'static [&'static str],
    next_steps: &'static [&'static str],
    /// Too vague to report next to a specific signature (Envoy's 503 body, a bare `403`).
    generic: bool,
}

/// Likely codes when the server closed the connection before saying anything (L002 in probes).
const CLOSED_BEFORE_SERVER_HELLO: &[&str] = &["G002", "G003", "G006", "G004", "R002"];
/// Likely codes when the gateway address cannot be reached (L001 in probes).
const UNREACHABLE: &[&str] = &["G001", "G007", "N001"];
/// Likely codes for a failed upstream connection whose reason is not in the text.
const UPSTREAM_FAILURE: &[&str] = &["T001", "T002", "I001", "I002", "G002", "G001", "G007"];

static SIGNATURES: &[Signature] = &[
    Signature {
        name: "CERTIFICATE_VERIFY_FAILED",
        code: Some(268_435_581),
        needles: &[Text("certificate verify failed")],
        who_rejected: "this proxy rejected the peer's certificate chain or SAN",
        meaning: "This proxy refused the certificate the peer presented: the chain does not reach a root it trusts (foreign or self-signed CA, extra roots not in effect, missing intermediate, two roots with one name), a certificate is expired, not yet valid or not a proper CA, or the URI SAN is not one it expects. On the client side a probe reports L003 (chain) or L004 (SAN); the text after `verify cert failed:` says which.",
        likely_codes: &[
            "T001", "T005", "T006", "I002", "C001", "C003", "C004", "T007", "T009",
        ],
        next_steps: &[DOCTOR, CLIENT_ROOTS, CLIENT_CLUSTER, PROBE],
        generic: false,
    },
    Signature {
        name: "unknown issuer (unable to get local issuer certificate)",
        code: None,
        needles: &[
            Text("unable to get local issuer certificate"),
            Text("unable to get issuer certificate"),
            Text("self signed certificate"),
            Text("self-signed certificate"),
            Text("self signed certificate in certificate chain"),
            Text("self-signed certificate in certificate chain"),
            Text("x509: certificate signed by unknown authority"),
            Text("pkix path building failed"),
            Text("unable to find valid certification path"),
        ],
        who_rejected: "this proxy (or the client application) could not chain the peer's certificate to a root it trusts",
        meaning: "The peer's chain leads to no root in this side's trust set: the peer mesh signs with a different root (often istiod's self-signed one), extra roots are configured but not in effect, or the peer omits an intermediate. A probe reports L003 (unknown issuer).",
        likely_codes: &["T001", "T005", "T007", "T003", "T009", "T008"],
        next_steps: &[DOCTOR, CLIENT_ROOTS, SERVER_ROOTS, PROBE],
        generic: false,
    },
    Signature {
        name: "SAN mismatch (verify cert failed: SAN)",
        code: None,
        needles: &[Text("verify san list"), Text("san matcher")],
        who_rejected: "this proxy accepted the peer's chain but rejected its identity (URI SAN)",
        meaning: "The peer's SPIFFE ID is not among the SANs this proxy expects: DestinationRule `tls.subjectAltNames` or ServiceEntry `subjectAltNames` name another identity, the expected SANs were computed in the local trust domain, or a terminating gateway presents its own service account. A probe reports L004.",
        likely_codes: &["I002", "G008", "I005"],
        next_steps: &[DOCTOR, CLIENT_CLUSTER, CLIENT_TLS_OBJECTS, PROBE],
        generic: false,
    },
    Signature {
        name: "peer certificate expired or not yet valid",
        code: None,
        needles: &[
            Text("certificate has expired"),
            Text("certificate is not yet valid"),
            Text("x509: certificate has expired or is not yet valid"),
        ],
        who_rejected: "this proxy (or the client application) rejected the peer's certificate: outside its validity period",
        meaning: "A certificate in the peer's chain (leaf, intermediate or root) is past notAfter, or its notBefore lies in the future because of clock skew beyond Istio's 2-minute backdate. A probe reports L003 (expired).",
        likely_codes: &["C001", "C003"],
        next_steps: &[
            DOCTOR,
            SERVER_ROOTS,
            "kubectl --context B -n <ns> exec <server-pod> -c istio-proxy -- date -u  # clock skew",
        ],
        generic: false,
    },
    Signature {
        name: "certificate signature failure",
        code: None,
        needles: &[Text("certificate signature failure")],
        who_rejected: "this proxy rejected the peer's chain: a signature does not verify",
        meaning: "A certificate's signature does not verify against the issuer this proxy picked: usually two different roots in its trust set share a subject name and the intermediate has no matching authority key identifier (T006). A probe reports L003 (bad signature).",
        likely_codes: &["T006", "T004"],
        next_steps: &[DOCTOR, CLIENT_ROOTS, CLIENT_CA_EXTENSIONS],
        generic: false,
    },
    Signature {
        name: "empty cert chain",
        code: None,
        needles: &[Text("empty cert chain")],
        who_rejected: "this proxy rejected the peer: it presented no certificate",
        meaning: "The peer sent no certificate. On the server (mesh B) this means the client originated TLS without a client certificate: a MUTUAL DestinationRule whose `credentialName` sidecars ignore (no `workloadSelector`), or an application doing its own TLS.",
        likely_codes: &["R003", "R002"],
        next_steps: &[DOCTOR, CLIENT_CLUSTER, CLIENT_TLS_OBJECTS],
        generic: false,
    },
    Signature {
        name: "TLSV1_ALERT_UNKNOWN_CA",
        code: Some(268_436_504),
        needles: &[
            Text("tlsv1 alert unknown ca"),
            Text("remote error: tls: unknown certificate authority"),
        ],
        who_rejected: "the peer rejected this proxy's certificate: it could not chain it to a root it trusts",
        meaning: "The peer sent alert unknown_ca after receiving this side's certificate: its trust set lacks this mesh's root (separate self-signed CAs, extra roots not in effect without `ISTIO_MULTIROOT_MESH`/`PROXY_CONFIG_XDS_AGENT`, a MUTUAL gateway CA bundle without it) or this side omits an intermediate. A probe reports L005.",
        likely_codes: &["T002", "T003", "G005", "T005", "T007", "T009"],
        next_steps: &[DOCTOR, SERVER_ROOTS, CLIENT_ROOT_FINGERPRINT, PROBE],
        generic: false,
    },
    Signature {
        name: "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        code: Some(268_436_502),
        needles: &[
            Text("sslv3 alert certificate unknown"),
            Text("remote error: tls: unknown certificate"),
        ],
        who_rejected: "the peer accepted this proxy's chain but rejected its identity (SAN / trust domain)",
        meaning: "The peer sent alert certificate_unknown: typically mesh B's sidecar does not accept mesh A's trust domain (not in `trustDomain`, `trustDomainAliases` or `caCertificates[].trustDomains`), or a MUTUAL gateway's `tls.subjectAltNames` excludes the client. A probe reports L005.",
        likely_codes: &["I001", "G005"],
        next_steps: &[DOCTOR, SERVER_MESH_CONFIG, CLIENT_ROOTS, PROBE],
        generic: false,
    },
    Signature {
        name: "SSLV3_ALERT_BAD_CERTIFICATE",
        code: Some(268_436_498),
        needles: &[
            Text("sslv3 alert bad certificate"),
            Text("remote error: tls: bad certificate"),
        ],
        who_rejected: "the peer rejected this proxy's certificate without naming a reason",
        meaning: "The peer sent alert bad_certificate for the certificate this side presented: usually an untrusted CA, an identity it does not accept or an expired certificate; the peer's own log names the cause. A probe reports L005.",
        likely_codes: &["T002", "I001", "G005", "C001"],
        next_steps: &[
            DOCTOR,
            "kubectl --context B -n <ns> logs <server-pod> -c istio-proxy | grep TLS_error  # the peer's own reason",
            CLIENT_ROOTS,
            PROBE,
        ],
        generic: false,
    },
    Signature {
        name: "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        code: Some(268_436_501),
        needles: &[
            Text("sslv3 alert certificate expired"),
            Text("certificate expired"),
            Text("remote error: tls: expired certificate"),
        ],
        who_rejected: "the peer rejected this proxy's certificate as expired or not yet valid",
        meaning: "A certificate this side presented (leaf, or an intermediate from `cert-chain.pem`) is past notAfter, or not yet valid on the peer's clock (skew beyond Istio's 2-minute backdate). A probe reports L005 (certificate_expired).",
        likely_codes: &["C001", "C003"],
        next_steps: &[
            DOCTOR,
            CLIENT_ROOTS,
            "kubectl --context B -n <ns> exec <server-pod> -c istio-proxy -- date -u  # clock skew",
        ],
        generic: false,
    },
    Signature {
        name: "TLSV1_ALERT_DECRYPT_ERROR",
        code: Some(268_436_507),
        needles: &[
            Text("tlsv1 alert decrypt error"),
            Text("decrypt error"),
            Text("remote error: tls: error decrypting message"),
        ],
        who_rejected: "the peer could not verify a signature from this side (its chain or handshake signature)",
        meaning: "A signature check failed at the peer: most often two different roots in one trust set share a subject name and the intermediate lacks an authority key identifier, so the wrong root is picked (T006); a private key that does not match its certificate (T004) gives the same alert.",
        likely_codes: &["T006", "T004"],
        next_steps: &[DOCTOR, SERVER_ROOTS, CLIENT_CA_EXTENSIONS],
        generic: false,
    },
    Signature {
        name: "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        code: Some(268_436_499),
        needles: &[
            Text("sslv3 alert unsupported certificate"),
            Text("unsupported certificate"),
        ],
        who_rejected: "the peer rejected this proxy's certificate: its key usage or extended key usage forbids this use",
        meaning: "The peer refused the certificate's purpose: a leaf without the clientAuth/serverAuth EKU, or a plug-in CA whose basic constraints, key usage or EKU do not allow what it signed. A probe reports L005.",
        likely_codes: &["C004"],
        next_steps: &[DOCTOR, CLIENT_CA_EXTENSIONS, CLIENT_ROOTS],
        generic: false,
    },
    Signature {
        name: "TLSV1_ALERT_CERTIFICATE_REQUIRED",
        code: Some(268_436_572),
        needles: &[
            Text("alert certificate required"),
            Text("remote error: tls: certificate required"),
        ],
        who_rejected: "the peer (server) required a client certificate and this proxy sent none",
        meaning: "The server asked for a client certificate and got none: a MUTUAL gateway expecting a credential the client lacks, a MUTUAL DestinationRule whose `credentialName` sidecars ignore (no `workloadSelector`), or an application originating TLS itself. With TLS 1.3 the alert arrives after the client's handshake completed; a probe reports L005.",
        likely_codes: &["G005", "R003", "R002"],
        next_steps: &[DOCTOR, CLIENT_CLUSTER, CLIENT_TLS_OBJECTS, PROBE],
        generic: false,
    },
    Signature {
        name: "SSLV3_ALERT_HANDSHAKE_FAILURE",
        code: Some(268_436_496),
        needles: &[
            Text("sslv3 alert handshake failure"),
            Text("remote error: tls: handshake failure"),
        ],
        who_rejected: "the peer aborted the handshake: no acceptable parameters, or (TLS 1.2) no client certificate",
        meaning: "The peer found no cipher suite or key-exchange group in common with this side (`meshMTLS.cipherSuites`, ECDH curves, `COMPLIANCE_POLICY`), or on TLS 1.2 a server requiring a client certificate received none. A probe reports L007.",
        likely_codes: &["P002", "G005", "P001"],
        next_steps: &[DOCTOR, SERVER_MESH_CONFIG, TLS_VERSION_POLICY, PROBE],
        generic: false,
    },
    Signature {
        name: "TLSV1_ALERT_PROTOCOL_VERSION",
        code: Some(268_436_526),
        needles: &[
            Text("tlsv1 alert protocol version"),
            Text("remote error: tls: protocol version not supported"),
        ],
        who_rejected: "the peer refused the TLS versions this proxy offered",
        meaning: "The two sides' TLS version windows do not overlap: `meshMTLS.minProtocolVersion`, Gateway or DestinationRule min/max versions, or istiod's `COMPLIANCE_POLICY` (fips-140-2: TLS 1.2 only; pqc: TLS 1.3 only). A probe reports L007.",
        likely_codes: &["P001"],
        next_steps: &[DOCTOR, SERVER_MESH_CONFIG, TLS_VERSION_POLICY, PROBE],
        generic: false,
    },
    Signature {
        name: "WRONG_VERSION_NUMBER",
        code: Some(268_435_703),
        needles: &[
            Text("wrong version number"),
            Text("tls: first record does not look like a tls handshake"),
        ],
        who_rejected: "this proxy, as TLS client, received non-TLS bytes from the peer",
        meaning: "The other end answered in plaintext: a B gateway in PASSTHROUGH mode wraps A's mTLS in its own, so B's sidecar hands A's ClientHello to the application (G009); or the target port bypasses the sidecar, or is not a TLS port at all.",
        likely_codes: &["G009", "R002", "S002"],
        next_steps: &[
            PROBE,
            "kubectl --context B get gateway -A -o yaml | grep -B8 'mode: PASSTHROUGH'",
            "kubectl --context B -n <ns> get pod <server-pod> -o yaml | grep -E 'excludeInboundPorts|sidecar.istio.io/inject'",
            DOCTOR,
        ],
        generic: false,
    },
    Signature {
        name: "HTTP_REQUEST",
        code: Some(268_435_612),
        needles: &[Text(":http request"), Flag("HTTP REQUEST")],
        who_rejected: "this proxy, as TLS server, received a plaintext HTTP request",
        meaning: "The client sent plaintext to a port that expects TLS: mesh A originates plaintext to the remote host (a MESH_EXTERNAL ServiceEntry without a TLS DestinationRule, endpoints without `tlsMode: istio`, `tls.mode: DISABLE`, or auto-mTLS off).",
        likely_codes: &["R002"],
        next_steps: &[CLIENT_CLUSTER, CLIENT_TLS_OBJECTS, DOCTOR],
        generic: false,
    },
    Signature {
        name: "filter_chain_not_found",
        code: None,
        needles: &[
            Text("filter chain not found"),
            Text("no matching filter chain found"),
        ],
        who_rejected: "the server-side listener (usually B's east-west gateway on 15443) matched no filter chain and closed the connection without a TLS alert",
        meaning: "No filter chain matched the SNI/ALPN the client sent: the SNI names a host, port or subset mesh B does not have or the Gateway `hosts` do not cover, the client sent no Istio ALPN (MUTUAL instead of ISTIO_MUTUAL), the target has no mTLS endpoints, or the client sent plaintext. A probe reports L002.",
        likely_codes: CLOSED_BEFORE_SERVER_HELLO,
        next_steps: &[GATEWAY_CHAINS, CLIENT_CLUSTER, PROBE, DOCTOR],
        generic: false,
    },
    Signature {
        name: "connection termination",
        code: None,
        needles: &[Text("connection termination")],
        who_rejected: "the peer closed the connection without a TLS alert or a response",
        meaning: "The remote end closed the connection before answering; on 15443 this is usually B's gateway finding no filter chain for the SNI (`filter_chain_not_found`). A probe reports L002.",
        likely_codes: CLOSED_BEFORE_SERVER_HELLO,
        next_steps: &[GATEWAY_LOG, GATEWAY_CHAINS, CLIENT_CLUSTER, PROBE, DOCTOR],
        generic: false,
    },
    Signature {
        name: "connection closed during the TLS handshake",
        code: None,
        needles: &[
            Text("ssl error syscall"),
            Text("unexpected eof while reading"),
            Text("remote host terminated the handshake"),
            Text("eof occurred in violation of protocol"),
        ],
        who_rejected: "the server side closed the connection during the handshake without a TLS alert",
        meaning: "The server hung up after the ClientHello: on B's east-west gateway no filter chain matches the SNI/ALPN, the target has no mTLS endpoints, or the gateway requires an SNI it did not get. A probe reports L002.",
        likely_codes: CLOSED_BEFORE_SERVER_HELLO,
        next_steps: &[GATEWAY_CHAINS, GATEWAY_LOG, PROBE, DOCTOR],
        generic: false,
    },
    Signature {
        name: "Connection reset by peer",
        code: Some(33_554_536),
        needles: &[
            Text("connection reset by peer"),
            Text("delayed connect error: 104"),
            Text("econnreset"),
        ],
        who_rejected: "the peer (or something in between) reset the TCP connection",
        meaning: "A reset instead of a TLS alert: B's gateway dropping a connection whose SNI matches no filter chain, a PASSTHROUGH gateway double-wrapping TLS, or no listener behind the address. A probe reports L002 after the TCP connect, L001 during it.",
        likely_codes: &["G002", "G003", "G006", "G004", "R002", "G009", "G001"],
        next_steps: &[GATEWAY_LOG, GATEWAY_CHAINS, CLIENT_CLUSTER, PROBE, DOCTOR],
        generic: false,
    },
    Signature {
        name: "connection refused (delayed connect error: 111)",
        code: None,
        needles: &[
            Text("connection refused"),
            Text("delayed connect error: 111"),
            Text("econnrefused"),
        ],
        who_rejected: "nothing accepted the TCP connection: the address and port have no listener",
        meaning: "The gateway address or port mesh A dials does not listen: no east-west/ingress Gateway serves that port, the gateway Service lacks the port, or the ServiceEntry endpoints point elsewhere. A probe reports L001.",
        likely_codes: UNREACHABLE,
        next_steps: &[
            GATEWAY_SERVICE,
            "kubectl --context B get gateway -A -o yaml  # a server on 15443 (AUTO_PASSTHROUGH) or the ingress port",
            CLIENT_TLS_OBJECTS,
            PROBE,
            DOCTOR,
        ],
        generic: false,
    },
    Signature {
        name: "connection timeout",
        code: None,
        needles: &[
            Text("connection timeout"),
            Text("connection timed out"),
            Text("delayed connect error: 110"),
            Text("i/o timeout"),
        ],
        who_rejected: "the TCP connection was never answered",
        meaning: "Packets to the gateway address are dropped or go nowhere: the gateway Service has no external address, the ServiceEntry endpoint is wrong, a firewall blocks it, or the meshes' networks cannot reach each other. A probe reports L001.",
        likely_codes: &["G007", "G001", "N001"],
        next_steps: &[GATEWAY_SERVICE, CLIENT_TLS_OBJECTS, PROBE, DOCTOR],
        generic: false,
    },
    Signature {
        name: "no healthy upstream (503 UH)",
        code: None,
        needles: &[
            Text("no healthy upstream"),
            Text("503 uh"),
            Flag("UH"),
            Text("nohealthyupstream"),
        ],
        who_rejected: "this proxy had no healthy endpoint to send to; nothing was dialled",
        meaning: "The destination's cluster is empty: on mesh A's sidecar the remote host has no (resolvable) ServiceEntry endpoints; on B's gateway the SNI's cluster has no pods with a sidecar and mTLS (`security.istio.io/tlsMode=istio`).",
        likely_codes: &["G004", "R001", "R005"],
        next_steps: &[
            "istioctl --context A proxy-config endpoint <client-pod> -n <ns> --cluster 'outbound|<port>||<host>'",
            "istioctl --context B proxy-config endpoint <eastwest-gateway-pod> -n istio-system --cluster 'outbound_.<port>_._.<host>'",
            "kubectl --context B -n <ns> get pods -L security.istio.io/tlsMode  # endpoints with a sidecar",
            DOCTOR,
        ],
        generic: false,
    },
    Signature {
        name: "503 UF (upstream connection failure)",
        code: None,
        needles: &[
            Text("503 uf"),
            Flag("UF"),
            Text("upstreamconnectionfailure"),
        ],
        who_rejected: "this proxy could not establish the upstream connection (TCP or TLS)",
        meaning: "Envoy failed to connect upstream; the transport failure reason in the same access-log line (or `transport failure reason:` in the 503 body) says why, and decodes on its own. TLS reasons point to the trust (T), identity (I) and certificate (C) checks, connect errors to the gateway (G) checks.",
        likely_codes: UPSTREAM_FAILURE,
        next_steps: &[
            CLIENT_PROXY_LOG,
            "istio-peer explain \"<transport failure reason>\"",
            PROBE,
            DOCTOR,
        ],
        generic: false,
    },
    Signature {
        name: "RBAC: access denied (403)",
        code: None,
        needles: &[
            Text("rbac: access denied"),
            Text("rbac access denied"),
            Text("403 forbidden"),
            Text("http/1.1 403"),
            Text("http/1.0 403"),
            Text("http/2 403"),
            Text("http/1.1\" 403"),
            Text("http/1.0\" 403"),
            Text("http/2\" 403"),
            Text("status: 403"),
            Text("status=403"),
            Text("status 403"),
            Text("status code 403"),
            Text("status code: 403"),
            Text("response code\":403"),
            Text("response code\": 403"),
        ],
        who_rejected: "the server's sidecar accepted the mTLS connection, then an AuthorizationPolicy denied the request",
        meaning: "mTLS worked; mesh B's authorization rejected the caller's principal. End to end it is `<A's trust domain>/ns/<ns>/sa/<sa>`, which a `cluster.local/...` or B-domain principal only matches when A's trust domain is one of B's aliases; through a terminating gateway it is the gateway's identity (G008).",
        likely_codes: &["I003", "G008"],
        next_steps: &[
            "istioctl --context B x authz check <server-pod> -n <ns>",
            "kubectl --context B get authorizationpolicy -A -o yaml",
            "istioctl --context B proxy-config log <server-pod> -n <ns> --level rbac:debug  # the sidecar log then names the principal",
            DOCTOR,
        ],
        generic: false,
    },
    Signature {
        name: "NR (no route)",
        code: None,
        needles: &[Flag("NR"), Text("noroutefound"), Text("route not found")],
        who_rejected: "this proxy had no route or filter chain for the request; nothing was forwarded",
        meaning: "On mesh A's sidecar (404 NR) the remote host is unknown or out of scope: no ServiceEntry, `exportTo` or a Sidecar scope excluding it, or DNS resolving to an address no listener covers. On B's gateway a TCP `NR` with `filter_chain_not_found` means the SNI matched no chain.",
        likely_codes: &["R001", "R004", "R005", "G002"],
        next_steps: &[
            "istioctl --context A proxy-config route <client-pod> -n <ns>  # is <host> routed?",
            "kubectl --context A get serviceentry,sidecar -A -o yaml  # hosts, exportTo, egress scope",
            GATEWAY_CHAINS,
            DOCTOR,
        ],
        generic: false,
    },
    Signature {
        name: "HTTP 403",
        code: None,
        needles: &[Text("403")],
        who_rejected: "the server refused the request (HTTP 403) after the connection was established",
        meaning: "A 403 between meshes usually comes from an AuthorizationPolicy in mesh B (`RBAC: access denied`), though the application itself may send it.",
        likely_codes: &["I003", "G008"],
        next_steps: &[
            "istioctl --context B x authz check <server-pod> -n <ns>",
            DOCTOR,
        ],
        generic: true,
    },
    Signature {
        name: "upstream connect error (Envoy 503 body)",
        code: None,
        needles: &[
            Text("upstream connect error"),
            Text("remote connection failure"),
            Text("upstream reset before response started"),
        ],
        who_rejected: "this proxy failed to connect to, or was reset by, the upstream",
        meaning: "Envoy's generic 503: the `reset reason` and `transport failure reason` that follow it say why (a TLS error code, connection termination, refused, timeout); paste them too to decode them.",
        likely_codes: UPSTREAM_FAILURE,
        next_steps: &[CLIENT_PROXY_LOG, PROBE, DOCTOR],
        generic: true,
    },
];

/// The text searched twice: case-folded for [`Needle::Text`], case-kept for [`Needle::Flag`].
/// Both read `_` as a space; only ASCII bytes change, so byte offsets agree with the input.
struct SearchTexts {
    folded: String,
    spaced: String,
}

impl SearchTexts {
    fn new(text: &str) -> SearchTexts {
        let spaced = text.replace('_', " ");
        SearchTexts {
            folded: spaced.to_ascii_lowercase(),
            spaced,
        }
    }
}

/// What a hit stands for.
#[derive(Debug, Clone, Copy)]
enum Item {
    Known(&'static Signature),
    /// A `2684xxxxx` number no signature names.
    UnknownReason(u64),
}

/// Where in the text an item was recognised (byte range).
#[derive(Debug, Clone, Copy)]
struct Hit {
    start: usize,
    end: usize,
    item: Item,
}

fn all_hits(texts: &SearchTexts) -> Vec<Hit> {
    let mut hits: Vec<Hit> = SIGNATURES
        .iter()
        .flat_map(|signature| signature_hits(signature, texts))
        .collect();
    hits.extend(unknown_reason_hits(&texts.folded));
    hits
}

fn signature_hits(signature: &'static Signature, texts: &SearchTexts) -> Vec<Hit> {
    let code = signature.code.map(|c| c.to_string());
    let code_hits = code.iter().flat_map(|c| word_hits(&texts.folded, c));
    let needle_hits = signature.needles.iter().flat_map(|needle| match *needle {
        Text(text) => word_hits(&texts.folded, text),
        Flag(flag) => word_hits(&texts.spaced, flag),
    });
    code_hits
        .chain(needle_hits)
        .map(|(start, end)| Hit {
            start,
            end,
            item: Item::Known(signature),
        })
        .collect()
}

/// Byte ranges where `needle` occurs as a whole word: an alphanumeric edge of the needle must not
/// continue into an alphanumeric neighbour (so `UF` is not found in `URX`, nor `403` in `1403`).
fn word_hits(haystack: &str, needle: &str) -> Vec<(usize, usize)> {
    let bytes = haystack.as_bytes();
    let (first, last) = (needle.as_bytes().first(), needle.as_bytes().last());
    haystack
        .match_indices(needle)
        .map(|(start, found)| (start, start + found.len()))
        .filter(|&(start, end)| {
            let before = start.checked_sub(1).and_then(|i| bytes.get(i));
            let glued_before = is_alphanumeric(first) && is_alphanumeric(before);
            let glued_after = is_alphanumeric(last) && is_alphanumeric(bytes.get(end));
            !glued_before && !glued_after
        })
        .collect()
}

fn is_alphanumeric(byte: Option<&u8>) -> bool {
    byte.is_some_and(u8::is_ascii_alphanumeric)
}

/// Nine-digit `2684…` numbers that no signature names: BoringSSL SSL-library reasons we do not
/// decode.
fn unknown_reason_hits(folded: &str) -> Vec<Hit> {
    digit_runs(folded)
        .filter(|&(start, end)| end - start == 9 && folded[start..].starts_with("2684"))
        .filter_map(|(start, end)| {
            let number: u64 = folded[start..end].parse().ok()?;
            let known = SIGNATURES.iter().any(|s| s.code == Some(number));
            (!known).then_some(Hit {
                start,
                end,
                item: Item::UnknownReason(number),
            })
        })
        .collect()
}

/// Maximal runs of ASCII digits not glued to letters (byte ranges).
fn digit_runs(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            if !bytes[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let glued = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphabetic);
            if !glued(start.checked_sub(1).and_then(|p| bytes.get(p))) && !glued(bytes.get(i)) {
                return Some((start, i));
            }
        }
        None
    })
}

/// Resolves overlapping hits: the leftmost wins, and among hits starting together the longest
/// (so `remote error: tls: unknown certificate authority` is not also `… unknown certificate`).
fn leftmost_longest(mut hits: Vec<Hit>) -> Vec<Hit> {
    hits.sort_by_key(|hit| (hit.start, std::cmp::Reverse(hit.end)));
    let mut kept: Vec<Hit> = Vec::new();
    for hit in hits {
        if kept.last().is_none_or(|last| hit.start >= last.end) {
            kept.push(hit);
        }
    }
    kept
}

/// Each item once, at its first appearance (hits arrive sorted by position).
fn first_appearances(hits: Vec<Hit>) -> Vec<Item> {
    let mut seen = std::collections::HashSet::new();
    hits.into_iter()
        .map(|hit| hit.item)
        .filter(|item| seen.insert(item.identity()))
        .collect()
}

impl Item {
    /// Signature names are unique (tested), so a name identifies a signature.
    fn identity(&self) -> (&'static str, u64) {
        match self {
            Item::Known(signature) => (signature.name, 0),
            Item::UnknownReason(number) => ("", *number),
        }
    }

    fn is_generic(&self) -> bool {
        matches!(self, Item::Known(signature) if signature.generic)
    }

    fn diagnosis(self) -> Diagnosis {
        match self {
            Item::Known(signature) => signature.diagnosis(),
            Item::UnknownReason(number) => unknown_reason_diagnosis(number),
        }
    }
}

impl Signature {
    fn diagnosis(&self) -> Diagnosis {
        let matched = match self.code {
            Some(code) => format!("{} ({code})", self.name),
            None => self.name.to_string(),
        };
        Diagnosis {
            matched,
            who_rejected: self.who_rejected.to_string(),
            meaning: self.meaning.to_string(),
            likely_codes: self.likely_codes.to_vec(),
            next_steps: self.next_steps.iter().map(ToString::to_string).collect(),
        }
    }
}

fn unknown_reason_diagnosis(number: u64) -> Diagnosis {
    let Some(reason) = number.checked_sub(SSL_LIBRARY_BASE) else {
        return Diagnosis {
            matched: number.to_string(),
            who_rejected: "unknown".to_string(),
            meaning: format!(
                "{number} is below {SSL_LIBRARY_BASE}, so it is not an Envoy TLS error (268435456 + a BoringSSL reason); it may be another number in the log."
            ),
            likely_codes: Vec::new(),
            next_steps: vec![DOCTOR.to_string()],
        };
    };
    let alert = alert_number(reason);
    Diagnosis {
        matched: number.to_string(),
        who_rejected: match alert {
            Some(_) => "the peer rejected this proxy's handshake (it sent a TLS alert)".to_string(),
            None => "not determined: this proxy's TLS stack failed the handshake".to_string(),
        },
        meaning: unknown_reason_meaning(number, reason, alert),
        likely_codes: Vec::new(),
        next_steps: vec![
            format!(
                "curl -s https://raw.githubusercontent.com/google/boringssl/main/include/openssl/ssl.h | grep -E 'define SSL_R_[A-Z0-9_]+ {reason}$'"
            ),
            DOCTOR.to_string(),
        ],
    }
}

fn unknown_reason_meaning(number: u64, reason: u64, alert: Option<u64>) -> String {
    let base = format!(
        "{number} is 268435456 + reason {reason}, a BoringSSL SSL-library error istio-peer does not decode; look up reason {reason} in BoringSSL's include/openssl/ssl.h (`SSL_R_…`)."
    );
    match alert {
        Some(alert) => format!(
            "{base} Reasons 1000-1255 are TLS alerts received from the peer: this is alert {alert} ({}).",
            alert_name(alert).unwrap_or("unassigned")
        ),
        None if reason > 0xfff => {
            format!("{base} BoringSSL reasons are below 4096, so the number may be mangled.")
        }
        None => base,
    }
}

/// The TLS alert number carried by an `SSL_R_*_ALERT_*` reason.
fn alert_number(reason: u64) -> Option<u64> {
    reason
        .checked_sub(ALERT_REASON_BASE)
        .filter(|alert| *alert <= 255)
}

/// TLS alert descriptions (RFC 8446 §6, RFC 5246 §7.2).
fn alert_name(alert: u64) -> Option<&'static str> {
    Some(match alert {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matched(text: &str) -> Vec<String> {
        decode(text).into_iter().map(|d| d.matched).collect()
    }

    const ENVOY_CVF: &str = "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote connection failure, transport failure reason: TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end";

    #[test]
    fn envoy_503_body_with_verify_failure_is_one_diagnosis() {
        let diagnoses = decode(ENVOY_CVF);
        assert_eq!(diagnoses.len(), 1, "{diagnoses:#?}");
        let d = &diagnoses[0];
        assert_eq!(d.matched, "CERTIFICATE_VERIFY_FAILED (268435581)");
        assert!(d.who_rejected.starts_with("this proxy rejected the peer"));
        assert_eq!(d.likely_codes[..4], ["T001", "T005", "T006", "I002"]);
        assert!(d.likely_codes.contains(&"C001"));
        assert!(d.meaning.contains("L003"));
        assert!(
            d.next_steps
                .iter()
                .any(|s| s.starts_with("istio-peer doctor"))
        );
        assert!(
            d.next_steps
                .iter()
                .any(|s| s.starts_with("openssl s_client"))
        );
    }

    #[test]
    fn verify_failure_detail_is_explained_after_the_code() {
        let text = "TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:verify cert failed: verify SAN list:TLS_error_end";
        assert_eq!(
            matched(text),
            [
                "CERTIFICATE_VERIFY_FAILED (268435581)",
                "SAN mismatch (verify cert failed: SAN)"
            ]
        );
        let issuer = "CERTIFICATE_VERIFY_FAILED: verify cert failed: X509_verify_cert: certificate verification error at depth 0: unable to get local issuer certificate";
        assert_eq!(decode(issuer)[1].likely_codes[0], "T001");
    }

    #[test]
    fn curl_unknown_ca_blames_the_peer() {
        let diagnoses = decode("curl: (35) error:0A000418:SSL routines::tlsv1 alert unknown ca");
        assert_eq!(diagnoses.len(), 1);
        let d = &diagnoses[0];
        assert_eq!(d.matched, "TLSV1_ALERT_UNKNOWN_CA (268436504)");
        assert!(
            d.who_rejected
                .starts_with("the peer rejected this proxy's certificate")
        );
        assert_eq!(d.likely_codes[..3], ["T002", "T003", "G005"]);
        assert!(d.meaning.contains("L005"));
    }

    #[test]
    fn access_log_with_uf_yields_flag_then_transport_reason() {
        let line = r#"[2026-05-01T10:00:00.000Z] "GET /api HTTP/1.1" 503 UF upstream_reset_before_response_started{remote_connection_failure,TLS_error:_268436502:SSL_routines:OPENSSL_internal:SSLV3_ALERT_CERTIFICATE_UNKNOWN:TLS_error_end} - "-" 0 190 403 - "-" "curl/8.5.0" "0c6b" "api.payments.mesh-b.global:8080" "203.0.113.10:15443" outbound|8080||api.payments.mesh-b.global"#;
        let diagnoses = decode(line);
        let names: Vec<_> = diagnoses.iter().map(|d| d.matched.as_str()).collect();
        assert_eq!(
            names,
            [
                "503 UF (upstream connection failure)",
                "SSLV3_ALERT_CERTIFICATE_UNKNOWN (268436502)"
            ]
        );
        assert!(diagnoses[0].meaning.contains("transport failure reason"));
        assert_eq!(diagnoses[1].likely_codes, ["I001", "G005"]);
    }

    #[test]
    fn uf_flag_among_other_flags() {
        assert_eq!(
            matched(r#""- - -" 0 UF,URX - "-" 0 0 3 - "-""#),
            ["503 UF (upstream connection failure)"]
        );
        assert!(matched("URX UFO uf").is_empty());
    }

    #[test]
    fn rbac_denial() {
        let diagnoses = decode("RBAC: access denied");
        assert_eq!(diagnoses.len(), 1);
        assert_eq!(diagnoses[0].matched, "RBAC: access denied (403)");
        assert_eq!(diagnoses[0].likely_codes, ["I003", "G008"]);
        let log = r#""GET / HTTP/1.1" 403 - rbac_access_denied_matched_policy[none] - "-" 0 19"#;
        assert_eq!(matched(log), ["RBAC: access denied (403)"]);
    }

    #[test]
    fn bare_403_only_when_nothing_else() {
        assert_eq!(matched("got a 403 from the server"), ["HTTP 403"]);
        assert_eq!(
            matched("503 UF took 403 ms"),
            ["503 UF (upstream connection failure)"]
        );
        assert!(matched("t=10:22:33.403Z 14030").is_empty());
    }

    #[test]
    fn unknown_boringssl_reason() {
        let diagnoses = decode(
            "TLS_error:|268435999:SSL routines:OPENSSL_internal:SOMETHING_NEW:TLS_error_end",
        );
        assert_eq!(diagnoses.len(), 1);
        let d = &diagnoses[0];
        assert_eq!(d.matched, "268435999");
        assert!(
            d.meaning.contains("268435456 + reason 543"),
            "{}",
            d.meaning
        );
        assert!(d.likely_codes.is_empty());
        assert!(d.next_steps[0].contains("ssl.h") && d.next_steps[0].contains(" 543$"));
    }

    #[test]
    fn unknown_alert_reason_names_the_alert() {
        let d = &decode("268436505")[0];
        assert!(
            d.meaning.contains("alert 49 (access_denied)"),
            "{}",
            d.meaning
        );
        assert!(d.who_rejected.starts_with("the peer"));
    }

    #[test]
    fn code_and_name_together_are_one_diagnosis() {
        for text in [
            "268436504 TLSV1_ALERT_UNKNOWN_CA tlsv1 alert unknown ca",
            "SSLV3_ALERT_HANDSHAKE_FAILURE (268436496)",
            "33554536:system library:OPENSSL_internal:Connection reset by peer",
            "no healthy upstream ... 503 UH",
        ] {
            assert_eq!(decode(text).len(), 1, "{text}");
        }
    }

    #[test]
    fn every_table_code_and_spelling_is_recognised() {
        let cases = [
            ("268435581", "certificate verify failed", "T001"),
            ("268436504", "tlsv1 alert unknown ca", "T002"),
            ("268436502", "sslv3 alert certificate unknown", "I001"),
            ("268436501", "certificate expired", "C001"),
            ("268436507", "decrypt error", "T006"),
            ("268436499", "unsupported certificate", "C004"),
            ("268436572", "tlsv13 alert certificate required", "G005"),
            ("268436496", "sslv3 alert handshake failure", "P002"),
            ("268436526", "tlsv1 alert protocol version", "P001"),
            ("268435703", "wrong version number", "G009"),
            ("268435612", "ssl3_get_record:http request", "R002"),
        ];
        for (code, spelling, first) in cases {
            let by_code = decode(&format!("TLS_error:|{code}:SSL routines"));
            let by_name = decode(&format!("error:0A000000:SSL routines::{spelling}"));
            assert_eq!(by_code.len(), 1, "{code}");
            assert_eq!(by_code, by_name, "{code} vs {spelling}");
            assert_eq!(by_code[0].likely_codes[0], first, "{code}");
            assert!(by_code[0].matched.contains(code));
        }
    }

    #[test]
    fn network_level_strings() {
        let cases = [
            ("filter_chain_not_found", "G002"),
            (
                "upstream_reset_before_response_started{connection_termination}",
                "G002",
            ),
            ("delayed connect error: 104", "G002"),
            ("delayed connect error: 111", "G001"),
            (
                "curl: (7) Failed to connect to 203.0.113.10 port 15443: Connection refused",
                "G001",
            ),
            ("connection timeout", "G007"),
            ("no healthy upstream", "G004"),
            (
                "curl: (35) OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to gw:15443",
                "G002",
            ),
            (r#""- - -" 0 NR filter_chain_not_found"#, "R001"),
        ];
        for (text, first) in cases {
            let diagnoses = decode(text);
            assert!(!diagnoses.is_empty(), "{text}");
            assert_eq!(diagnoses[0].likely_codes[0], first, "{text}");
        }
        assert!(
            decode("connection refused")
                .iter()
                .all(|d| d.meaning.contains("L001"))
        );
        assert!(decode("filter_chain_not_found")[0].meaning.contains("L002"));
    }

    #[test]
    fn nr_only_as_a_word() {
        assert_eq!(matched("404 NR route_not_found"), ["NR (no route)"]);
        assert!(matched("NRX SNR nr").is_empty());
    }

    #[test]
    fn order_of_appearance() {
        assert_eq!(
            matched("RBAC: access denied then Connection reset by peer"),
            [
                "RBAC: access denied (403)",
                "Connection reset by peer (33554536)"
            ]
        );
    }

    #[test]
    fn go_client_alerts_do_not_shadow_each_other() {
        assert_eq!(
            matched("remote error: tls: unknown certificate authority"),
            ["TLSV1_ALERT_UNKNOWN_CA (268436504)"]
        );
        assert_eq!(
            matched("remote error: tls: unknown certificate"),
            ["SSLV3_ALERT_CERTIFICATE_UNKNOWN (268436502)"]
        );
    }

    #[test]
    fn nothing_recognised() {
        assert!(decode("everything is fine, 200 OK in 12ms").is_empty());
        assert!(decode("").is_empty());
        assert!(decode("   \n\t").is_empty());
    }

    #[test]
    fn generic_503_body_alone_is_reported() {
        assert_eq!(
            matched(
                "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure"
            ),
            ["upstream connect error (Envoy 503 body)"]
        );
    }

    #[test]
    fn no_panic_on_odd_input() {
        let non_ascii = "Ошибка TLS: ✗ CERTIFICATE_VERIFY_FAILED ✓ 268436504日本 ß_UF_ß 2684";
        assert_eq!(
            matched(non_ascii),
            [
                "CERTIFICATE_VERIFY_FAILED (268435581)",
                "TLSV1_ALERT_UNKNOWN_CA (268436504)",
                "503 UF (upstream connection failure)"
            ]
        );
        let huge = "é noise 2684 UFX _ ".repeat(100_000) + "268436526";
        assert_eq!(matched(&huge), ["TLSV1_ALERT_PROTOCOL_VERSION (268436526)"]);
        for text in [
            "_",
            "2",
            "268435456",
            "268400000",
            "\u{0}\u{ffff}",
            "26843558١",
        ] {
            let _ = decode(text);
        }
        assert_eq!(decode("268435456")[0].likely_codes, Vec::<&str>::new());
        assert!(decode("268400000")[0].meaning.contains("below"));
    }

    #[test]
    fn signature_table_is_well_formed() {
        let mut names = std::collections::HashSet::new();
        for signature in SIGNATURES {
            assert!(names.insert(signature.name), "duplicate {}", signature.name);
            for needle in signature.needles {
                let ok = match *needle {
                    Text(text) => text == text.to_ascii_lowercase(),
                    Flag(flag) => flag == flag.to_ascii_uppercase(),
                };
                assert!(ok && !format!("{needle:?}").contains('_'), "{needle:?}");
            }
        }
    }

    #[test]
    fn every_likely_code_is_a_catalogue_code() {
        let is_code = |c: &str| {
            c.len() == 4
                && "TICGRSPNVLE".contains(&c[..1])
                && c[1..].bytes().all(|b| b.is_ascii_digit())
        };
        for signature in SIGNATURES {
            assert!(!signature.likely_codes.is_empty(), "{}", signature.name);
            assert!(
                signature.likely_codes.iter().all(|c| is_code(c)),
                "{}",
                signature.name
            );
            assert!(!signature.next_steps.is_empty(), "{}", signature.name);
        }
    }

    #[test]
    fn serialises_to_json() {
        let json = serde_json::to_value(decode("RBAC: access denied")).unwrap();
        assert_eq!(json[0]["likely_codes"][0], "I003");
        assert!(json[0]["next_steps"].is_array());
    }
}
