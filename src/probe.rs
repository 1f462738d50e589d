//! Live TLS probes: handshake with the remote side exactly as a client sidecar would, capture
//! everything, and say how it ended in the catalogue's terms.
//!
//! Stages: resolve → TCP connect → ClientHello (SNI, ALPN) → ServerHello → chain captured
//! (even when it fails verification) → chain verified against the client's roots with the
//! same verifier the offline checks use → URI SAN checked → client certificate presented →
//! one bounded read after the handshake, because with TLS 1.3 a server rejects a client
//! certificate only after the client's handshake has completed.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use checks::finding::CertificateEvidence;
use checks::model::{NegativeProbe, Negotiated, ProbeObservation, ProbeOutcome, ProbeStage};
use checks::pki::{Certificate, Verification, verify};
use checks::time::Timestamp;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, Resumption};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{AlertDescription, DigitallySignedStruct, SignatureScheme};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A client identity: certificate chain (leaf first) and its key.
#[derive(Clone)]
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: Arc<PrivateKeyDer<'static>>,
    /// How to name it in reports (its SPIFFE ID or subject).
    pub name: String,
    /// Where it came from (`--probe-cert`, `minted from the client CA`, …).
    pub source: String,
}

impl std::fmt::Debug for Identity {
    // Never print the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("name", &self.name)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// What to probe and how.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    pub route: Option<String>,
    /// `host:port`.
    pub target: String,
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    /// The client's roots (DER).
    pub roots: Vec<Arc<Certificate>>,
    /// SANs the server must present one of; empty means no SAN check.
    pub expected_sans: Vec<String>,
    pub identity: Option<Identity>,
    /// TLS versions to offer: (min, max) as 12 or 13.
    pub versions: (u8, u8),
    pub stage_timeout: Duration,
    pub at: Timestamp,
    /// Also try without a client certificate and with a throwaway self-signed one.
    pub negative: bool,
    /// Reach the target through a Kubernetes port-forward instead of TCP.
    pub via: Option<PortForward>,
}

/// A gateway pod port reached through the API server (`pods/portforward`).
#[derive(Clone)]
pub struct PortForward {
    pub client: kube::Client,
    pub namespace: String,
    pub pod: String,
    pub port: u16,
}

impl std::fmt::Debug for PortForward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "port-forward {}/{}:{}",
            self.namespace, self.pod, self.port
        )
    }
}

/// What one handshake attempt observed.
#[derive(Default)]
struct Attempt {
    stages: Vec<ProbeStage>,
    chain: Vec<CertificateDer<'static>>,
    requested: Option<bool>,
    negotiated: Option<Negotiated>,
    /// How the connection ended, if it did not succeed.
    failure: Option<Failure>,
    /// Whether the server read our first application bytes without complaint.
    accepted_after_handshake: bool,
    /// The TCP connect time: a round trip, measured before any TLS work.
    connect_rtt: Option<Duration>,
}

#[derive(Debug, Clone)]
enum Failure {
    Unreachable(String),
    ClosedEarly(String),
    Alert(AlertDescription),
    Other(String),
}

/// Runs a probe and its negative variants.
pub async fn probe(spec: &ProbeSpec) -> ProbeObservation {
    let first = attempt(spec, spec.identity.as_ref(), "handshake").await;
    let mut observation = observe(spec, first);
    if spec.negative && reached_tls(&observation) {
        observation.negative = negative_probes(spec).await;
    }
    observation
}

/// Whether a probe got as far as a TLS exchange (the negative probes only make sense then).
pub fn reached_tls(observation: &ProbeObservation) -> bool {
    !matches!(
        observation.outcome,
        ProbeOutcome::Unreachable { .. } | ProbeOutcome::ClosedBeforeServerHello { .. }
    )
}

/// Handshakes with no client certificate and with a throwaway self-signed one: does the
/// server enforce client authentication?
pub async fn negative_probes(spec: &ProbeSpec) -> Vec<NegativeProbe> {
    let throwaway = throwaway_identity();
    let (none, self_signed) = futures::future::join(
        attempt(spec, None, "no client certificate"),
        attempt(spec, throwaway.as_ref(), "self-signed client certificate"),
    )
    .await;
    [
        ("no client certificate", none),
        ("self-signed client certificate", self_signed),
    ]
    .into_iter()
    .map(|(variant, result)| NegativeProbe {
        variant: variant.to_string(),
        accepted: result.failure.is_none() && result.accepted_after_handshake,
        detail: describe_failure(result.failure.as_ref())
            .unwrap_or_else(|| "handshake completed".into()),
    })
    .collect()
}

/// Turns an attempt into an observation and its outcome.
fn observe(spec: &ProbeSpec, mut attempt: Attempt) -> ProbeObservation {
    let certs: Vec<Arc<Certificate>> = attempt
        .chain
        .iter()
        .filter_map(|der| Certificate::from_der(der.as_ref()).ok().map(Arc::new))
        .collect();
    let presented_sans: Vec<String> = certs
        .first()
        .map(|c| c.uri_sans.iter().chain(&c.dns_sans).cloned().collect())
        .unwrap_or_default();
    let mut unconfirmed = Vec::new();
    if spec.identity.is_none() {
        unconfirmed.push("the server's acceptance of the client identity (no client certificate or CA key available: T002, I001, G005 stay unconfirmed)".to_string());
    }
    let chain_problem = certs
        .split_first()
        .filter(|_| !spec.roots.is_empty())
        .and_then(
            |(leaf, rest)| match verify(leaf, rest, &spec.roots, spec.at) {
                Verification::Trusted { problems, .. } => problems.first().map(|p| p.describe()),
                Verification::Untrusted(why) => Some(why.describe()),
            },
        );
    if !certs.is_empty() {
        let detail = match &chain_problem {
            Some(problem) => problem.clone(),
            None if spec.roots.is_empty() => "not verified: no trust anchors given".to_string(),
            None => format!("trusted ({} certificates)", certs.len()),
        };
        attempt.stages.push(ProbeStage {
            name: "verify chain".into(),
            ok: chain_problem.is_none(),
            detail,
            millis: 0,
        });
        if spec.roots.is_empty() {
            unconfirmed.push("the server chain (no trust anchors: pass --ca)".to_string());
        }
    }
    let spiffe = presented_sans.iter().any(|s| s.starts_with("spiffe://"));
    let san_ok = spec.expected_sans.is_empty()
        || presented_sans
            .iter()
            .any(|s| spec.expected_sans.contains(s));
    if !certs.is_empty() && chain_problem.is_none() {
        attempt.stages.push(ProbeStage {
            name: "check SAN".into(),
            ok: san_ok && spiffe,
            detail: format!(
                "presented {presented_sans:?}, expected {:?}",
                spec.expected_sans
            ),
            millis: 0,
        });
    }
    let outcome = match (&attempt.failure, certs.is_empty()) {
        (Some(Failure::Unreachable(r)), _) => ProbeOutcome::Unreachable { reason: r.clone() },
        (Some(Failure::ClosedEarly(r)), true) => {
            ProbeOutcome::ClosedBeforeServerHello { reason: r.clone() }
        }
        (Some(Failure::Alert(a)), true) if parameters_alert(*a) => {
            ProbeOutcome::ParametersRejected {
                alert: alert_name(*a),
            }
        }
        _ if chain_problem.is_some() => ProbeOutcome::ServerChainUntrusted {
            reason: chain_problem.clone().unwrap_or_default(),
        },
        _ if !certs.is_empty() && (!san_ok || !spiffe) => ProbeOutcome::ServerIdentityUnexpected {
            presented: presented_sans.clone(),
            non_spiffe: !spiffe,
        },
        (Some(Failure::Alert(a)), false) if client_auth_alert(*a) => {
            ProbeOutcome::ClientCertificateRejected {
                alert: alert_name(*a),
            }
        }
        (Some(Failure::Alert(a)), _) if parameters_alert(*a) => ProbeOutcome::ParametersRejected {
            alert: alert_name(*a),
        },
        (Some(f), _) => ProbeOutcome::Other {
            reason: describe_failure(Some(f)).unwrap_or_default(),
        },
        (None, _) if spec.identity.is_none() && attempt.requested == Some(true) => {
            ProbeOutcome::Other {
                reason:
                    "the server asks for a client certificate and none was available to present"
                        .into(),
            }
        }
        (None, _) => ProbeOutcome::HandshakeOk,
    };
    ProbeObservation {
        route: spec.route.clone(),
        target: spec.target.clone(),
        sni: spec.sni.clone(),
        alpn_offered: spec.alpn.clone(),
        client_identity: spec.identity.as_ref().map(|i| i.name.clone()),
        identity_source: spec
            .identity
            .as_ref()
            .map_or("none".to_string(), |i| i.source.clone()),
        stages: attempt.stages,
        negotiated: attempt.negotiated,
        server_chain: certs.iter().map(CertificateEvidence::from).collect(),
        presented_sans,
        expected_sans: spec.expected_sans.clone(),
        client_certificate_requested: attempt.requested,
        outcome,
        negative: Vec::new(),
        unconfirmed,
    }
}

fn parameters_alert(a: AlertDescription) -> bool {
    matches!(
        a,
        AlertDescription::ProtocolVersion
            | AlertDescription::HandshakeFailure
            | AlertDescription::InsufficientSecurity
    )
}

fn client_auth_alert(a: AlertDescription) -> bool {
    matches!(
        a,
        AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateRequired
            | AlertDescription::CertificateRevoked
            | AlertDescription::AccessDenied
            | AlertDescription::DecryptError
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::HandshakeFailure
    )
}

/// `unknown_ca`, `certificate_required`, … as the TLS RFCs and Envoy's logs name them.
fn alert_name(a: AlertDescription) -> String {
    let name = match a {
        AlertDescription::CloseNotify => "close_notify",
        AlertDescription::UnexpectedMessage => "unexpected_message",
        AlertDescription::BadRecordMac => "bad_record_mac",
        AlertDescription::HandshakeFailure => "handshake_failure",
        AlertDescription::BadCertificate => "bad_certificate",
        AlertDescription::UnsupportedCertificate => "unsupported_certificate",
        AlertDescription::CertificateRevoked => "certificate_revoked",
        AlertDescription::CertificateExpired => "certificate_expired",
        AlertDescription::CertificateUnknown => "certificate_unknown",
        AlertDescription::IllegalParameter => "illegal_parameter",
        AlertDescription::UnknownCA => "unknown_ca",
        AlertDescription::AccessDenied => "access_denied",
        AlertDescription::DecodeError => "decode_error",
        AlertDescription::DecryptError => "decrypt_error",
        AlertDescription::ProtocolVersion => "protocol_version",
        AlertDescription::InsufficientSecurity => "insufficient_security",
        AlertDescription::InternalError => "internal_error",
        AlertDescription::UserCanceled => "user_canceled",
        AlertDescription::MissingExtension => "missing_extension",
        AlertDescription::UnsupportedExtension => "unsupported_extension",
        AlertDescription::UnrecognisedName => "unrecognized_name",
        AlertDescription::CertificateRequired => "certificate_required",
        AlertDescription::NoApplicationProtocol => "no_application_protocol",
        other => return format!("{other:?}").to_lowercase(),
    };
    name.to_string()
}

fn describe_failure(f: Option<&Failure>) -> Option<String> {
    f.map(|f| match f {
        Failure::Unreachable(r) | Failure::ClosedEarly(r) | Failure::Other(r) => r.clone(),
        Failure::Alert(a) => format!("alert {}", alert_name(*a)),
    })
}

/// One handshake attempt with the given identity.
async fn attempt(spec: &ProbeSpec, identity: Option<&Identity>, label: &str) -> Attempt {
    match &spec.via {
        Some(pf) => attempt_port_forward(spec, pf, identity, label).await,
        None => attempt_tcp(spec, identity, label).await,
    }
}

async fn attempt_tcp(spec: &ProbeSpec, identity: Option<&Identity>, label: &str) -> Attempt {
    let mut a = Attempt::default();
    let started = Instant::now();
    let addrs: Vec<SocketAddr> =
        match tokio::time::timeout(spec.stage_timeout, tokio::net::lookup_host(&spec.target)).await
        {
            Ok(Ok(addrs)) => addrs.collect(),
            Ok(Err(e)) => {
                return fail(
                    a,
                    "resolve",
                    Failure::Unreachable(format!("cannot resolve {}: {e}", spec.target)),
                    started,
                );
            }
            Err(_) => {
                return fail(
                    a,
                    "resolve",
                    Failure::Unreachable(format!("resolving {} timed out", spec.target)),
                    started,
                );
            }
        };
    let Some(addr) = addrs.first().copied() else {
        return fail(
            a,
            "resolve",
            Failure::Unreachable(format!("{} resolves to no address", spec.target)),
            started,
        );
    };
    stage(&mut a, "resolve", true, addr.to_string(), started);
    let started = Instant::now();
    let tcp = match tokio::time::timeout(spec.stage_timeout, TcpStream::connect(addr)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => {
            return fail(
                a,
                "TCP connect",
                Failure::Unreachable(format!("{addr}: {e}")),
                started,
            );
        }
        Err(_) => {
            return fail(
                a,
                "TCP connect",
                Failure::Unreachable(format!(
                    "{addr}: connection timed out after {:?}",
                    spec.stage_timeout
                )),
                started,
            );
        }
    };
    a.connect_rtt = Some(started.elapsed());
    stage(&mut a, "TCP connect", true, addr.to_string(), started);
    let fallback = ServerName::IpAddress(addr.ip().into());
    handshake(spec, identity, label, tcp, fallback, a).await
}

async fn attempt_port_forward(
    spec: &ProbeSpec,
    pf: &PortForward,
    identity: Option<&Identity>,
    label: &str,
) -> Attempt {
    use k8s_openapi::api::core::v1::Pod;
    let a = Attempt::default();
    let started = Instant::now();
    let pods: kube::Api<Pod> = kube::Api::namespaced(pf.client.clone(), &pf.namespace);
    let forwarder = match tokio::time::timeout(
        spec.stage_timeout,
        pods.portforward(&pf.pod, &[pf.port]),
    )
    .await
    {
        Ok(Ok(f)) => f,
        Ok(Err(kube::Error::Api(status))) if matches!(status.code, 401 | 403) => {
            return fail(
                a,
                "port-forward",
                Failure::Unreachable(format!(
                    "forbidden: needs RBAC `create` (WebSocket clients may need `get`) on `pods/portforward` in namespace {}: {}",
                    pf.namespace, status.message
                )),
                started,
            );
        }
        Ok(Err(e)) => {
            return fail(
                a,
                "port-forward",
                Failure::Unreachable(format!("{pf:?}: {e}")),
                started,
            );
        }
        Err(_) => {
            return fail(
                a,
                "port-forward",
                Failure::Unreachable(format!("{pf:?}: timed out")),
                started,
            );
        }
    };
    let mut forwarder = forwarder;
    let Some(stream) = forwarder.take_stream(pf.port) else {
        return fail(
            a,
            "port-forward",
            Failure::Unreachable(format!("{pf:?}: no stream")),
            started,
        );
    };
    let mut a = a;
    stage(&mut a, "port-forward", true, format!("{pf:?}"), started);
    let fallback = ServerName::try_from("localhost")
        .map(|n| n.to_owned())
        .unwrap_or_else(|_| ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    let result = handshake(spec, identity, label, stream, fallback, a).await;
    drop(forwarder);
    result
}

/// ClientHello to the read after the handshake, over any stream.
async fn handshake<S>(
    spec: &ProbeSpec,
    identity: Option<&Identity>,
    label: &str,
    io: S,
    fallback: ServerName<'static>,
    mut a: Attempt,
) -> Attempt
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let started = Instant::now();
    let recorder = Arc::new(Recorder::default());
    let config = match client_config(spec, identity, recorder.clone()) {
        Ok(c) => c,
        Err(e) => return fail(a, "TLS setup", Failure::Other(e), started),
    };
    let server_name = match &spec.sni {
        Some(sni) => match ServerName::try_from(sni.clone()) {
            Ok(n) => n,
            Err(e) => {
                return fail(
                    a,
                    "ClientHello",
                    Failure::Other(format!("invalid SNI: {e}")),
                    started,
                );
            }
        },
        None => fallback,
    };
    let connector = TlsConnector::from(Arc::new(config));
    let handshake =
        tokio::time::timeout(spec.stage_timeout, connector.connect(server_name, io)).await;
    a.chain = recorder.chain.lock().map(|c| c.clone()).unwrap_or_default();
    a.requested = Some(recorder.requested.lock().map(|r| *r).unwrap_or(false));
    let mut stream = match handshake {
        Err(_) => {
            return fail(
                a,
                "TLS handshake",
                Failure::ClosedEarly(format!("no ServerHello within {:?}", spec.stage_timeout)),
                started,
            );
        }
        Ok(Err(e)) => {
            let failure = classify_io(&e, !a.chain.is_empty());
            return fail(a, "TLS handshake", failure, started);
        }
        Ok(Ok(stream)) => stream,
    };
    let conn = stream.get_ref().1;
    a.negotiated = Some(Negotiated {
        version: conn
            .protocol_version()
            .map_or("?".into(), |v| format!("{v:?}").replace("TLSv1_", "TLS 1.")),
        cipher: conn
            .negotiated_cipher_suite()
            .map_or("?".into(), |c| format!("{:?}", c.suite())),
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    });
    let detail = format!(
        "{label}; client certificate requested: {}",
        a.requested == Some(true)
    );
    let handshake_took = started.elapsed();
    stage(&mut a, "TLS handshake", true, detail, started);
    // TLS 1.3: a rejection of our certificate arrives now, about one round trip after our
    // Finished. A server that accepted us waits for data: a quiet read of several round trips
    // means it did. The round trip comes from the TCP connect (the handshake time also counts
    // CPU queueing when many probes run at once); through a port-forward, from the handshake.
    let started = Instant::now();
    let mut buf = [0u8; 1];
    let round_trip = a.connect_rtt.unwrap_or(handshake_took / 2);
    let wait = (round_trip * 10)
        .clamp(Duration::from_millis(100), Duration::from_millis(1500))
        .min(spec.stage_timeout);
    match tokio::time::timeout(wait, stream.read(&mut buf)).await {
        Err(_) => {
            a.accepted_after_handshake = true;
            stage(
                &mut a,
                "read after handshake",
                true,
                "no rejection".into(),
                started,
            );
        }
        Ok(Ok(0)) => {
            a.accepted_after_handshake = false;
            a.failure = Some(Failure::Other(
                "the server closed the connection after the handshake".into(),
            ));
            stage(
                &mut a,
                "read after handshake",
                false,
                "closed by the server".into(),
                started,
            );
        }
        Ok(Ok(_)) => {
            a.accepted_after_handshake = true;
            stage(
                &mut a,
                "read after handshake",
                true,
                "the server sent data".into(),
                started,
            );
        }
        Ok(Err(e)) => {
            let failure = classify_io(&e, true);
            let detail = describe_failure(Some(&failure)).unwrap_or_default();
            a.failure = Some(failure);
            stage(&mut a, "read after handshake", false, detail, started);
        }
    }
    a
}

fn stage(a: &mut Attempt, name: &str, ok: bool, detail: String, started: Instant) {
    a.stages.push(ProbeStage {
        name: name.to_string(),
        ok,
        detail,
        millis: started.elapsed().as_millis() as u64,
    });
}

fn fail(mut a: Attempt, name: &str, failure: Failure, started: Instant) -> Attempt {
    let detail = describe_failure(Some(&failure)).unwrap_or_default();
    stage(&mut a, name, false, detail, started);
    a.failure = Some(failure);
    a
}

/// tokio-rustls wraps `rustls::Error` in an `io::Error`.
fn classify_io(e: &std::io::Error, saw_server_hello: bool) -> Failure {
    if let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return match tls {
            rustls::Error::AlertReceived(a) => Failure::Alert(*a),
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => Failure::Other(
                "the peer does not speak TLS: a plaintext or non-TLS answer".to_string(),
            ),
            rustls::Error::InvalidMessage(rustls::InvalidMessage::HandshakePayloadTooLarge) => Failure::Other(
                "the server's handshake message is too large to accept (an oversized certificate chain?)".to_string(),
            ),
            rustls::Error::InvalidMessage(m) => Failure::Other(format!("the peer sent an invalid TLS message ({m:?})")),
            other => Failure::Other(other.to_string()),
        };
    }
    let closed = matches!(
        e.kind(),
        std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::BrokenPipe
    );
    if closed && !saw_server_hello {
        Failure::ClosedEarly(format!(
            "connection closed without a TLS alert ({e}); typical of a gateway with no filter chain for the SNI"
        ))
    } else {
        Failure::Other(e.to_string())
    }
}

/// Records the server chain and whether a client certificate was requested.
#[derive(Debug, Default)]
struct Recorder {
    chain: Mutex<Vec<CertificateDer<'static>>>,
    requested: Mutex<bool>,
    provider: Option<Arc<CryptoProvider>>,
}

/// Accepts any chain (recording it) but still checks the handshake signatures, so the server
/// must hold the key of what it presents. The chain itself is judged afterwards with the
/// offline verifier, against the client's roots.
#[derive(Debug)]
struct CapturingVerifier {
    recorder: Arc<Recorder>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for CapturingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut chain) = self.recorder.chain.lock() {
            *chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Presents the identity (if any) and records that the server asked.
#[derive(Debug)]
struct RecordingResolver {
    recorder: Arc<Recorder>,
    key: Option<Arc<CertifiedKey>>,
}

impl ResolvesClientCert for RecordingResolver {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        if let Ok(mut requested) = self.recorder.requested.lock() {
            *requested = true;
        }
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        self.key.is_some()
    }
}

fn provider() -> Arc<CryptoProvider> {
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_config(
    spec: &ProbeSpec,
    identity: Option<&Identity>,
    recorder: Arc<Recorder>,
) -> Result<rustls::ClientConfig, String> {
    let provider = recorder.provider.clone().unwrap_or_else(provider);
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| *v >= spec.versions.0 && *v <= spec.versions.1)
            .map(|(_, p)| p)
            .collect();
    let key = match identity {
        Some(id) => {
            let signing = provider
                .key_provider
                .load_private_key(id.key.clone_key())
                .map_err(|e| format!("client key: {e}"))?;
            Some(Arc::new(CertifiedKey::new(id.chain.clone(), signing)))
        }
        None => None,
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(CapturingVerifier {
            recorder: recorder.clone(),
            provider: provider.clone(),
        }))
        .with_client_cert_resolver(Arc::new(RecordingResolver { recorder, key }));
    // A resumed handshake would skip the verifier.
    config.resumption = Resumption::disabled();
    config.alpn_protocols = spec.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    config.enable_sni = spec.sni.is_some();
    Ok(config)
}

/// A self-signed certificate nobody trusts, for the negative probe: made once per run.
fn throwaway_identity() -> Option<Identity> {
    static THROWAWAY: std::sync::OnceLock<Option<Identity>> = std::sync::OnceLock::new();
    THROWAWAY.get_or_init(make_throwaway_identity).clone()
}

fn make_throwaway_identity() -> Option<Identity> {
    let key = rcgen::KeyPair::generate().ok()?;
    let params =
        rcgen::CertificateParams::new(vec!["istio-peer-probe.invalid".to_string()]).ok()?;
    let cert = params.self_signed(&key).ok()?;
    Some(Identity {
        chain: vec![cert.der().clone()],
        key: Arc::new(PrivateKeyDer::Pkcs8(key.serialize_der().into())),
        name: "CN=istio-peer-probe.invalid (self-signed)".into(),
        source: "throwaway".into(),
    })
}

/// Reads `--probe-cert` (leaf then intermediates) and `--probe-key`.
pub fn identity_from_files(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<Identity, String> {
    use rustls::pki_types::pem::PemObject;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("{}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    let key_der =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let leaf = chain
        .first()
        .ok_or_else(|| format!("{}: no certificate", cert.display()))?;
    let name = Certificate::from_der(leaf.as_ref())
        .map(|c| c.spiffe_id().map(str::to_string).unwrap_or(c.subject))
        .unwrap_or_default();
    Ok(Identity {
        chain,
        key: Arc::new(key_der),
        name,
        source: format!("--probe-cert {}", cert.display()),
    })
}

/// Mints a short-lived workload certificate for `spiffe_id` from a CA certificate and key
/// (PEM), in memory only.
fn mint_identity(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    chain_above: &[CertificateDer<'static>],
    spiffe_id: &str,
    at: Timestamp,
) -> Result<Identity, String> {
    let ca_key = rcgen::KeyPair::from_pem(ca_key_pem).map_err(|e| format!("CA key: {e}"))?;
    let issuer = rcgen::Issuer::from_ca_cert_pem(ca_cert_pem, ca_key)
        .map_err(|e| format!("CA certificate: {e}"))?;
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.subject_alt_names = vec![rcgen::SanType::URI(
        spiffe_id
            .try_into()
            .map_err(|e| format!("{spiffe_id}: {e:?}"))?,
    )];
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let start =
        ::time::OffsetDateTime::from_unix_timestamp(at.0 - 120).map_err(|e| e.to_string())?;
    params.not_before = start;
    params.not_after = start + ::time::Duration::hours(1);
    let cert = params.signed_by(&key, &issuer).map_err(|e| e.to_string())?;
    let mut chain = vec![cert.der().clone()];
    chain.extend(chain_above.iter().cloned());
    Ok(Identity {
        chain,
        key: Arc::new(PrivateKeyDer::Pkcs8(key.serialize_der().into())),
        name: spiffe_id.to_string(),
        source: "minted from the client mesh's CA (in memory, 1 hour)".into(),
    })
}

/// A mesh CA's certificate and key, captured only so that probes can mint a client identity.
/// Held in memory for the run, never printed, written or logged.
#[derive(Clone)]
pub struct SigningCa {
    /// `cacerts` or `istio-ca-secret`.
    pub secret: String,
    pub cert_pem: String,
    key_pem: String,
    /// `cert-chain.pem`: the intermediates (and root) above the CA certificate.
    pub chain_pem: String,
}

impl std::fmt::Debug for SigningCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningCa")
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

impl SigningCa {
    /// Reads a CA Secret body (`data` in base64 or `stringData`); `None` for other objects.
    pub fn from_secret(body: &serde_json::Value) -> Option<SigningCa> {
        use base64::Engine;
        let name = body["metadata"]["name"].as_str()?;
        if body["kind"] != "Secret" || !matches!(name, "cacerts" | "istio-ca-secret") {
            return None;
        }
        let value = |key: &str| -> Option<String> {
            if let Some(text) = body["stringData"][key].as_str() {
                return Some(text.to_string());
            }
            let encoded: String = body["data"][key].as_str()?.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()?;
            String::from_utf8(bytes).ok()
        };
        Some(SigningCa {
            secret: name.to_string(),
            cert_pem: value("ca-cert.pem")?,
            key_pem: value("ca-key.pem")?,
            chain_pem: value("cert-chain.pem").unwrap_or_default(),
        })
    }

    /// Mints a workload identity under this CA.
    pub fn mint(&self, spiffe_id: &str, at: Timestamp) -> Result<Identity, String> {
        use rustls::pki_types::pem::PemObject;
        let ca = CertificateDer::from_pem_slice(self.cert_pem.as_bytes())
            .map_err(|e| format!("CA certificate: {e}"))?;
        // The chain a workload presents: leaf, its CA, then cert-chain.pem without the CA again.
        let mut above = vec![ca.clone().into_owned()];
        for cert in CertificateDer::pem_slice_iter(self.chain_pem.as_bytes()).flatten() {
            if cert.as_ref() != ca.as_ref() {
                above.push(cert.into_owned());
            }
        }
        mint_identity(&self.cert_pem, &self.key_pem, &above, spiffe_id, at).map(|mut id| {
            id.source = format!(
                "minted in memory from the client mesh's {} (valid 1 hour)",
                self.secret
            );
            id
        })
    }
}
