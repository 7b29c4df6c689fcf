//! How Twilio places a webhook request, for the failover tests: POST the signed call to the
//! voice URL; when that fails (no connection, a timeout, a 5xx answer), POST it to the voice
//! fallback URL with `ErrorCode` and `ErrorUrl` added, signed for that URL. Twilio waits 15 s
//! for an answer; the tests use a shorter timeout so a hung server costs seconds, not minutes.

use std::time::{Duration, Instant};

use crate::sign;

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
