//! How Twilio places a webhook request, for the failover tests: POST the signed call to the
//! voice URL; when that fails (no connection, a timeout, a 5xx answer), POST it to the voice
//! fallback URL with `ErrorCode` and `ErrorUrl` added, signed for that URL. Twilio waits 15 s
//! for an answer; the tests use a shorter timeout so a hung server costs seconds, not minutes.
//!
//! For outbound calls, [`Simulator::outbound`] runs the TwiML as Twilio does: a `<Dial>` is
//! placed through a test carrier, and when it has an `action`, Twilio POSTs the outcome there
//! (`DialCallStatus`, `DialSipResponseCode`, the call's own parameters), signed over the full
//! action URL, and runs the TwiML it gets back.

use std::time::{Duration, Instant};

use crate::sign;
use crate::twiml::{find, has, parse};

/// Twilio's error codes for a failed webhook request.
pub const HTTP_RETRIEVAL_FAILURE: &str = "11200";
pub const HTTP_CONNECTION_FAILURE: &str = "11205";

/// Which URL answered a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    Voice,
    Fallback,
}

/// A call's answer: the TwiML, who gave it, how long the caller waited.
#[derive(Debug, Clone)]
pub struct Answer {
    pub by: Answered,
    pub twiml: String,
    pub elapsed: Duration,
    /// Why the voice URL was not used, when the fallback answered.
    pub error_code: Option<&'static str>,
}

pub struct Simulator {
    pub client: reqwest::Client,
    pub token: String,
    pub voice_url: String,
    pub fallback_url: String,
}

impl Simulator {
    pub fn new(token: &str, voice_url: &str, fallback_url: &str, timeout: Duration) -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(timeout)
                // A fresh connection per call, as Twilio's fleet would: a killed server is then
                // seen as a refused connection, not a stale pooled one.
                .pool_max_idle_per_host(0)
                .build()
                .expect("client"),
            token: token.into(),
            voice_url: voice_url.into(),
            fallback_url: fallback_url.into(),
        }
    }

    async fn post(&self, url: &str, params: &[(&str, &str)]) -> Result<String, &'static str> {
        let response = self
            .client
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", sign(&self.token, url, params))
            .body(crate::form(params))
            .send()
            .await
            .map_err(|_| HTTP_CONNECTION_FAILURE)?;
        if response.status().is_server_error() {
            return Err(HTTP_RETRIEVAL_FAILURE);
        }
        let status = response.status();
        let body = response.text().await.map_err(|_| HTTP_CONNECTION_FAILURE)?;
        if status.is_success() {
            Ok(body)
        } else {
            // A 4xx is not retried on the fallback URL by Twilio either: the call fails.
            Err("4xx")
        }
    }

    /// Places one call; `Err` is a call Twilio could not get TwiML for from either URL.
    pub async fn call(&self, params: &[(&str, &str)]) -> Result<Answer, String> {
        let started = Instant::now();
        match self.post(&self.voice_url, params).await {
            Ok(twiml) => Ok(Answer {
                by: Answered::Voice,
                twiml,
                elapsed: started.elapsed(),
                error_code: None,
            }),
            Err("4xx") => Err(format!("{} refused the call", self.voice_url)),
            Err(code) => {
                let mut with_error = params.to_vec();
                with_error.push(("ErrorCode", code));
                with_error.push(("ErrorUrl", &self.voice_url));
                match self.post(&self.fallback_url, &with_error).await {
                    Ok(twiml) => Ok(Answer {
                        by: Answered::Fallback,
                        twiml,
                        elapsed: started.elapsed(),
                        error_code: Some(code),
                    }),
                    Err(fallback_code) => Err(format!(
                        "both URLs failed: voice {code}, fallback {fallback_code}"
                    )),
                }
            }
        }
    }
}

/// One `<Dial>` Twilio placed: the trunk of its numbers (`None`: Twilio's own network), the
/// numbers, and what the carrier answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub trunk: Option<String>,
    pub numbers: Vec<String>,
    pub status: &'static str,
    pub sip_code: Option<u16>,
}

/// How an outbound call's TwiML ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// `<Redirect>` out of the router (the flow's `ACTION_URL`), with its method.
    Redirect {
        url: String,
        method: String,
    },
    /// A `<Dial>` without `action`: the call goes on with the next verb, here none.
    DialEnded,
    /// A `<Dial>` whose `action` leaves the router (the flow's own URL): Twilio would post the
    /// outcome there; the simulator sends nothing off this machine.
    DialAction(String),
    Hangup,
    /// A spoken refusal.
    Said(String),
}

#[derive(Debug, Clone)]
pub struct OutboundCall {
    pub attempts: Vec<Attempt>,
    pub end: End,
    /// Every URL Twilio requested, in order.
    pub requests: Vec<String>,
}

impl Simulator {
    /// POSTs the call's parameters `call` to `url` (a widget URL with its query), then follows
    /// the TwiML: each `<Dial>` is answered by `carrier(trunk, numbers)` and, with an `action`,
    /// reported there as Twilio does. At most 10 requests.
    pub async fn outbound(
        &self,
        url: &str,
        call: &[(&str, &str)],
        carrier: impl Fn(Option<&str>, &[String]) -> (&'static str, Option<u16>),
    ) -> Result<OutboundCall, String> {
        let mut attempts = Vec::new();
        let mut requests = vec![url.to_string()];
        let mut xml = self
            .post(url, call)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        for _ in 0..10 {
            let twiml = parse(&xml);
            if has(&twiml, "Response/Redirect") {
                let r = find(&twiml, "Response/Redirect");
                return Ok(OutboundCall {
                    attempts,
                    end: End::Redirect {
                        url: r.text.clone(),
                        method: r.attr("method").unwrap_or("POST").to_string(),
                    },
                    requests,
                });
            }
            if has(&twiml, "Response/Say") {
                return Ok(OutboundCall {
                    attempts,
                    end: End::Said(find(&twiml, "Response/Say").text.clone()),
                    requests,
                });
            }
            if !has(&twiml, "Response/Dial") {
                assert!(has(&twiml, "Response/Hangup"), "unexpected TwiML: {xml}");
                return Ok(OutboundCall {
                    attempts,
                    end: End::Hangup,
                    requests,
                });
            }
            let dial = find(&twiml, "Response/Dial");
            let numbers: Vec<&crate::twiml::Element> = twiml
                .iter()
                .filter(|e| e.path == "Response/Dial/Number")
                .collect();
            let trunk = numbers[0].attr("byoc").map(str::to_string);
            assert!(
                numbers.iter().all(|n| n.attr("byoc") == trunk.as_deref()),
                "one trunk per Dial: {xml}"
            );
            let numbers: Vec<String> = numbers.iter().map(|n| n.text.clone()).collect();
            let (status, sip_code) = carrier(trunk.as_deref(), &numbers);
            attempts.push(Attempt {
                trunk,
                numbers,
                status,
                sip_code,
            });
            let Some(action) = dial.attr("action") else {
                return Ok(OutboundCall {
                    attempts,
                    end: End::DialEnded,
                    requests,
                });
            };
            let origin: String = url.split('/').take(3).collect::<Vec<_>>().join("/");
            if !action.starts_with(&format!("{origin}/")) {
                return Ok(OutboundCall {
                    attempts,
                    end: End::DialAction(action.to_string()),
                    requests,
                });
            }
            assert_eq!(dial.attr("method").unwrap_or("POST"), "POST", "{xml}");
            let code = sip_code.map(|c| c.to_string());
            let mut report: Vec<(&str, &str)> = call.to_vec();
            report.push(("DialCallStatus", status));
            report.push(("DialCallSid", "CA99999999999999999999999999999999"));
            if let Some(code) = &code {
                report.push(("DialSipResponseCode", code));
            }
            requests.push(action.to_string());
            xml = self
                .post(action, &report)
                .await
                .map_err(|e| format!("{action}: {e}"))?;
        }
        Err(format!("more than 10 requests: {requests:?}"))
    }
}
