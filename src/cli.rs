//! The command line. Names, flags and exit codes are a contract (README, cli-contract).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use checks::engine::FailOn;
use checks::time::Timestamp;
use clap::{Parser, Subcommand, ValueEnum};

use crate::user_checks::UserCheckArgs;
use crate::{doctor, render};

/// Exit code for usage errors and unreadable input paths.
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "istio-peer",
    version,
    about = "Explains why mutual TLS between two Istio meshes fails, and how to fix it"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Diagnose cross-mesh mTLS from a client mesh to a server mesh.
    Doctor(Box<DoctorArgs>),
    /// List the check catalogue, with the plug-ins and rules found.
    Checks {
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = ListFormat::Table)]
        output: ListFormat,
        #[command(flatten)]
        user: UserCheckArgs,
    },
    /// Print the JSON Schema of the model handed to plug-ins on stdin.
    Schema,
    /// Declarative rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// One staged TLS handshake against HOST:PORT, as a mesh sidecar would do it.
    Probe(ProbeCommand),
    /// Capture a cluster's relevant objects into a directory (Secrets redacted) for later
    /// offline runs (`doctor --client DIR`).
    Snapshot(SnapshotArgs),
    /// Explain a check (by code or name), or decode an Envoy/BoringSSL/curl error text.
    Explain {
        /// A check code (T001), a check name (client-does-not-trust-server-ca), or error text
        /// as pasted from logs (`...TLS_error:|268435581:...CERTIFICATE_VERIFY_FAILED`,
        /// `tlsv1 alert unknown ca`, `RBAC: access denied`, `503 UF`).
        query: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// Run every rule of DIR against the cases in DIR/tests/*.yaml (exit 1 when a case fails,
    /// 2 when a rule or case is invalid).
    Test {
        /// A rules directory.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
pub struct SnapshotArgs {
    /// The kubeconfig context of the cluster to capture.
    #[arg(long)]
    pub context: String,
    /// Output directory (created; existing snapshot files are replaced).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: PathBuf,
    #[command(flatten)]
    pub live: LiveArgs,
}

/// How to reach live clusters.
#[derive(clap::Args, Debug, Clone)]
pub struct LiveArgs {
    /// Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Bound on collecting each cluster, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub timeout: u64,
    /// Log every request to the Kubernetes API and its duration on stderr.
    #[arg(long)]
    pub verbose: bool,
}

#[derive(clap::Args, Debug)]
pub struct ProbeCommand {
    /// The address to dial.
    #[arg(value_name = "HOST:PORT")]
    pub target: String,
    /// SNI to send (e.g. outbound_.8080_._.api.payments.svc.cluster.local); none by default.
    #[arg(long)]
    pub sni: Option<String>,
    /// ALPN protocols to offer, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "istio-peer-exchange,istio"
    )]
    pub alpn: Vec<String>,
    /// Trust anchors (PEM bundle) to verify the server chain against.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Client certificate to present (leaf first, then intermediates).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// Private key of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// A SAN the server must present (repeatable).
    #[arg(long = "expect-san", value_name = "URI")]
    pub expect_san: Vec<String>,
    /// Highest TLS version to offer (1.2 or 1.3).
    #[arg(long, value_name = "VERSION", default_value = "1.3")]
    pub tls_max: String,
    /// Lowest TLS version to offer (1.2 or 1.3).
    #[arg(long, value_name = "VERSION", default_value = "1.2")]
    pub tls_min: String,
    /// Timeout of each stage, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub timeout: u64,
    /// Also try without a client certificate and with a throwaway self-signed one.
    #[arg(long)]
    pub negative: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = ReportFormat::Table)]
    pub output: ReportFormat,
}

/// Live TLS probes of the routes.
#[derive(clap::Args, Debug, Clone)]
pub struct ProbeArgs {
    /// Probe the routes with live TLS handshakes (default for live inputs).
    #[arg(long, conflicts_with = "no_probe")]
    pub probe: bool,
    /// Do not probe, even with live inputs.
    #[arg(long)]
    pub no_probe: bool,
    /// Probe this address instead of the route's (e.g. a test server).
    #[arg(long, value_name = "HOST:PORT")]
    pub probe_address: Option<String>,
    /// How to reach the gateway: directly, or through a Kubernetes port-forward to a gateway
    /// pod of the server cluster (for internal gateways; needs --server-context).
    #[arg(long, value_enum, default_value_t = ProbeVia::Direct)]
    pub probe_via: ProbeVia,
    /// Client certificate the probes present (leaf first, then intermediates).
    #[arg(long, value_name = "FILE")]
    pub probe_cert: Option<PathBuf>,
    /// Private key of --probe-cert.
    #[arg(long, value_name = "FILE")]
    pub probe_key: Option<PathBuf>,
    /// Identity to mint from the client mesh's CA: NAMESPACE/SERVICE-ACCOUNT.
    #[arg(long, value_name = "NS/SA")]
    pub probe_identity: Option<String>,
    /// Timeout of each probe stage, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub probe_timeout: u64,
}

/// Reading running proxies' Envoy admin state.
#[derive(clap::Args, Debug, Clone)]
pub struct InspectArgs {
    /// Read what the routes' proxies hold (certificates, roots, cluster TLS, ssl counters)
    /// from Envoy's admin port through a Kubernetes port-forward (live contexts only).
    #[arg(long)]
    pub inspect_proxies: bool,
    /// Pods inspected per workload.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 3,
        requires = "inspect_proxies",
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub inspect_limit: u16,
    /// Seconds between the two samples of the ssl counters (a rise means failures now).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 2.0,
        requires = "inspect_proxies"
    )]
    pub inspect_interval: f64,
}

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("client_input").required(true).multiple(true).args(["client", "client_context"])))]
#[command(group(clap::ArgGroup::new("server_input").required(true).multiple(true).args(["server", "server_context"])))]
pub struct DoctorArgs {
    /// Client mesh inputs: files or directories of Kubernetes objects (YAML or JSON) or
    /// snapshots. Repeatable.
    #[arg(long = "client", value_name = "PATH", num_args = 1..)]
    pub client: Vec<PathBuf>,
    /// Server mesh inputs: files or directories of Kubernetes objects (YAML or JSON) or
    /// snapshots. Repeatable.
    #[arg(long = "server", value_name = "PATH", num_args = 1..)]
    pub server: Vec<PathBuf>,
    /// Read the client mesh live from this kubeconfig context.
    #[arg(long, value_name = "CTX")]
    pub client_context: Option<String>,
    /// Read the server mesh live from this kubeconfig context.
    #[arg(long, value_name = "CTX")]
    pub server_context: Option<String>,
    #[command(flatten)]
    pub live: LiveArgs,
    #[command(flatten)]
    pub probe: ProbeArgs,
    #[command(flatten)]
    pub inspect: InspectArgs,
    #[command(flatten)]
    pub user: UserCheckArgs,
    /// Run only this check: a built-in code, name or category, a plug-in name, a rule code or
    /// name (repeatable). Environment findings (E001–E004) are always reported.
    #[arg(long = "check", value_name = "NAME")]
    pub check: Vec<String>,
    /// Do not run this check (same names as --check; repeatable).
    #[arg(long = "skip", value_name = "NAME")]
    pub skip: Vec<String>,
    /// Label for the client mesh in reports (default: the context, or the first input's name).
    #[arg(long)]
    pub client_name: Option<String>,
    /// Label for the server mesh in reports (default: the context, or the first input's name).
    #[arg(long)]
    pub server_name: Option<String>,
    /// Only analyse routes to HOST. Repeatable.
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
    /// Evaluation instant, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339", value_parser = parse_at)]
    pub at: Option<Timestamp>,
    /// Days before expiry at which C002 warns.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub expiry_warning: i64,
    /// Output: FORMAT or FORMAT=FILE, repeatable (`-o table -o sarif=results.sarif`). Formats:
    /// table, json, sarif, junit, github, markdown.
    #[arg(short = 'o', long = "output", value_name = "FORMAT[=FILE]", value_parser = parse_output)]
    pub output: Vec<OutputSpec>,
    /// File for the last `-o` format given without one (`-o junit --output-file junit.xml`).
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// Lowest severity that fails the run (exit 1); default `error`, or the config file's.
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOnArg>,
    /// Report CODE, check name or category as an error (repeatable).
    #[arg(long, value_name = "CODE|CATEGORY")]
    pub deny: Vec<String>,
    /// Report CODE, check name or category as a warning (repeatable).
    #[arg(long, value_name = "CODE|CATEGORY")]
    pub warn: Vec<String>,
    /// Report CODE, check name or category as info: never fails (repeatable).
    #[arg(long, value_name = "CODE|CATEGORY")]
    pub allow: Vec<String>,
    /// Config file with overrides and waivers (default: ./.istio-peer.toml when present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A previous `doctor -o json` report: only findings not in it fail the gate.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Print the duration of each phase on stderr (for benchmarks).
    #[arg(long, hide = true)]
    pub timings: bool,
}

/// Every report format `doctor` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Sarif,
    Junit,
    Github,
    Markdown,
}

/// `-o FORMAT[=FILE]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputSpec {
    pub format: Format,
    pub file: Option<PathBuf>,
}

fn parse_output(text: &str) -> Result<OutputSpec, String> {
    let (name, file) = match text.split_once('=') {
        Some((n, f)) if !f.is_empty() => (n, Some(PathBuf::from(f))),
        Some((n, _)) => (n, None),
        None => (text, None),
    };
    let format = match name {
        "table" => Format::Table,
        "json" => Format::Json,
        "sarif" => Format::Sarif,
        "junit" => Format::Junit,
        "github" => Format::Github,
        "markdown" | "md" => Format::Markdown,
        other => {
            return Err(format!(
                "unknown format `{other}` (table, json, sarif, junit, github, markdown)"
            ));
        }
    };
    Ok(OutputSpec { format, file })
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeVia {
    Direct,
    PortForward,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Table,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOnArg {
    Error,
    Warning,
    Never,
}

impl From<FailOnArg> for FailOn {
    fn from(f: FailOnArg) -> FailOn {
        match f {
            FailOnArg::Error => FailOn::Error,
            FailOnArg::Warning => FailOn::Warning,
            FailOnArg::Never => FailOn::Never,
        }
    }
}

fn parse_at(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse_rfc3339(text)
}

pub fn main() -> ExitCode {
    // One crypto provider for every TLS user (kube, probes): ring.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    ExitCode::from(run(cli))
}

/// Runs a parsed command and returns its exit code.
pub fn run(cli: Cli) -> u8 {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let code = match cli.command {
        Command::Doctor(args) => doctor::run(&args, &mut out),
        Command::Snapshot(args) => crate::snapshot::run(&args),
        Command::Probe(args) => crate::probe_command::run(&args, &mut out),
        Command::Checks { output, user } => match crate::user_checks::UserChecks::load(&user) {
            Ok(user) => {
                let text = match output {
                    ListFormat::Table => render::catalogue_table(&user),
                    ListFormat::Json => render::catalogue_json(&user),
                };
                write_or_fail(&mut out, &text)
            }
            Err(message) => {
                eprintln!("istio-peer: {message}");
                EXIT_USAGE
            }
        },
        Command::Schema => write_or_fail(&mut out, checks::user::SCHEMA.trim_end()),
        Command::Rules(RulesCommand::Test { dir }) => crate::rules_test::run(&dir, &mut out),
        Command::Explain { query } => match render::explain(&query) {
            Some(text) => write_or_fail(&mut out, &text),
            None => {
                eprintln!(
                    "istio-peer: `{query}` is neither a check (see `istio-peer checks`) nor an error text istio-peer recognises"
                );
                EXIT_USAGE
            }
        },
    };
    let _ = out.flush();
    code
}

fn write_or_fail(out: &mut impl Write, text: &str) -> u8 {
    match writeln!(out, "{text}") {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

impl LiveArgs {
    /// Collection options from these flags.
    pub fn options(&self, capture_signing: bool) -> crate::live::Options {
        crate::live::Options {
            timeout: std::time::Duration::from_secs(self.timeout.max(1)),
            verbose: self.verbose,
            capture_signing,
        }
    }
}
