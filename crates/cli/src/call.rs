//! `byoc call`: place a real test call over the BYOC trunk through Twilio's Calls API, after the
//! same destination and caller-ID policy the outbound webhook applies.

use std::process::ExitCode;

use anyhow::{anyhow, Context};
use byoc_core::outbound::{check_number, OutboundError};
use byoc_core::sid::{Sid, SidKind};
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
    /// BYOC trunk the call leaves over
    #[arg(long, env = "BYOC_TRUNK_SID")]
    pub trunk: String,
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
    let trunk = Sid::parse(SidKind::ByocTrunk, &args.trunk)?;
    let twilio = Twilio::new(&args.credentials)?;

    let mut form = vec![
        ("To", to.clone()),
        ("From", from.clone()),
        ("Byoc", trunk.to_string()),
    ];
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

    let json = twilio.post("Calls.json", &form).await?;
    let sid = json["sid"].as_str().unwrap_or("?");
    let call_status = json["status"].as_str().unwrap_or("?");
    outln!("call {sid} {call_status}: {from} -> {to} over {trunk}");
    Ok(ExitCode::SUCCESS)
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
