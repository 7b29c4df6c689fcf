//! Configuration from the environment, shared by the Lambda functions and the local server.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `TWILIO_AUTH_TOKEN` | key for `X-Twilio-Signature` | none: Lambda refuses requests (500); `byoc serve` warns and skips checks |
//! | `TWILIO_AUTH_TOKEN_NEXT` | during a token rotation, the token replacing it: a request signed with either is accepted | none |
//! | `TWILIO_WEBHOOK_SHARED_KEYS` | webhook shared keys, `KEY_ID=SECRET,…`: a request whose `X-Twilio-Webhooks-Signature-Settings` names one is verified with its secret (HMAC-SHA1 or HMAC-SHA256) | none |
//! | `ALLOW_UNSIGNED` | `true` lets a Lambda without a token answer unsigned requests | `false` |
//! | `PUBLIC_BASE_URL` | public scheme + host (+ path prefix) Twilio calls, for custom domains | rebuilt from the request |
//! | `DEFAULT_ROUTE_URL` | where unmatched calls are redirected | none: `<Reject reason="rejected"/>` |
//! | `DEFAULT_ROUTE_METHOD` | `POST` or `GET` for that redirect | `POST` |
//! | `DEFAULT_COUNTRY_CODE` | the home country: whose national forms numbers are read in, and whose other territories and emergency numbers outbound refuses (`44`, or a region such as `GB`) | `1` (the US and Canada) |
//! | `BYOC_TRUNK_SID` | outbound trunk(s) when a request names none: `BY…` or up to 5 `BY…,BY…` tried in order on technical failures | none: required per request |
//! | `OUTBOUND_TRUNK_ROUTES` | trunk lists by destination prefix for requests that name none: `+44=BY…,BY…; +1=BY…` (longest prefix wins; else `BYOC_TRUNK_SID`) | none |
//! | `OUTBOUND_FALLBACK_PSTN` | `true`: once every trunk failed, a last attempt over Twilio's own network | `false` |
//! | `OUTBOUND_REFUSAL_MESSAGE` | what a caller hears when an outbound call is refused | a short apology |
//! | `OUTBOUND_CALLER_ID` | caller ID when a request names none | the call's `From` |
//! | `OUTBOUND_ALLOWED_PREFIXES` | comma-separated E.164 prefixes destinations must start with | `+<DEFAULT_COUNTRY_CODE>` |
//! | `OUTBOUND_DENIED_PREFIXES` | comma-separated E.164 prefixes never dialled (win over allowed; `X` = any digit), **added** to the built-in denials | none |
//! | `OUTBOUND_DENIED_NUMBER_TYPES` | comma-separated number types never dialled (libphonenumber's: `premium_rate`, `personal_number`, `pager`, `shared_cost`, `uan`, `voip`, `toll_free`, `mobile`, `fixed_line`, `fixed_line_or_mobile`, `voicemail`, `unknown`), **added** to the built-in ones | none (built in: `premium_rate,personal_number,pager`) |
//! | `OUTBOUND_ALLOWED_REGIONS` | comma-separated territories sharing the home country code that may be dialled all the same (`JE,GG`; for `+1`, `JM` lifts Jamaica's area codes) | none |
//! | `OUTBOUND_REPLACE_DEFAULT_DENIALS` | `true`: `OUTBOUND_DENIED_PREFIXES` and `OUTBOUND_DENIED_NUMBER_TYPES` replace the built-in denials (NANP premium rate, personal numbers and non-US/Canada NANP countries; premium, personal and pager types) instead of adding to them; logged as a warning | `false` |
//! | `OUTBOUND_ALLOW_EMERGENCY` | `true` dials emergency numbers over the trunk | `false` |
//! | `OUTBOUND_EMERGENCY_NUMBERS` | comma-separated emergency short codes | `911,933,112,999,000,110,119,118` and the home country's |
//! | `OUTBOUND_ALLOWED_CALLER_IDS` | comma-separated E.164 caller IDs that may be presented | any |
//! | `LOG_CALLER` | `none`, `masked` (`+1317555****`) or `full`: whether inbound call lines carry the caller's number (personal data: see docs/operations.md) | `none` |
//! | `ROUTE_CACHE_TTL_SECONDS` | how long a looked-up route is reused without asking the store | `30` |
//! | `STORE_TIMEOUT_MS` | the longest a call waits for the route store, 10 to 10000 | `1000` |
//!
//! Also read here, for the process around the handlers: `ROUTES_TABLE` / `ROUTES_FILE` (which
//! store, decided by `byoc_dynamodb::StoreSource`), `DYNAMODB_ENDPOINT_URL` (the table on a local
//! DynamoDB-API server, for `sam local`; empty in AWS), `ROUTES_REPLICA_REGION` /
//! `DYNAMODB_REPLICA_ENDPOINT_URL` (the replica read when the table fails,
//! `byoc_dynamodb::ReplicaSource`), `METRICS_NAMESPACE`, `RUST_LOG` /
//! `LOG_LEVEL`, Lambda's `AWS_LAMBDA_INITIALIZATION_TYPE`, SAM's `AWS_SAM_LOCAL` and, for the CLI,
//! `USER`. The AWS SDK
//! reads its own (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL_DYNAMODB`).

use byoc_core::inbound::InboundConfig;
use byoc_core::outbound::failover::{parse_trunks, TRUNK_ROUTES_SETTING};
use byoc_core::outbound::{
    settings, OutboundConfig, Policy, PolicySettings, TrunkRoutes, DEFAULT_REFUSAL_MESSAGE,
};
use byoc_core::route::Action;
use byoc_core::twiml::Method;
use byoc_core::NumberPlan;
use byoc_store::CacheConfig;

pub use crate::auth::{Auth, AuthToken, SignedBy, Tokens};

/// Every environment variable the functions read (this crate's configuration, the inbound
/// function's store selection, logging). The template drift test checks `template.yaml` sets
/// only these.
pub const ENV_VARS: &[&str] = &[
    "TWILIO_AUTH_TOKEN",
    "TWILIO_AUTH_TOKEN_NEXT",
    "TWILIO_WEBHOOK_SHARED_KEYS",
    "ALLOW_UNSIGNED",
    "PUBLIC_BASE_URL",
    "DEFAULT_ROUTE_URL",
    "DEFAULT_ROUTE_METHOD",
    "DEFAULT_COUNTRY_CODE",
    "BYOC_TRUNK_SID",
    "OUTBOUND_TRUNK_ROUTES",
    "OUTBOUND_FALLBACK_PSTN",
    "LOG_CALLER",
    "OUTBOUND_REFUSAL_MESSAGE",
    "OUTBOUND_CALLER_ID",
    "OUTBOUND_ALLOWED_PREFIXES",
    "OUTBOUND_DENIED_PREFIXES",
    "OUTBOUND_REPLACE_DEFAULT_DENIALS",
    "OUTBOUND_DENIED_NUMBER_TYPES",
    "OUTBOUND_ALLOWED_REGIONS",
    "OUTBOUND_ALLOW_EMERGENCY",
    "OUTBOUND_EMERGENCY_NUMBERS",
    "OUTBOUND_ALLOWED_CALLER_IDS",
    "ROUTE_CACHE_TTL_SECONDS",
    "STORE_TIMEOUT_MS",
    "ROUTES_TABLE",
    "ROUTES_FILE",
    "DYNAMODB_ENDPOINT_URL",
    "ROUTES_REPLICA_REGION",
    "DYNAMODB_REPLICA_ENDPOINT_URL",
    "METRICS_NAMESPACE",
    "LOG_LEVEL",
    "RUST_LOG",
    "AWS_SAM_LOCAL",
];

/// The one reader of the process environment for the settings above and the store choice: the
/// value of `name`, trimmed; blank is unset. (The AWS SDK reads its own variables, which
/// `byoc_dynamodb::client` also looks at to pick a credentials provider; the CLI's flags read
/// theirs through clap's `env` attributes.)
pub fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The CloudWatch namespace of the metrics in the call log lines.
pub fn metrics_namespace() -> String {
    var("METRICS_NAMESPACE").unwrap_or_else(|| "ByocRouter".to_string())
}

/// The log filter the operator asked for: `RUST_LOG`, else `LOG_LEVEL`.
pub fn log_filter() -> Option<String> {
    var("RUST_LOG").or_else(|| var("LOG_LEVEL"))
}

/// How Lambda started this execution environment (`on-demand`, `provisioned-concurrency`,
/// `snap-start`), for the ready log line; empty outside Lambda.
pub fn lambda_initialization_type() -> String {
    var("AWS_LAMBDA_INITIALIZATION_TYPE").unwrap_or_default()
}

/// Where the process runs; decides what a missing token means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Lambda,
    Local,
}

/// A setting that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

/// Everything the handlers need besides the route store.
#[derive(Debug, Clone)]
pub struct Config {
    pub auth: Auth,
    /// e.g. `https://voice.example.com/router`, prepended to the request path.
    pub public_base_url: Option<String>,
    pub inbound: InboundConfig,
    pub outbound: OutboundConfig,
    pub cache: CacheConfig,
    /// The URL a signature covers comes from API Gateway's request context, never from the
    /// client's `Host` and `X-Forwarded-Proto` headers: in Lambda, except under `sam local`
    /// (`AWS_SAM_LOCAL`), which has no API Gateway in front.
    pub url_from_context: bool,
    /// Whether inbound call lines carry the caller (`LOG_CALLER`).
    pub log_caller: LogCaller,
}

/// `LOG_CALLER`: how much of the caller's number an inbound call line carries. Off by default:
/// a caller's number is personal data (GDPR), and the lines keep `LogRetentionDays`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogCaller {
    /// No `caller` field (the default).
    #[default]
    None,
    /// `+1317555****`: the last four digits hidden; `anonymous`; `(not a number)`.
    Masked,
    /// The normalized number, `anonymous`, or the SIP user name as sent.
    Full,
}

impl LogCaller {
    /// What the `caller` field says for this `From` (`None` when off).
    pub fn render(self, from: Option<&str>, plan: &NumberPlan) -> Option<String> {
        if self == LogCaller::None {
            return None;
        }
        let from = from.unwrap_or("");
        // Read as caller conditions read it: one rule for what is anonymous.
        let caller = byoc_core::route::Caller::new(Some(from), None, plan);
        Some(match (caller.digits, self) {
            _ if caller.anonymous => "anonymous".to_string(),
            (Some(d), LogCaller::Full) => format!("+{d}"),
            (Some(d), _) => {
                // The last four digits hidden; a short number keeps at most its first two.
                let keep = d.len().saturating_sub(4).min(d.len()).max(d.len().min(2));
                format!("+{}{}", &d[..keep], "*".repeat(d.len() - keep))
            }
            (None, LogCaller::Full) => from.trim().chars().take(64).collect(),
            (None, _) => "(not a number)".to_string(),
        })
    }
}

impl Config {
    /// Logs, in one line, the home country and the outbound policy in force, and loads the
    /// number metadata a non-NANP home needs on its first call (the process is starting: the
    /// work is done before any caller waits on it).
    pub fn announce(&self, process: &str) {
        let plan = &self.inbound.plan;
        if !plan.is_nanp() {
            byoc_core::phone::warm(plan.home());
        }
        tracing::info!(
            home = plan.describe().as_str(),
            outbound_policy = self.outbound.policy.summary().as_str(),
            outbound_trunks = self.outbound.trunks_summary().as_str(),
            metadata = byoc_core::phone::METADATA,
            "{process} started"
        );
    }

    /// The numbering plan alone (`DEFAULT_COUNTRY_CODE`): what route management needs, so a
    /// bad setting of the webhooks (`OUTBOUND_CALLER_ID`, …) does not stop `byoc routes`.
    pub fn plan_from_env() -> Result<NumberPlan, ConfigError> {
        match var("DEFAULT_COUNTRY_CODE") {
            None => Ok(NumberPlan::default()),
            Some(cc) => NumberPlan::new(&cc).map_err(|e| ConfigError {
                name: "DEFAULT_COUNTRY_CODE",
                reason: e.to_string(),
            }),
        }
    }

    /// Reads the process environment.
    pub fn from_env(runtime: Runtime) -> Result<Self, ConfigError> {
        Self::from_lookup(runtime, var)
    }

    /// Reads settings through `get` (the environment, or a map in tests). Blank values are unset.
    pub fn from_lookup(
        runtime: Runtime,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let settings = Settings(get);
        let auth = Auth::from_lookup(
            runtime,
            |name| settings.text(name),
            |name| (settings.0)(name),
            settings.flag("ALLOW_UNSIGNED")?,
        )?;
        let plan = match settings.text("DEFAULT_COUNTRY_CODE") {
            None => NumberPlan::default(),
            Some(cc) => {
                NumberPlan::new(&cc).map_err(|e| err("DEFAULT_COUNTRY_CODE", e.to_string()))?
            }
        };
        Ok(Self {
            auth,
            public_base_url: settings.public_base_url()?,
            inbound: settings.inbound(plan.clone())?,
            outbound: settings.outbound(plan)?,
            cache: settings.cache()?,
            url_from_context: runtime == Runtime::Lambda
                && settings.text("AWS_SAM_LOCAL").is_none(),
            log_caller: match settings.text("LOG_CALLER").map(|v| v.to_ascii_lowercase()) {
                None => LogCaller::None,
                Some(v) if v == "none" => LogCaller::None,
                Some(v) if v == "masked" => LogCaller::Masked,
                Some(v) if v == "full" => LogCaller::Full,
                Some(v) => {
                    return Err(err(
                        "LOG_CALLER",
                        format!("`{v}` is not none, masked or full"),
                    ))
                }
            },
        })
    }
}

fn err(name: &'static str, reason: String) -> ConfigError {
    ConfigError { name, reason }
}

/// The settings, read through a lookup (the environment, or a map in tests).
struct Settings<F>(F);

impl<F: Fn(&str) -> Option<String>> Settings<F> {
    /// A setting's text, trimmed; blank is unset.
    fn text(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// `true` or `false` (any case); unset is `false`.
    fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.text(name).map(|v| v.to_ascii_lowercase()) {
            None => Ok(false),
            Some(v) if v == "true" => Ok(true),
            Some(v) if v == "false" => Ok(false),
            Some(v) => Err(err(name, format!("`{v}` is not true or false"))),
        }
    }

    /// A whole number in `range`; unset is `default`.
    fn number(
        &self,
        name: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        match self.text(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    err(
                        name,
                        format!(
                            "`{v}` is not a whole number from {} to {}",
                            range.start(),
                            range.end()
                        ),
                    )
                }),
        }
    }

    /// `PUBLIC_BASE_URL`: scheme, host and an optional path prefix, without a trailing `/`.
    fn public_base_url(&self) -> Result<Option<String>, ConfigError> {
        self.text("PUBLIC_BASE_URL")
            .map(|url| {
                let ok = (url.starts_with("https://") || url.starts_with("http://"))
                    && !url.contains(['?', '#'])
                    && !url.chars().any(char::is_whitespace)
                    && url.split_once("://").is_some_and(|(_, rest)| !rest.is_empty());
                if ok {
                    Ok(url.trim_end_matches('/').to_string())
                } else {
                    Err(err(
                        "PUBLIC_BASE_URL",
                        format!("`{url}` is not an http(s) base URL without query, e.g. https://voice.example.com"),
                    ))
                }
            })
            .transpose()
    }

    /// The default route of calls no route answers (`DEFAULT_ROUTE_URL`, `_METHOD`).
    fn inbound(&self, plan: NumberPlan) -> Result<InboundConfig, ConfigError> {
        let method = match self.text("DEFAULT_ROUTE_METHOD") {
            None => Method::Post,
            Some(m) => Method::parse(&m)
                .ok_or_else(|| err("DEFAULT_ROUTE_METHOD", format!("`{m}` is not GET or POST")))?,
        };
        let default_action = self
            .text("DEFAULT_ROUTE_URL")
            .map(|url| {
                Action::redirect_to(&url, method)
                    .map_err(|e| err("DEFAULT_ROUTE_URL", e.to_string()))
            })
            .transpose()?;
        Ok(InboundConfig {
            plan,
            default_action,
        })
    }

    /// The outbound defaults and its policy ([`Policy::from_settings`] holds the rules).
    fn outbound(&self, plan: NumberPlan) -> Result<OutboundConfig, ConfigError> {
        let default_trunks = self
            .text("BYOC_TRUNK_SID")
            .map(|list| parse_trunks(&list).map_err(|e| err("BYOC_TRUNK_SID", e)))
            .transpose()?
            .unwrap_or_default();
        let trunk_routes = self
            .text(TRUNK_ROUTES_SETTING)
            .map(|text| TrunkRoutes::parse(&text).map_err(|e| err(e.setting, e.reason)))
            .transpose()?
            .unwrap_or_default();
        let pstn_fallback = self.flag("OUTBOUND_FALLBACK_PSTN")?;

        let policy_settings = PolicySettings {
            allowed_prefixes: self.text("OUTBOUND_ALLOWED_PREFIXES"),
            denied_prefixes: self.text("OUTBOUND_DENIED_PREFIXES"),
            denied_number_types: self.text("OUTBOUND_DENIED_NUMBER_TYPES"),
            allowed_regions: self.text("OUTBOUND_ALLOWED_REGIONS"),
            replace_default_denials: self.flag("OUTBOUND_REPLACE_DEFAULT_DENIALS")?,
            allow_emergency: self.flag("OUTBOUND_ALLOW_EMERGENCY")?,
            emergency_numbers: self.text("OUTBOUND_EMERGENCY_NUMBERS"),
            allowed_caller_ids: self.text("OUTBOUND_ALLOWED_CALLER_IDS"),
        };
        let policy =
            Policy::from_settings(&plan, &policy_settings).map_err(|e| err(e.setting, e.reason))?;
        let unused = trunk_routes.unused_prefixes(&policy);
        if !unused.is_empty() {
            tracing::warn!(
                prefixes = unused.join(",").as_str(),
                "OUTBOUND_TRUNK_ROUTES has entries for destinations the outbound policy never lets through (not under OUTBOUND_ALLOWED_PREFIXES, or under a denied prefix): no call will use them"
            );
        }
        if policy_settings.replace_default_denials {
            tracing::warn!(
                denied = policy.denied_prefixes.join(",").as_str(),
                denied_types = policy.denied_kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(",").as_str(),
                "OUTBOUND_REPLACE_DEFAULT_DENIALS=true: the built-in outbound denials (NANP premium rate +1900 and the 976 exchange, NANP personal numbers, the NANP countries outside the US and Canada; premium-rate, personal and pager numbers everywhere) are OFF; only OUTBOUND_DENIED_PREFIXES and OUTBOUND_DENIED_NUMBER_TYPES are denied"
            );
        }
        let default_caller_id = self
            .text("OUTBOUND_CALLER_ID")
            .map(|c| {
                settings::e164(&plan, "OUTBOUND_CALLER_ID", &c)
                    .map_err(|e| err(e.setting, e.reason))
            })
            .transpose()?;
        Ok(OutboundConfig {
            plan,
            default_trunks,
            trunk_routes,
            pstn_fallback,
            default_caller_id,
            refusal_message: self
                .text("OUTBOUND_REFUSAL_MESSAGE")
                .unwrap_or_else(|| DEFAULT_REFUSAL_MESSAGE.to_string()),
            policy,
        })
    }

    /// The call path's cache: how long a route is reused, how long a call waits for the store.
    fn cache(&self) -> Result<CacheConfig, ConfigError> {
        Ok(CacheConfig {
            ttl: std::time::Duration::from_secs(self.number(
                "ROUTE_CACHE_TTL_SECONDS",
                30,
                0..=86_400,
            )?),
            // Twilio waits 15 s in all; a store slower than a few seconds is down for our
            // purposes. Below 10 ms even a healthy DynamoDB misses, and every call would be
            // answered degraded.
            budget: std::time::Duration::from_millis(self.number(
                "STORE_TIMEOUT_MS",
                1000,
                10..=10_000,
            )?),
            ..CacheConfig::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_is_logged_only_as_asked() {
        let plan = NumberPlan::default();
        let render = |mode: LogCaller, from: Option<&str>| mode.render(from, &plan);
        assert_eq!(render(LogCaller::None, Some("+13175551234")), None);
        for (from, masked, full) in [
            (
                Some("sip:+13175551234@carrier.example"),
                "+1317555****",
                "+13175551234",
            ),
            (Some("3175551234"), "+1317555****", "+13175551234"),
            (Some("+266696687"), "anonymous", "anonymous"),
            (Some("00266696687"), "anonymous", "anonymous"),
            (Some("Restricted"), "anonymous", "anonymous"),
            (None, "anonymous", "anonymous"),
            (
                Some("sip:alice@pbx.example.com"),
                "(not a number)",
                "sip:alice@pbx.example.com",
            ),
        ] {
            assert_eq!(
                render(LogCaller::Masked, from).as_deref(),
                Some(masked),
                "{from:?}"
            );
            assert_eq!(
                render(LogCaller::Full, from).as_deref(),
                Some(full),
                "{from:?}"
            );
        }
        let lookup =
            |v: &'static str| move |name: &str| (name == "LOG_CALLER").then(|| v.to_string());
        assert_eq!(
            Config::from_lookup(Runtime::Local, lookup("Masked"))
                .unwrap()
                .log_caller,
            LogCaller::Masked
        );
        let e = Config::from_lookup(Runtime::Local, lookup("partial")).unwrap_err();
        assert_eq!(e.name, "LOG_CALLER");
    }
    use std::collections::HashMap;

    fn config(runtime: Runtime, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(runtime, |k| map.get(k).cloned())
    }

    #[test]
    fn auth_mode_follows_token_runtime_and_allow_unsigned() {
        let c = config(Runtime::Lambda, &[("TWILIO_AUTH_TOKEN", "secret")]).unwrap();
        assert!(
            matches!(c.auth, Auth::Verify(ref t) if t.current.expose() == "secret" && t.next.is_none())
        );
        let c = config(
            Runtime::Lambda,
            &[
                ("TWILIO_AUTH_TOKEN", "secret"),
                ("TWILIO_AUTH_TOKEN_NEXT", " rotated "),
            ],
        )
        .unwrap();
        assert!(
            matches!(c.auth, Auth::Verify(ref t) if t.next.as_ref().map(|n| n.expose()) == Some("rotated"))
        );
        assert!(!format!("{c:?}").contains("rotated"));
        let e = config(Runtime::Local, &[("TWILIO_AUTH_TOKEN_NEXT", "rotated")]).unwrap_err();
        assert_eq!(e.name, "TWILIO_AUTH_TOKEN_NEXT");
        assert!(!format!("{c:?}").contains("secret"));
        assert!(matches!(
            config(Runtime::Lambda, &[]).unwrap().auth,
            Auth::Misconfigured
        ));
        assert!(matches!(
            config(Runtime::Lambda, &[("ALLOW_UNSIGNED", "TRUE")])
                .unwrap()
                .auth,
            Auth::Unsigned
        ));
        assert!(matches!(
            config(Runtime::Local, &[]).unwrap().auth,
            Auth::Unsigned
        ));
        // A token of only spaces is a mistake named at start, not "no token" (a 500 per call).
        assert_eq!(
            config(Runtime::Lambda, &[("TWILIO_AUTH_TOKEN", "  ")])
                .unwrap_err()
                .name,
            "TWILIO_AUTH_TOKEN"
        );
    }

    #[test]
    fn every_variable_read_is_listed_in_env_vars() {
        let read = std::sync::Mutex::new(Vec::new());
        Config::from_lookup(Runtime::Lambda, |name| {
            read.lock().unwrap().push(name.to_string());
            None
        })
        .unwrap();
        let read = read.into_inner().unwrap();
        for name in &read {
            assert!(
                ENV_VARS.contains(&name.as_str()),
                "{name} is read but not in ENV_VARS"
            );
        }
        assert!(read.len() >= 16, "{read:?}");
    }

    #[test]
    fn bad_settings_name_the_variable() {
        for (name, value) in [
            ("ALLOW_UNSIGNED", "yes"),
            ("PUBLIC_BASE_URL", "voice.example.com"),
            ("PUBLIC_BASE_URL", "https://x/?a=1"),
            ("DEFAULT_COUNTRY_CODE", "0"),
            ("DEFAULT_ROUTE_METHOD", "PUT"),
            ("DEFAULT_ROUTE_URL", "not a url"),
            ("BYOC_TRUNK_SID", "BY123"),
            ("ROUTE_CACHE_TTL_SECONDS", "-1"),
            ("STORE_TIMEOUT_MS", "99999"),
            ("OUTBOUND_ALLOWED_PREFIXES", "1,44"),
            ("OUTBOUND_DENIED_PREFIXES", "+1900?"),
            ("STORE_TIMEOUT_MS", "0"),
            ("STORE_TIMEOUT_MS", "5"),
            ("OUTBOUND_ALLOW_EMERGENCY", "maybe"),
            ("OUTBOUND_CALLER_ID", "alice"),
            ("OUTBOUND_ALLOWED_CALLER_IDS", "+13175550000,bob"),
        ] {
            let e = config(Runtime::Lambda, &[(name, value)]).unwrap_err();
            assert_eq!(e.name, name, "{e}");
        }
    }

    #[test]
    fn good_settings_are_read() {
        let c = config(
            Runtime::Lambda,
            &[
                ("PUBLIC_BASE_URL", "https://voice.example.com/router/"),
                ("DEFAULT_COUNTRY_CODE", "44"),
                ("DEFAULT_ROUTE_URL", "https://example.com/default?a=1&b=2"),
                ("DEFAULT_ROUTE_METHOD", "get"),
                ("BYOC_TRUNK_SID", "BY0123456789abcdef0123456789abcdef"),
            ],
        )
        .unwrap();
        assert_eq!(
            c.public_base_url.as_deref(),
            Some("https://voice.example.com/router")
        );
        assert_eq!(c.inbound.plan.country_code(), "44");
        assert_eq!(
            c.inbound.default_action,
            Some(Action::Redirect {
                url: "https://example.com/default?a=1&b=2".into(),
                method: Method::Get
            })
        );
        assert_eq!(c.outbound.default_trunks.len(), 1);
        // The default policy follows the default country code.
        assert_eq!(c.outbound.policy.allowed_prefixes, vec!["+44"]);
        assert!(!c.outbound.policy.allow_emergency);
        let c = config(
            Runtime::Lambda,
            &[
                ("OUTBOUND_ALLOWED_PREFIXES", "+1, +44"),
                ("OUTBOUND_DENIED_PREFIXES", ""),
                ("OUTBOUND_ALLOW_EMERGENCY", "true"),
                ("OUTBOUND_CALLER_ID", "3175550000"),
                ("OUTBOUND_ALLOWED_CALLER_IDS", "+13175550000, 3175550001"),
            ],
        )
        .unwrap();
        let p = &c.outbound.policy;
        assert_eq!(p.allowed_prefixes, vec!["+1", "+44"]);
        assert_eq!(
            p.denied_prefixes,
            byoc_core::nanp::default_denied_prefixes(),
            "blank keeps the default"
        );
        assert!(p.allow_emergency);
        assert_eq!(
            c.outbound.default_caller_id.as_deref(),
            Some("+13175550000")
        );
        assert_eq!(
            p.allowed_caller_ids.as_deref(),
            Some(&["+13175550000".to_string(), "+13175550001".to_string()][..])
        );
    }

    #[test]
    fn number_types_and_territories_for_any_home() {
        let c = config(
            Runtime::Lambda,
            &[
                ("DEFAULT_COUNTRY_CODE", "44"),
                ("OUTBOUND_DENIED_NUMBER_TYPES", "shared_cost, UAN"),
                ("OUTBOUND_ALLOWED_REGIONS", "je"),
            ],
        )
        .unwrap();
        let p = &c.outbound.policy;
        let names: Vec<&str> = p.denied_kinds.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "premium_rate",
                "personal_number",
                "pager",
                "shared_cost",
                "uan"
            ]
        );
        assert_eq!(p.allowed_regions[0].as_str(), "JE");
        assert_eq!(p.home_regions[0].as_str(), "GB");
        assert!(p.emergency_numbers.contains(&"999".to_string()));
        let err = |env: &[(&str, &str)]| config(Runtime::Lambda, env).unwrap_err().to_string();
        assert!(err(&[("OUTBOUND_DENIED_NUMBER_TYPES", "premium")]).contains("not a number type"));
        let home = err(&[
            ("DEFAULT_COUNTRY_CODE", "44"),
            ("OUTBOUND_ALLOWED_REGIONS", "GB"),
        ]);
        assert!(
            home.contains("the home country itself") && home.contains("GG, IM, JE"),
            "{home}"
        );
        let other = err(&[
            ("DEFAULT_COUNTRY_CODE", "44"),
            ("OUTBOUND_ALLOWED_REGIONS", "JM"),
        ]);
        assert!(other.contains("not a territory sharing +44"), "{other}");
        assert!(err(&[("DEFAULT_COUNTRY_CODE", "UK")]).contains("the United Kingdom is GB"));
        // Replacing the defaults keeps only the listed types.
        let c = config(
            Runtime::Lambda,
            &[
                ("OUTBOUND_REPLACE_DEFAULT_DENIALS", "true"),
                ("OUTBOUND_DENIED_NUMBER_TYPES", "premium_rate"),
            ],
        )
        .unwrap();
        assert_eq!(
            c.outbound.policy.denied_kinds,
            [byoc_core::phone::NumberKind::PremiumRate]
        );
    }

    #[test]
    fn denied_prefixes_add_to_the_built_in_ones_unless_replaced_loudly() {
        let built_in = byoc_core::nanp::default_denied_prefixes();
        let c = config(
            Runtime::Lambda,
            &[("OUTBOUND_DENIED_PREFIXES", "+1212, +1XXX555")],
        )
        .unwrap();
        let denied = &c.outbound.policy.denied_prefixes;
        assert!(denied.starts_with(&built_in), "{denied:?}");
        assert!(denied.contains(&"+1900".to_string()));
        assert!(denied.ends_with(&["+1212".to_string(), "+1XXX555".to_string()]));
        let c = config(
            Runtime::Lambda,
            &[
                ("OUTBOUND_DENIED_PREFIXES", "+1212"),
                ("OUTBOUND_REPLACE_DEFAULT_DENIALS", "true"),
            ],
        )
        .unwrap();
        assert_eq!(c.outbound.policy.denied_prefixes, vec!["+1212"]);
        // An allowed prefix written for a built-in denial lifts that one alone.
        let c = config(
            Runtime::Lambda,
            &[("OUTBOUND_ALLOWED_PREFIXES", "+1, +1876")],
        )
        .unwrap();
        let denied = &c.outbound.policy.denied_prefixes;
        assert!(!denied.contains(&"+1876".to_string()));
        assert!(denied.contains(&"+1658".to_string()));
        assert!(denied.contains(&"+1900".to_string()));
        // A longer allowed prefix lifts nothing: one Jamaican number must not open +1876.
        for allowed in ["+1, +18765550100", "+1, +12129765555", "+1, +19005550100"] {
            let c = config(Runtime::Lambda, &[("OUTBOUND_ALLOWED_PREFIXES", allowed)]).unwrap();
            assert_eq!(c.outbound.policy.denied_prefixes, built_in, "{allowed}");
        }
        assert!(config(Runtime::Lambda, &[("OUTBOUND_ALLOWED_PREFIXES", "+1X")]).is_err());
        assert!(config(Runtime::Lambda, &[("OUTBOUND_DENIED_PREFIXES", "+0")]).is_err());
    }
}
