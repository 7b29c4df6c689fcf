//! The SDK client: call-path and admin profiles, credentials, the trusted CA bundle.

use std::time::Duration;

use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_credential_types::provider::{future, ProvideCredentials};
use aws_sdk_dynamodb::Client;

/// How the SDK client behaves.
#[derive(Debug, Clone, Copy)]
pub enum Profile {
    /// The call path: every attempt bounded by `budget`, at most one retry.
    CallPath { budget: Duration },
    /// Administration: the SDK's standard timeouts and retries.
    Admin,
}

/// Builds a DynamoDB client from the standard AWS configuration (environment, profile, role;
/// `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL` point it at a local server, as does
/// `endpoint`, from `DYNAMODB_ENDPOINT_URL`, which a SAM template can declare empty).
pub async fn client(profile: Profile, endpoint: Option<&str>) -> Client {
    client_in(profile, endpoint, None).await
}

/// [`client`] in `region` (a replica's) instead of the environment's.
pub async fn client_in(profile: Profile, endpoint: Option<&str>, region: Option<&str>) -> Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_string()));
    }
    if let Profile::CallPath { budget } = profile {
        // Cold-start work the Lambda environment makes unnecessary: Lambda always sets
        // `AWS_REGION` (the first source the default region chain reads) and the execution
        // role's keys in the environment, so the full credentials chain (which creates an STS
        // client and reads profile files) is only built if the environment has no keys.
        if let Some(home) = std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()) {
            if region.is_none() {
                loader = loader.region(aws_config::Region::new(home));
            }
        }
        loader = loader
            .credentials_provider(
                EnvThenDefault::<EnvironmentVariableCredentialsProvider>::default(),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(budget)
                    .operation_attempt_timeout(budget)
                    .operation_timeout(budget)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(2));
    }
    Client::new(&loader.load().await)
}

/// Where the SDK's TLS stack (rustls-native-certs) reads the trusted root certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustSource {
    /// `SSL_CERT_FILE` or `SSL_CERT_DIR` was already set: used as given.
    Environment,
    /// The system CA bundle file alone (`SSL_CERT_FILE` set to it for this process).
    Bundle(std::path::PathBuf),
    /// No bundle file found: the library probes the system locations itself.
    Probe,
}

impl std::fmt::Display for TrustSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Environment => f.write_str("environment"),
            Self::Bundle(path) => write!(f, "{}", path.display()),
            Self::Probe => f.write_str("probe"),
        }
    }
}

/// Makes the SDK trust the system CA bundle file alone, unless the environment already says
/// where the certificates are.
///
/// Without a location, rustls-native-certs reads the bundle file *and* every file of the
/// system certificate directories, which hold the same CAs again (on Debian, one hashed file
/// per CA): on this project's reference machine that was about 4.5 ms of CPU of the inbound
/// cold start. The bundle is what the system's trust tools (`update-ca-certificates`,
/// `update-ca-trust`) generate from the same trust settings, so the trusted set is the same,
/// except for a certificate dropped into a directory by hand without regenerating the bundle.
/// The bundle path is the one openssl-probe finds, as rustls-native-certs itself would.
///
/// Call it before starting any thread: it sets `SSL_CERT_FILE` for this process.
pub fn use_system_ca_bundle() -> TrustSource {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if set("SSL_CERT_FILE") || set("SSL_CERT_DIR") {
        return TrustSource::Environment;
    }
    match openssl_probe::probe().cert_file {
        Some(file) => {
            std::env::set_var("SSL_CERT_FILE", &file);
            TrustSource::Bundle(file)
        }
        None => TrustSource::Probe,
    }
}

/// The environment's credentials, else the SDK's default chain (built on first use). `env` is
/// the environment provider; tests put fixed credentials there.
#[derive(Debug, Default)]
pub(crate) struct EnvThenDefault<P = EnvironmentVariableCredentialsProvider> {
    pub(crate) env: P,
    pub(crate) chain: tokio::sync::OnceCell<DefaultCredentialsChain>,
}

impl<P: ProvideCredentials> ProvideCredentials for EnvThenDefault<P> {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            match self.env.provide_credentials().await {
                Ok(credentials) => Ok(credentials),
                Err(_) => {
                    let chain = self
                        .chain
                        .get_or_init(|| DefaultCredentialsChain::builder().build())
                        .await;
                    chain.provide_credentials().await
                }
            }
        })
    }
}

/// A client for a local DynamoDB-API server (tests, local development) with dummy credentials,
/// independent of the process environment.
pub fn local_client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "local",
        ))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(10))
                .build(),
        )
        .build();
    Client::from_conf(config)
}
