//! Building and starting the real binaries.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::emulator::{Emulator, Outcome, INVOKE_TIMEOUT};

/// The path of a workspace binary (`inbound`, `outbound`, `byoc`), building the binaries once per
/// test process so the tests always run the current code (`cargo build` is a no-op when fresh).
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        let mut profile_dir = exe.parent().expect("target/<profile>").to_path_buf();
        // Test executables live in target/<profile>/deps, tools in target/<profile>.
        if profile_dir.file_name().is_some_and(|n| n == "deps") {
            profile_dir.pop();
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let mut cmd = std::process::Command::new(cargo);
        // `--workspace --bins`, exactly as infra/test.sh pre-builds them, so this is a no-op
        // there (other package selections unify features differently and rebuild).
        cmd.current_dir(crate::root())
            .args(["build", "--quiet", "--workspace", "--bins"]);
        // `cargo test` gives this process its package's CARGO_PKG_*/CARGO_MANIFEST_* variables;
        // passed on, they change the binaries' fingerprints and force a full relink.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            let per_package = [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_BIN_",
                "CARGO_CRATE_",
                "CARGO_PRIMARY_",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
            ]
            .iter()
            .any(|p| name.starts_with(p));
            if per_package {
                cmd.env_remove(&name);
            }
        }
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "cargo build of the binaries failed");
        profile_dir
    });
    let path = dir.join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// Collects a child's output lines so tests can assert on logs.
#[derive(Clone, Default)]
pub struct Output(Arc<Mutex<Vec<String>>>);

impl Output {
    /// Collects the lines of `stream` (a child's stdout or stderr) until it closes.
    pub fn capture(
        &self,
        stream: impl AsyncRead + Unpin + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let lines = Arc::clone(&self.0);
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                lines.lock().unwrap().push(line);
            }
        })
    }

    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    pub fn text(&self) -> String {
        self.lines().join("\n")
    }

    /// Waits until a line containing `needle` appears.
    pub async fn wait_for(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| l.contains(needle)) {
                return Some(line);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `count` lines contain `needle` (`byoc serve` writes its lines in batches, so
    /// the lines of calls answered together can appear a few milliseconds apart). Returns how
    /// many there were at the end.
    pub async fn wait_for_count(&self, needle: &str, count: usize, timeout: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let seen = self.lines().iter().filter(|l| l.contains(needle)).count();
            if seen >= count || tokio::time::Instant::now() >= deadline {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn base_command(path: PathBuf, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(path);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// What a run of the `byoc` CLI printed and returned.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the real `byoc` CLI with exactly `env` (plus `PATH`).
pub fn byoc(args: &[&str], env: &[(String, String)]) -> Run {
    let output = std::process::Command::new(binary("byoc"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(args)
        .output()
        .expect("run byoc");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A real Lambda binary attached to an emulator; killed on drop.
pub struct Lambda {
    pub emulator: Emulator,
    child: Child,
    pub stderr: Output,
    pub stdout: Output,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl Lambda {
    /// Starts binary `name` (`inbound` / `outbound`) with `env` on a fresh emulator.
    pub async fn start(name: &str, env: &[(&str, &str)]) -> Self {
        let emulator = Emulator::start().await;
        let api = emulator.runtime_api();
        let mut all: Vec<(&str, &str)> = vec![
            ("AWS_LAMBDA_RUNTIME_API", api.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", name),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/byoc-test"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ];
        all.extend_from_slice(env);
        let mut child = base_command(binary(name), &all)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let stderr = Output::default();
        let stdout = Output::default();
        let readers = vec![
            stderr.capture(child.stderr.take().expect("piped stderr")),
            stdout.capture(child.stdout.take().expect("piped stdout")),
        ];
        Self {
            emulator,
            child,
            stderr,
            stdout,
            readers,
        }
    }

    /// Invokes the function with `event` and returns what it posted back.
    pub async fn invoke(&mut self, event: &serde_json::Value) -> Outcome {
        match self.emulator.invoke(event, INVOKE_TIMEOUT).await {
            Ok(outcome) => outcome,
            Err(e) => panic!(
                "{e}; exited: {:?}; stderr:\n{}",
                self.child.try_wait().ok().flatten(),
                self.stderr.text()
            ),
        }
    }

    /// Waits for the process to exit (e.g. after an init error) and for its output to be read.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let status = tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)?;
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
        }
        Some(status)
    }
}

/// `byoc serve` on a free loopback port; killed on drop.
pub struct Serve {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    pub stderr: Output,
}

impl Serve {
    /// Starts `byoc serve --port 0 <args>` with `env` and waits until it listens.
    pub async fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = base_command(binary("byoc"), env);
        cmd.args(["serve", "--port", "0"]).args(args);
        let mut child = cmd.spawn().expect("start byoc serve");
        let stderr = Output::default();
        let stdout = Output::default();
        // Dropping a JoinHandle detaches the reader; it ends with the process.
        drop(stderr.capture(child.stderr.take().expect("piped stderr")));
        drop(stdout.capture(child.stdout.take().expect("piped stdout")));
        let line = stdout
            .wait_for("listening on http://", Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("byoc serve did not start; stderr:\n{}", stderr.text()));
        let base_url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("URL in the listening line")
            .to_string();
        Self {
            child,
            base_url,
            stderr,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The Host header value the server sees (`127.0.0.1:PORT`).
    pub fn host(&self) -> &str {
        self.base_url.trim_start_matches("http://")
    }

    /// Sends a signal (`STOP` to hang it, `CONT`, `KILL`), as a failing host would.
    pub fn signal(&self, signal: &str) {
        if let Some(pid) = self.child.id() {
            let status = std::process::Command::new("kill")
                .args([&format!("-{signal}"), &pid.to_string()])
                .status()
                .expect("run kill");
            assert!(status.success(), "kill -{signal} {pid}");
        }
    }

    /// Stops the server with SIGTERM and waits for a clean exit.
    pub async fn stop(mut self) -> Option<std::process::ExitStatus> {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }
}
