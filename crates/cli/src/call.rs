//! `byoc call`: place a real test call over the BYOC trunk through Twilio's Calls API, after the
//! same destination and caller-ID policy the outbound webhook applies. With several trunks (or
//! `OUTBOUND_FALLBACK_PSTN`) it takes the webhook's steps: each attempt is watched to its end
//! and only a technical failure moves the call to the next trunk.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use byoc_core::outbound::failover::trunk_name;
use byoc_core::outbound::{check_number, trunks_for, AttemptResult, OutboundError};
use byoc_core::twiml::{Response, Verb};
use byoc_core::Address;
use byoc_web::{Config, Runtime};

use crate::error::{CliResult, Exit, Failure};
use crate::twilio::api::{Credentials, Twilio};

/// What the call does when answered, unless `--url` or `--twiml` says otherwise.
const DEFAULT_MESSAGE: &str = "This is a byoc-router test call over your BYOC trunk. Goodbye.";

#[derive(clap::Args)]
pub struct Args {
    /// Number to call, in any form the router normalizes
    #[arg(long)]
    pub to: String,
    /// Caller ID (E.164) [default: OUTBOUND_CALLER_ID]
    #[arg(long)]
    pub from: Option<String>,
    /// BYOC trunk(s) the call leaves over, tried in order on technical failures: `BY…` or up
    /// to 5 `BY…,BY…` [default: the OUTBOUND_TRUNK_ROUTES entry of --to, else BYOC_TRUNK_SID]
    #[arg(long)]
    pub trunk: Option<String>,
    /// With several attempts: the longest wait, in seconds (5 to 3600), for each one's outcome
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(5..=3600))]
    pub wait: u64,
    /// TwiML URL Twilio fetches when the call is answered
    #[arg(long, conflicts_with = "twiml")]
    pub url: Option<String>,
    /// TwiML to run when the call is answered [default: a short spoken message]
    #[arg(long)]
    pub twiml: Option<String>,
    #[command(flatten)]
    pub credentials: Credentials,
}

fn refused(e: OutboundError) -> Failure {
    Failure::new(
        Exit::Invalid,
        anyhow!("refused by policy before calling Twilio: {e}"),
    )
}

pub async fn run(args: Args) -> CliResult {
    let config = Config::from_env(Runtime::Local).context("invalid configuration")?;
    let outbound = &config.outbound;
    let to = check_number(&args.to, outbound).map_err(refused)?;
    let from = match args
        .from
        .as_deref()
        .or(outbound.default_caller_id.as_deref())
    {
        Some(f) => match outbound.plan.normalize(f) {
            Ok(Address::E164(n)) => n,
            _ => return Err(anyhow!("--from `{f}` is not an E.164 number").into()),
        },
        None => return Err(anyhow!("name a caller ID: --from +1… or OUTBOUND_CALLER_ID").into()),
    };
    outbound.policy.check_caller_id(&from).map_err(refused)?;
    let trunks = trunks_for(args.trunk.as_deref(), std::slice::from_ref(&to), outbound).map_err(
        |e| match e {
            OutboundError::MissingTrunk => Failure::new(
                Exit::Invalid,
                anyhow!("name a trunk: --trunk BY… or BYOC_TRUNK_SID"),
            ),
            e => Failure::new(Exit::Invalid, anyhow!("--trunk: {e}")),
        },
    )?;
    let attempts = trunks.len() + usize::from(outbound.pstn_fallback);
    let twilio = Twilio::new(&args.credentials)?;

    let mut form = vec![("To", to.clone()), ("From", from.clone())];
    match (&args.url, &args.twiml) {
        (Some(url), _) => {
            let url = byoc_core::route::check_url("url", url).map_err(|e| anyhow!("--url: {e}"))?;
            form.push(("Url", url));
        }
        (None, Some(twiml)) => form.push(("Twiml", call_twiml(twiml)?)),
        (None, None) => form.push((
            "Twiml",
            Response::new()
                .verb(Verb::Say {
                    text: DEFAULT_MESSAGE.into(),
                    voice: None,
                    language: None,
                })
                .to_xml(),
        )),
    }

    for i in 0..attempts {
        let trunk = trunk_name(&trunks, i);
        let mut attempt_form = form.clone();
        if let Some(sid) = trunks.get(i) {
            attempt_form.push(("Byoc", sid.to_string()));
        }
        let json = twilio.post("Calls.json", &attempt_form).await?;
        let sid = json["sid"].as_str().unwrap_or("?").to_string();
        let call_status = json["status"].as_str().unwrap_or("?");
        let over = if trunks.get(i).is_some() {
            trunk.to_string()
        } else {
            "Twilio's network (OUTBOUND_FALLBACK_PSTN)".to_string()
        };
        if attempts == 1 {
            outln!("call {sid} {call_status}: {from} -> {to} over {over}");
            return Ok(ExitCode::SUCCESS);
        }
        outln!(
            "attempt {}/{attempts}: call {sid} {call_status}: {from} -> {to} over {over}",
            i + 1
        );
        let status = watch(&twilio, &sid, Duration::from_secs(args.wait)).await?;
        let Some(status) = status else {
            return Err(Failure::new(
                Exit::Unreachable,
                anyhow!(
                    "call {sid} did not end or answer within {} s: not trying another trunk while it may still ring (raise --wait)",
                    args.wait
                ),
            ));
        };
        let result = AttemptResult::of(&status, None);
        match result {
            AttemptResult::Technical if i + 1 < attempts => {
                outln!(
                    "attempt {}/{attempts}: {status} over {trunk} (a technical failure): trying {}",
                    i + 1,
                    trunk_name(&trunks, i + 1)
                );
            }
            AttemptResult::Technical => {
                return Err(Failure::new(
                    Exit::Unreachable,
                    anyhow!("every attempt failed: the last over {trunk} ended {status}"),
                ));
            }
            other => {
                outln!(
                    "attempt {}/{attempts}: {status} over {trunk} ({}): done",
                    i + 1,
                    other.as_str()
                );
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Polls a call until it is answered or over: its status (`in-progress` is reported as
/// `answered`), or `None` when `wait` passed first. Half a second apart at first, then further
/// apart (at most 5 s: a long `--wait` makes hundreds of requests, not thousands); a failed
/// poll is tried again, and only three failures in a row give up, since the call may still ring.
async fn watch(twilio: &Twilio, sid: &str, wait: Duration) -> Result<Option<String>, Failure> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(500);
    let mut failures = 0;
    loop {
        tokio::time::sleep(pause).await;
        pause = (pause * 3 / 2).min(Duration::from_secs(5));
        let json = match twilio.get(&format!("Calls/{sid}.json")).await {
            Ok(json) => {
                failures = 0;
                json
            }
            Err(e) if failures < 2 && started.elapsed() < wait => {
                failures += 1;
                eprintln!("byoc: polling call {sid} failed ({e}); trying again");
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        match json["status"].as_str().unwrap_or("") {
            "in-progress" => return Ok(Some("answered".into())),
            s @ ("completed" | "busy" | "no-answer" | "failed" | "canceled") => {
                return Ok(Some(s.to_string()))
            }
            _ if started.elapsed() >= wait => return Ok(None),
            _ => {}
        }
    }
}

/// `--twiml` as Twilio's `Twiml` parameter: verbs (`<Say>Hi</Say>`) or a whole
/// `<Response>…</Response>` document, checked like a `twiml` route before anything is sent, and
/// always sent as a document (Twilio refuses bare verbs).
fn call_twiml(given: &str) -> anyhow::Result<String> {
    let inner = response_body(given);
    byoc_core::twiml::check_fragment(inner).map_err(|e| anyhow!("--twiml: {e}"))?;
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>{}</Response>",
        inner.trim()
    ))
}

/// The verbs of a TwiML document (`<?xml …?><Response>…</Response>`), or the text itself when
/// it is not wrapped.
pub fn response_body(given: &str) -> &str {
    let text = given.trim();
    let text = text
        .strip_prefix("<?xml")
        .and_then(|rest| rest.split_once("?>").map(|(_, body)| body.trim()))
        .unwrap_or(text);
    text.strip_prefix("<Response>")
        .and_then(|rest| rest.strip_suffix("</Response>"))
        .unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twiml_is_checked_and_wrapped() {
        let doc = call_twiml("<Say>Hi</Say>").unwrap();
        assert!(doc.ends_with("<Response><Say>Hi</Say></Response>"), "{doc}");
        assert_eq!(
            call_twiml("<Response><Say>Hi</Say></Response>").unwrap(),
            doc
        );
        assert_eq!(
            call_twiml("<?xml version=\"1.0\"?>\n<Response><Say>Hi</Say></Response>").unwrap(),
            doc
        );
        assert!(call_twiml("<Say>Hi")
            .unwrap_err()
            .to_string()
            .contains("not closed"));
        assert!(call_twiml("Hello").is_err());
    }
}
