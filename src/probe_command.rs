//! `istio-peer probe HOST:PORT`: one staged handshake, the on-call building block.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use checks::model::ProbeOutcome;
use checks::pki::{Bundle, Certificate, CertificateCache};

use crate::cli::{EXIT_USAGE, ProbeCommand, ReportFormat};
use crate::probe::{self, ProbeSpec};
use crate::render;

pub fn run(args: &ProbeCommand, out: &mut impl Write) -> u8 {
    let spec = match spec(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("istio-peer: {e}");
            return EXIT_USAGE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("istio-peer: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let observation = runtime.block_on(probe::probe(&spec));
    let ok = observation.outcome == ProbeOutcome::HandshakeOk;
    let text = match args.output {
        ReportFormat::Table => render::probe_report(&observation, render::use_color()),
        ReportFormat::Json => {
            let verdict = if ok { "pass" } else { "fail" };
            let value = serde_json::json!({ "schema_version": 1, "verdict": verdict, "code": observation.outcome.code(), "probe": observation });
            serde_json::to_string_pretty(&value).unwrap_or_default()
        }
    };
    if writeln!(out, "{text}").is_err() {
        return 1;
    }
    if ok { 0 } else { 1 }
}

fn spec(args: &ProbeCommand) -> Result<ProbeSpec, String> {
    let roots: Vec<Arc<Certificate>> = match &args.ca {
        Some(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("cannot read --ca {}: {e}", path.display()))?;
            let bundle = Bundle::decode(&bytes, &mut CertificateCache::default());
            if let Some(err) = bundle.errors.first() {
                return Err(format!(
                    "--ca {}: line {}: {}",
                    path.display(),
                    err.line,
                    err.message
                ));
            }
            bundle.certificates
        }
        None => Vec::new(),
    };
    let identity = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => Some(probe::identity_from_files(cert, key)?),
        _ => None,
    };
    let version = |v: &str| match v {
        "1.2" => Ok(12),
        "1.3" => Ok(13),
        other => Err(format!("unsupported TLS version `{other}` (1.2 or 1.3)")),
    };
    let versions = (version(&args.tls_min)?, version(&args.tls_max)?);
    if versions.0 > versions.1 {
        return Err("--tls-min is above --tls-max".into());
    }
    if !args.target.contains(':') {
        return Err(format!("`{}` is not HOST:PORT", args.target));
    }
    Ok(ProbeSpec {
        route: None,
        target: args.target.clone(),
        sni: args.sni.clone(),
        alpn: args
            .alpn
            .iter()
            .filter(|a| !a.is_empty())
            .cloned()
            .collect(),
        roots,
        expected_sans: args.expect_san.clone(),
        identity,
        versions,
        stage_timeout: Duration::from_secs(args.timeout.max(1)),
        at: crate::now(),
        negative: args.negative,
        via: None,
    })
}
