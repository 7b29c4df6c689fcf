//! A local DynamoDB-API server (moto) for tests, started with `infra/dynamodb-local.sh` on a free
//! loopback port and stopped when dropped.

use std::net::TcpListener;
use std::process::Command;

use crate::root;

/// A running moto server.
pub struct Moto {
    port: u16,
    running: bool,
}

fn script(args: &[&str]) -> std::process::Output {
    Command::new(root().join("infra/dynamodb-local.sh"))
        .args(args)
        .output()
        .expect("run infra/dynamodb-local.sh")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Moto {
    /// Installs moto if needed (once) and starts it.
    pub fn start() -> Self {
        let mut moto = Self {
            port: free_port(),
            running: false,
        };
        moto.restart();
        moto
    }

    /// Starts it again on the same port (empty: moto keeps its data in memory).
    pub fn restart(&mut self) {
        let out = script(&["start", &self.port.to_string()]);
        assert!(
            out.status.success(),
            "moto did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.running = true;
    }

    /// Stops it (the fault tests stop it mid-run).
    pub fn stop(&mut self) {
        if self.running {
            script(&["stop", &self.port.to_string()]);
            self.running = false;
        }
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

    pub fn client(&self) -> aws_sdk_dynamodb::Client {
        byoc_dynamodb::local_client(&self.endpoint())
    }

    /// A server shared by the tests running at the same time (each on its own tables): started
    /// by the first, stopped when the last one using it is done.
    pub fn shared() -> std::sync::Arc<Moto> {
        use std::sync::{Arc, Mutex, Weak};
        static SHARED: Mutex<Weak<Moto>> = Mutex::new(Weak::new());
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(moto) = shared.upgrade() {
            return moto;
        }
        let moto = Arc::new(Moto::start());
        *shared = Arc::downgrade(&moto);
        moto
    }
}

impl Drop for Moto {
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
