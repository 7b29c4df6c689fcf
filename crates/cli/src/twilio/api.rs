//! Twilio's REST API, as `byoc call` and `byoc twilio` use it: credentials, one JSON request,
//! Twilio's errors with their code, and the resources read and written.
//!
//! Resources and field names as Twilio publishes them (twilio/twilio-oai,
//! `spec/json/twilio_api_v2010.json`: `/2010-04-01/Accounts/{AccountSid}/SIP/Domains.json`,
//! `…/SIP/Domains/{Sid}.json`; `spec/json/twilio_voice_v1.json`: `/v1/ByocTrunks` on
//! voice.twilio.com).

use std::time::Duration;

use byoc_core::sid::{Sid, SidKind};
use serde::Deserialize;

use crate::error::{Exit, Failure};

/// The account and credentials, as every command that talks to Twilio takes them.
#[derive(clap::Args, Clone)]
pub struct Credentials {
    #[arg(long, env = "TWILIO_ACCOUNT_SID", hide_env_values = true)]
    pub account_sid: String,
    /// Auth token (or use --api-key and --api-secret)
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// API key SID (SK…)
    #[arg(
        long,
        env = "TWILIO_API_KEY",
        hide_env_values = true,
        requires = "api_secret"
    )]
    pub api_key: Option<String>,
    #[arg(long, env = "TWILIO_API_SECRET", hide_env_values = true)]
    pub api_secret: Option<String>,
    /// Twilio's REST API base URL (tests point it at a local fake)
    #[arg(
        long,
        env = "TWILIO_API_BASE_URL",
        default_value = "https://api.twilio.com"
    )]
    pub api_base_url: String,
    /// Twilio's Voice API base URL (BYOC trunks)
    #[arg(
        long,
        env = "TWILIO_VOICE_API_BASE_URL",
        default_value = "https://voice.twilio.com"
    )]
    pub voice_api_base_url: String,
}

/// Why a request to Twilio did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum TwilioError {
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// An answer that is not Twilio's (a proxy's or a gateway's error page).
    #[error(
        "Twilio was not reached: HTTP {status} from {url} without a Twilio error (a proxy or gateway answered?): {excerpt}"
    )]
    NotTwilio {
        status: u16,
        url: String,
        excerpt: String,
    },
    #[error("Twilio refused the request: HTTP {status}: {message} (Twilio error {code})")]
    Refused {
        status: u16,
        code: i64,
        message: String,
    },
    #[error("credentials: TWILIO_AUTH_TOKEN, or TWILIO_API_KEY and TWILIO_API_SECRET")]
    NoCredentials,
}

impl TwilioError {
    /// The CLI's exit code.
    pub fn exit(&self) -> Exit {
        match self {
            Self::Unreachable { .. } | Self::NotTwilio { .. } => Exit::Unreachable,
            Self::Refused { .. } => Exit::Refused,
            Self::NoCredentials => Exit::Invalid,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Refused { status: 404, .. })
    }

    /// What to do about it, in terms of this CLI.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Refused { status: 401, .. } => Some(
                "check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or TWILIO_API_KEY / TWILIO_API_SECRET)"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// A SIP domain, with the fields `byoc twilio` reads and sets.
#[derive(Debug, Clone, Deserialize)]
pub struct SipDomain {
    pub sid: String,
    pub domain_name: String,
    pub voice_url: Option<String>,
    pub voice_method: Option<String>,
    pub voice_fallback_url: Option<String>,
    pub voice_fallback_method: Option<String>,
    pub voice_status_callback_url: Option<String>,
    pub voice_status_callback_method: Option<String>,
}

impl SipDomain {
    /// The webhook settings, by the form field name that sets each.
    pub fn webhooks(&self) -> [(&'static str, Option<&str>); 6] {
        [
            ("VoiceUrl", self.voice_url.as_deref()),
            ("VoiceMethod", self.voice_method.as_deref()),
            ("VoiceFallbackUrl", self.voice_fallback_url.as_deref()),
            ("VoiceFallbackMethod", self.voice_fallback_method.as_deref()),
            (
                "VoiceStatusCallbackUrl",
                self.voice_status_callback_url.as_deref(),
            ),
            (
                "VoiceStatusCallbackMethod",
                self.voice_status_callback_method.as_deref(),
            ),
        ]
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ByocTrunk {
    pub sid: String,
    #[serde(default)]
    pub friendly_name: Option<String>,
    #[serde(default)]
    pub voice_url: Option<String>,
}

#[derive(Deserialize)]
struct DomainPage {
    domains: Vec<SipDomain>,
    next_page_uri: Option<String>,
}

#[derive(Deserialize)]
struct TrunkPage {
    byoc_trunks: Vec<ByocTrunk>,
    meta: TrunkMeta,
}

#[derive(Deserialize)]
struct TrunkMeta {
    next_page_url: Option<String>,
}

/// Pages read at most when listing (50 per page): a guard against a server that loops.
const MAX_PAGES: usize = 200;

pub struct Twilio {
    http: reqwest::Client,
    account: Sid,
    user: String,
    password: String,
    api_base: String,
    voice_base: String,
}

impl Twilio {
    pub fn new(credentials: &Credentials) -> Result<Self, Failure> {
        let account = Sid::parse(SidKind::Account, &credentials.account_sid)?;
        let (user, password) = match (
            &credentials.api_key,
            &credentials.api_secret,
            &credentials.auth_token,
        ) {
            (Some(key), Some(secret), _) => (key.clone(), secret.clone()),
            (_, _, Some(token)) => (account.to_string(), token.clone()),
            _ => return Err(TwilioError::NoCredentials.into()),
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Failure::new(Exit::Invalid, e))?;
        Ok(Self {
            http,
            account,
            user,
            password,
            api_base: credentials.api_base_url.trim_end_matches('/').to_string(),
            voice_base: credentials
                .voice_api_base_url
                .trim_end_matches('/')
                .to_string(),
        })
    }

    pub fn account(&self) -> &Sid {
        &self.account
    }

    /// One request; Twilio's JSON answer, or why there is none.
    async fn send(
        &self,
        url: &str,
        form: Option<&[(&str, String)]>,
    ) -> Result<serde_json::Value, TwilioError> {
        let request = match form {
            Some(form) => self.http.post(url).form(form),
            None => self.http.get(url),
        };
        let response = request
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .map_err(|e| TwilioError::Unreachable {
                url: url.to_string(),
                reason: byoc_store::admin::cause_chain(&e.without_url()),
            })?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if status.is_success() {
            return Ok(json);
        }
        // Twilio's own refusals are JSON with its error `code` and `message`; anything else
        // (a proxy's or a load balancer's 502 page) means Twilio was not reached.
        match (json["message"].as_str(), json["code"].as_i64()) {
            (Some(message), Some(code)) => Err(TwilioError::Refused {
                status: status.as_u16(),
                code,
                message: message.to_string(),
            }),
            _ => Err(TwilioError::NotTwilio {
                status: status.as_u16(),
                url: url.to_string(),
                excerpt: body
                    .trim()
                    .chars()
                    .take(200)
                    .collect::<String>()
                    .replace(['\n', '\r'], " "),
            }),
        }
    }

    /// `POST /2010-04-01/Accounts/{AccountSid}/{path}` with a form.
    pub async fn post(
        &self,
        path: &str,
        form: &[(&str, String)],
    ) -> Result<serde_json::Value, TwilioError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/{path}",
            self.api_base, self.account
        );
        self.send(&url, Some(form)).await
    }

    /// `GET /2010-04-01/Accounts/{AccountSid}/{path}`.
    pub async fn get(&self, path: &str) -> Result<serde_json::Value, TwilioError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/{path}",
            self.api_base, self.account
        );
        self.send(&url, None).await
    }

    fn parse<T: serde::de::DeserializeOwned>(
        url: &str,
        json: serde_json::Value,
    ) -> Result<T, TwilioError> {
        serde_json::from_value(json).map_err(|e| TwilioError::NotTwilio {
            status: 200,
            url: url.to_string(),
            excerpt: format!("unexpected JSON: {e}"),
        })
    }

    /// Every SIP domain of the account, following Twilio's pages.
    pub async fn domains(&self) -> Result<Vec<SipDomain>, TwilioError> {
        let mut url = format!(
            "{}/2010-04-01/Accounts/{}/SIP/Domains.json?PageSize=50",
            self.api_base, self.account
        );
        let mut all = Vec::new();
        for _ in 0..MAX_PAGES {
            let page: DomainPage = Self::parse(&url, self.send(&url, None).await?)?;
            all.extend(page.domains);
            match page.next_page_uri.filter(|u| !u.is_empty()) {
                // `next_page_uri` is a path on the same host.
                Some(next) => url = format!("{}{next}", self.api_base),
                None => break,
            }
        }
        Ok(all)
    }

    /// The domain named `name` (`example.sip.twilio.com`) or with that SID (`SD…`).
    pub async fn domain(&self, name: &str) -> Result<Option<SipDomain>, TwilioError> {
        let name = name.trim();
        if Sid::parse(SidKind::SipDomain, name).is_ok() {
            let url = format!(
                "{}/2010-04-01/Accounts/{}/SIP/Domains/{name}.json",
                self.api_base, self.account
            );
            return match self.send(&url, None).await {
                Ok(json) => Ok(Some(Self::parse(&url, json)?)),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            };
        }
        Ok(self
            .domains()
            .await?
            .into_iter()
            .find(|d| d.domain_name.eq_ignore_ascii_case(name)))
    }

    /// Sets fields of a domain in one request (Twilio applies all of them or none).
    pub async fn update_domain(
        &self,
        sid: &str,
        form: &[(&str, String)],
    ) -> Result<SipDomain, TwilioError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/SIP/Domains/{sid}.json",
            self.api_base, self.account
        );
        let json = self.send(&url, Some(form)).await?;
        Self::parse(&url, json)
    }

    /// Every BYOC trunk of the account.
    pub async fn trunks(&self) -> Result<Vec<ByocTrunk>, TwilioError> {
        let mut url = format!("{}/v1/ByocTrunks?PageSize=50", self.voice_base);
        let mut all = Vec::new();
        for _ in 0..MAX_PAGES {
            let page: TrunkPage = Self::parse(&url, self.send(&url, None).await?)?;
            all.extend(page.byoc_trunks);
            match page.meta.next_page_url.filter(|u| !u.is_empty()) {
                // An absolute URL on voice.twilio.com: followed on the configured base, so a
                // test's fake (or a proxy) keeps answering.
                Some(next) => {
                    let path = next
                        .split_once("://")
                        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
                        .unwrap_or(&next)
                        .to_string();
                    url = format!("{}{path}", self.voice_base);
                }
                None => break,
            }
        }
        Ok(all)
    }
}
