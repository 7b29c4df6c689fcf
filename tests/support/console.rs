//! `byoc console` for tests: the real binary on a free loopback port, its token read from the
//! line it prints, and requests made as the console's own page makes them.

use std::time::Duration;

use tokio::process::Child;

use crate::process::{binary, Output};

/// A running console; killed on drop.
pub struct ConsoleProc {
    _child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub token: String,
    /// The line it printed: `console: http://127.0.0.1:PORT/#token=…`
    pub url: String,
    pub stderr: Output,
    http: reqwest::Client,
}

/// An answer: status and JSON body (`Null` when not JSON), and the raw text.
pub struct Answer {
    pub status: u16,
    pub json: serde_json::Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl ConsoleProc {
    /// Starts `byoc console --no-open --port 0 <args>` with exactly `env` (plus `PATH`).
    pub async fn start(args: &[&str], env: &[(String, String)]) -> Self {
        let mut child = tokio::process::Command::new(binary("byoc"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args(["console", "--no-open", "--port", "0"])
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start byoc console");
        let stdout = Output::default();
        let stderr = Output::default();
        drop(stdout.capture(child.stdout.take().expect("piped stdout")));
        drop(stderr.capture(child.stderr.take().expect("piped stderr")));
        let line = stdout
            .wait_for("console: http://", Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("byoc console did not start: {}", stderr.text()));
        let url = line.trim_start_matches("console: ").trim().to_string();
        let (base, token) = url
            .split_once("/#token=")
            .expect("the URL carries the token");
        Self {
            base: base.to_string(),
            token: token.to_string(),
            url: url.clone(),
            _child: child,
            stderr,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }

    pub fn host(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// A request as the page sends it: the token, and for changes JSON and the page's Origin.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if method != reqwest::Method::GET {
            request = request
                .header("content-type", "application/json")
                .header("origin", &self.base);
        }
        request
    }

    pub async fn get(&self, path: &str) -> Answer {
        answer(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value) -> Answer {
        answer(
            self.request(reqwest::Method::POST, path)
                .body(body.to_string()),
        )
        .await
    }
}

pub async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("the console answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    Answer {
        status,
        json: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        text,
        headers,
    }
}
