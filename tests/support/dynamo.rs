//! Local DynamoDB-API servers for the tests, each on a free loopback port, stopped when dropped.
//!
//! - [`Engine::DynamoDbLocal`]: Amazon's DynamoDB Local (`infra/dynamodb-local.sh`), the engine
//!   every DynamoDB test runs on.
//! - [`Engine::Moto`]: moto (`infra/moto.sh`), for what DynamoDB Local cannot serve: the
//!   CloudFormation stacks that `--stack` reads ([`Dynamo::moto`]). `BYOC_TEST_DYNAMODB=moto`
//!   runs the DynamoDB tests on it too, to compare the engines (docs/operations.md).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

use crate::root;

/// Which local server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    DynamoDbLocal,
    Moto,
}

impl Engine {
    /// The DynamoDB tests' engine: DynamoDB Local unless `BYOC_TEST_DYNAMODB=moto`.
    pub fn for_tests() -> Self {
        match std::env::var("BYOC_TEST_DYNAMODB").as_deref() {
            Ok("moto") => Self::Moto,
            Ok("local") | Ok("") | Err(_) => Self::DynamoDbLocal,
            Ok(other) => panic!("BYOC_TEST_DYNAMODB={other}: use `local` or `moto`"),
        }
    }

    fn script(self) -> PathBuf {
        root().join(match self {
            Self::DynamoDbLocal => "infra/dynamodb-local.sh",
            Self::Moto => "infra/moto.sh",
        })
    }

    fn pid_file(self, port: u16) -> PathBuf {
        root().join(match self {
            Self::DynamoDbLocal => format!("infra/.dynamodb-local/run/{port}.pid"),
            Self::Moto => format!("infra/.venv/moto-{port}.pid"),
        })
    }
}

/// A running local server.
pub struct Dynamo {
    engine: Engine,
    port: u16,
    running: bool,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Dynamo {
    /// The tests' engine ([`Engine::for_tests`]), installed if needed (once), started.
    pub fn start() -> Self {
        Self::start_engine(Engine::for_tests())
    }

    /// moto, for its CloudFormation API ([`Dynamo::create_stack`]).
    pub fn moto() -> Self {
        Self::start_engine(Engine::Moto)
    }

    pub fn start_engine(engine: Engine) -> Self {
        let mut server = Self {
            engine,
            port: free_port(),
            running: false,
        };
        server.restart();
        server
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    fn script(&self, command: &str) -> std::process::Output {
        Command::new(self.engine.script())
            .args([command, &self.port.to_string()])
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", self.engine.script().display()))
    }

    /// Starts it again on the same port, empty: both engines keep their data in memory.
    pub fn restart(&mut self) {
        let out = self.script("start");
        assert!(
            out.status.success(),
            "{:?} did not start: {}",
            self.engine,
            String::from_utf8_lossy(&out.stderr)
        );
        self.running = true;
    }

    /// Stops it (the fault tests stop it mid-run).
    pub fn stop(&mut self) {
        if self.running {
            self.script("stop");
            self.running = false;
        }
    }

    /// The server's process id (to pause it: a hung server, not a closed port).
    pub fn pid(&self) -> u32 {
        let file = self.engine.pid_file(self.port);
        std::fs::read_to_string(&file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("no pid in {}", file.display()))
    }

    /// Freezes the server (SIGSTOP): connections open, nothing answers.
    pub fn pause(&self) {
        signal(self.pid(), "-STOP");
    }

    /// Thaws a paused server (SIGCONT).
    pub fn resume(&self) {
        signal(self.pid(), "-CONT");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment that points the AWS SDK (and the binaries) at this server.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL_DYNAMODB".into(), self.endpoint()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID".into(), "test".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ]
    }

    /// Creates a CloudFormation stack with these outputs on this server (moto answers
    /// DescribeStacks as CloudFormation does), as `sam deploy` leaves one.
    pub fn create_stack(&self, name: &str, region: &str, outputs: &[(&str, &str)]) {
        assert_eq!(self.engine, Engine::Moto, "only moto serves CloudFormation");
        let outputs: serde_json::Map<String, serde_json::Value> = outputs
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::json!({ "Value": v })))
            .collect();
        let template = serde_json::json!({
            "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": outputs,
        });
        let script = "import sys, boto3\n\
            cf = boto3.client('cloudformation', endpoint_url=sys.argv[1], region_name=sys.argv[2],\n\
                aws_access_key_id='test', aws_secret_access_key='test')\n\
            cf.create_stack(StackName=sys.argv[3], TemplateBody=sys.argv[4])\n";
        let out = Command::new(root().join("infra/.venv/bin/python"))
            .args([
                "-c",
                script,
                &self.endpoint(),
                region,
                name,
                &template.to_string(),
            ])
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("run moto's python");
        assert!(
            out.status.success(),
            "create_stack: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Creates `table` in `region` and imports `infra/routes.example.json` into it, with the
    /// real `byoc` CLI. (DynamoDB Local ignores the region under `-sharedDb`; moto, like AWS,
    /// keeps a table in its region.)
    pub fn example_table(&self, table: &str, region: &str) {
        let mut env = self.env();
        env.retain(|(k, _)| k != "AWS_REGION");
        env.push(("AWS_REGION".into(), region.into()));
        env.push(("BYOC_ACTOR".into(), "test".into()));
        let table_arg = format!("--table={table}");
        let run = crate::byoc(&["table", "create", &table_arg], &env);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let example = root().join("infra/routes.example.json");
        let run = crate::byoc(
            &[
                "routes",
                "import",
                &example.display().to_string(),
                &table_arg,
            ],
            &env,
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
    }

    pub fn client(&self) -> aws_sdk_dynamodb::Client {
        byoc_dynamodb::local_client(&self.endpoint())
    }

    /// A server shared by the tests running at the same time (each on its own tables): started
    /// by the first, stopped when the last one using it is done.
    pub fn shared() -> std::sync::Arc<Dynamo> {
        use std::sync::{Arc, Mutex, Weak};
        static SHARED: Mutex<Weak<Dynamo>> = Mutex::new(Weak::new());
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(server) = shared.upgrade() {
            return server;
        }
        let server = Arc::new(Dynamo::start());
        *shared = Arc::downgrade(&server);
        server
    }
}

fn signal(pid: u32, which: &str) {
    let ok = Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {which} {pid}");
}

impl Drop for Dynamo {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A table name unique to this test run.
pub fn unique_table(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}
