//! A deployment as Twilio's SIP domain must point at it: its three inbound URLs, from a base URL
//! or a deployed stack's outputs, and the signed test requests `byoc twilio check` sends them.

use std::time::Duration;

use anyhow::{anyhow, Context};
use byoc_core::params::Params;

use crate::error::{Exit, Failure};

/// Where the deployment (and the region that takes over when it fails) is.
#[derive(clap::Args, Clone)]
pub struct Target {
    /// The deployment's base URL: its API URL (https://ID.execute-api.REGION.amazonaws.com), a
    /// custom domain, or any of its webhook URLs
    #[arg(long, conflicts_with = "stack", required_unless_present = "stack")]
    pub base_url: Option<String>,
    /// A deployed byoc-router stack: its URLs are read from its outputs (DescribeStacks)
    #[arg(long)]
    pub stack: Option<String>,
    /// The stack's region [default: the AWS SDK's (AWS_REGION, profile)]
    #[arg(long, requires = "stack")]
    pub region: Option<String>,
    /// Another region's deployment (base URL) whose /inbound/fallback Twilio calls when this one
    /// fails [default: this deployment's own /inbound/fallback]
    #[arg(long, conflicts_with = "fallback_stack")]
    pub fallback_url: Option<String>,
    /// Another region's stack whose fallback URL Twilio calls when this one fails
    #[arg(long, requires = "fallback_region")]
    pub fallback_stack: Option<String>,
    /// The fallback stack's region
    #[arg(long, requires = "fallback_stack")]
    pub fallback_region: Option<String>,
}

/// The URLs a SIP domain is pointed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Urls {
    pub voice: String,
    pub fallback: String,
    pub status: String,
}

impl Urls {
    /// The domain's form fields and values for these URLs (all webhooks by POST).
    pub fn fields(&self) -> [(&'static str, String); 6] {
        [
            ("VoiceUrl", self.voice.clone()),
            ("VoiceMethod", "POST".into()),
            ("VoiceFallbackUrl", self.fallback.clone()),
            ("VoiceFallbackMethod", "POST".into()),
            ("VoiceStatusCallbackUrl", self.status.clone()),
            ("VoiceStatusCallbackMethod", "POST".into()),
        ]
    }
}

/// A base URL from what a user may paste: the API URL, with or without a trailing `/`, or one
/// of its webhook URLs (the stack's `InboundWebhookUrl` output, …).
pub fn base_url(given: &str, option: &str) -> Result<String, Failure> {
    let url = given.trim().trim_end_matches('/');
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url
            .split_once("://")
            .is_some_and(|(_, rest)| !rest.is_empty() && !rest.starts_with('/'))
        && !url.contains(['?', '#'])
        && !url.chars().any(char::is_whitespace);
    if !ok {
        return Err(anyhow!(
            "{option} `{given}`: expected an http(s) URL without query, e.g. https://abc123.execute-api.us-east-1.amazonaws.com"
        )
        .into());
    }
    let base = [
        "/inbound/fallback",
        "/inbound/status",
        "/inbound",
        "/outbound",
    ]
    .iter()
    .find_map(|suffix| url.strip_suffix(suffix))
    .unwrap_or(url);
    Ok(base.to_string())
}

impl Target {
    /// The URLs, reading stacks' outputs where named.
    pub async fn urls(&self) -> Result<Urls, Failure> {
        let mut urls = match (&self.base_url, &self.stack) {
            (Some(base), _) => {
                let base = base_url(base, "--base-url")?;
                Urls {
                    voice: format!("{base}/inbound"),
                    fallback: format!("{base}/inbound/fallback"),
                    status: format!("{base}/inbound/status"),
                }
            }
            (None, Some(stack)) => stack_urls(stack, self.region.as_deref()).await?,
            (None, None) => {
                return Err(anyhow!("name the deployment: --base-url or --stack").into())
            }
        };
        if let Some(other) = &self.fallback_url {
            urls.fallback = format!("{}/inbound/fallback", base_url(other, "--fallback-url")?);
        } else if let Some(stack) = &self.fallback_stack {
            urls.fallback = stack_urls(stack, self.fallback_region.as_deref())
                .await?
                .fallback;
        }
        Ok(urls)
    }
}

/// The outputs template.yaml declares for the three inbound URLs.
const OUTPUTS: [&str; 3] = [
    "InboundWebhookUrl",
    "InboundFallbackUrl",
    "InboundStatusCallbackUrl",
];

async fn stack_urls(stack: &str, region: Option<&str>) -> Result<Urls, Failure> {
    let [voice, fallback, status] =
        stack_outputs(stack, region, OUTPUTS, "point Twilio at it").await?;
    Ok(Urls {
        voice,
        fallback,
        status,
    })
}

/// The values of these outputs of a deployed byoc-router stack (DescribeStacks), with errors
/// that say what to check; `purpose` ends "deploy it (sam deploy) before …".
pub(crate) async fn stack_outputs<const N: usize>(
    stack: &str,
    region: Option<&str>,
    keys: [&str; N],
    purpose: &str,
) -> Result<[String; N], Failure> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_string()));
    }
    let client = aws_sdk_cloudformation::Client::new(&loader.load().await);
    let answer = client
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| {
            let text = aws_sdk_cloudformation::error::DisplayErrorContext(&e).to_string();
            let missing = text.contains("does not exist");
            Failure {
                exit: if missing {
                    Exit::NotFound
                } else {
                    Exit::Unreachable
                },
                error: anyhow!(
                    "stack `{stack}`{}: {}",
                    region.map(|r| format!(" in {r}")).unwrap_or_default(),
                    if missing {
                        "does not exist (check --stack and --region)".to_string()
                    } else {
                        format!("cannot read its outputs: {text}")
                    }
                ),
            }
        })?;
    let found = answer
        .stacks()
        .first()
        .with_context(|| format!("stack `{stack}` was not returned"))?;
    let status = found.stack_status().map(|s| s.as_str()).unwrap_or("");
    if !status.ends_with("_COMPLETE") || status.contains("DELETE") {
        return Err(anyhow!(
            "stack `{stack}` is {status}: deploy it (sam deploy) before you {purpose}"
        )
        .into());
    }
    let mut values = Vec::with_capacity(N);
    for key in keys {
        let value = found
            .outputs()
            .iter()
            .find(|o| o.output_key() == Some(key))
            .and_then(|o| o.output_value())
            .map(str::to_string)
            .with_context(|| {
                format!(
                    "stack `{stack}` has no output {key}: is it a byoc-router stack \
                     (template.yaml), deployed with this version's template?"
                )
            })?;
        values.push(value);
    }
    values
        .try_into()
        .map_err(|_| anyhow!("stack `{stack}`: outputs miscounted").into())
}

/// One signed test request and what came back.
pub struct Probe {
    pub status: u16,
    /// `X-Byoc-Outcome`: how the deployment routed it.
    pub outcome: String,
    /// `X-Byoc-Reason`, when it says why.
    pub reason: String,
    /// `X-Byoc-Routes` (fallback answers): which routes the deployment answers from.
    pub routes: String,
    pub body: String,
    pub content_type: String,
}

/// Sends `params` to `url` as Twilio would: a form POST signed with `token`.
pub async fn probe(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    params: &[(&str, String)],
) -> Result<Probe, String> {
    let signed: Params = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let signature = byoc_core::signature::sign(token, url, &signed);
    let response = http
        .post(url)
        .header(byoc_core::signature::HEADER, signature)
        .header("user-agent", "TwilioProxy/1.1 (byoc twilio check)")
        .form(params)
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (outcome, content_type) = (header("x-byoc-outcome"), header("content-type"));
    let reason = header("x-byoc-reason");
    let routes = header("x-byoc-routes");
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    Ok(Probe {
        status,
        outcome,
        reason,
        routes,
        body,
        content_type,
    })
}

impl Probe {
    /// The TwiML with the deployment's own base URL (in a failover chain's `<Dial action>`,
    /// for one) written as `{base}`: what two regions on the same routes answer alike.
    pub fn answer_from(&self, base: &str) -> String {
        crate::call::response_body(&self.body)
            .trim()
            .replace(base, "{base}")
    }

    /// `Ok(first verb)` when this is a TwiML answer Twilio can run.
    pub fn twiml(&self) -> Result<String, String> {
        if self.status != 200 {
            let excerpt: String = self.body.trim().chars().take(120).collect();
            return Err(format!("HTTP {}: {excerpt}", self.status));
        }
        if !self.content_type.contains("xml") {
            return Err(format!("not TwiML: content-type `{}`", self.content_type));
        }
        let inner = crate::call::response_body(&self.body);
        byoc_core::twiml::check_fragment(inner).map_err(|e| format!("invalid TwiML: {e}"))?;
        let verb = inner
            .trim()
            .strip_prefix('<')
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_alphanumeric()).next())
            .unwrap_or("");
        if verb.is_empty() {
            return Err("an empty <Response/>: Twilio would hang up".into());
        }
        Ok(verb.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_read_from_what_users_paste() {
        for (given, base) in [
            (
                "https://abc.execute-api.us-east-1.amazonaws.com",
                "https://abc.execute-api.us-east-1.amazonaws.com",
            ),
            (
                "https://abc.execute-api.us-east-1.amazonaws.com/",
                "https://abc.execute-api.us-east-1.amazonaws.com",
            ),
            ("https://abc.example.com/inbound", "https://abc.example.com"),
            (
                "https://voice.example.com/router/inbound/fallback",
                "https://voice.example.com/router",
            ),
            (" http://127.0.0.1:3000/outbound ", "http://127.0.0.1:3000"),
        ] {
            assert_eq!(base_url(given, "--base-url").unwrap(), base, "{given}");
        }
        for bad in [
            "abc.example.com",
            "https://",
            "ftp://x",
            "https://x/inbound?a=1",
            "https:///x",
        ] {
            assert!(base_url(bad, "--base-url").is_err(), "{bad}");
        }
    }
}
