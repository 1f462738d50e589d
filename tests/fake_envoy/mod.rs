//! A fake Envoy admin server: serves one pod's fixture documents (`fixtures/proxies/CASE/POD`)
//! on `/certs`, `/config_dump` and `/stats`, as Envoy's admin port would, and records every
//! request so tests can assert that only GETs to read-only endpoints were made.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

struct State {
    dir: PathBuf,
    /// `METHOD path?query`
    requests: Mutex<Vec<String>>,
    stats_served: Mutex<usize>,
}

pub struct FakeEnvoy {
    pub addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeEnvoy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeEnvoy {
    pub async fn start(dir: &Path) -> FakeEnvoy {
        let state = Arc::new(State {
            dir: dir.to_path_buf(),
            requests: Mutex::new(Vec::new()),
            stats_served: Mutex::new(0),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task_state = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let state = task_state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        FakeEnvoy { addr, state, task }
    }

    pub fn requests(&self) -> Vec<String> {
        self.state
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().to_string();
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    if let Ok(mut r) = state.requests.lock() {
        r.push(format!("{method} {target}"));
    }
    let _ = req.into_body().collect().await;
    if method != "GET" {
        return Ok(reply(405, b"method not allowed\n".to_vec()));
    }
    let path = target.split('?').next().unwrap_or_default();
    let file = match path {
        "/certs" => "certs.json".to_string(),
        "/config_dump" => "config_dump.json".to_string(),
        "/stats" => {
            // The first sample is stats.txt, later ones stats-2.txt when the case has one.
            let n = state
                .stats_served
                .lock()
                .map(|mut n| {
                    *n += 1;
                    *n
                })
                .unwrap_or(1);
            if n > 1 && state.dir.join("stats-2.txt").exists() {
                "stats-2.txt".into()
            } else {
                "stats.txt".into()
            }
        }
        _ => return Ok(reply(404, b"invalid path. admin commands are:\n".to_vec())),
    };
    match std::fs::read(state.dir.join(&file)) {
        Ok(body) => Ok(reply(200, body)),
        // Envoy always answers these; an absent fixture is an empty dump.
        Err(_) if file == "config_dump.json" => Ok(reply(200, b"{\"configs\": []}".to_vec())),
        Err(_) => Ok(reply(500, format!("fixture {file} missing\n").into_bytes())),
    }
}

fn reply(code: u16, body: Vec<u8>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}
