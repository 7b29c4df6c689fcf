//! `byoc routes resolve NUMBER`: the normalized number, the matched route and why.

use std::process::ExitCode;

use anyhow::Context;
use byoc_core::inbound::{self, InboundConfig};
use byoc_core::{Address, Route};
use byoc_dynamodb::Profile;
use byoc_web::{Config, Runtime};

use crate::source::Source;
use crate::CliResult;

#[derive(clap::Args)]
pub struct Args {
    /// The called number or address, in any form Twilio or a carrier sends
    /// (e.g. sip:+13175551234@example.sip.twilio.com, 3175551234, +13175551234)
    pub number: String,
    #[command(flatten)]
    pub source: Source,
}

pub async fn run(args: Args) -> CliResult {
    let config = Config::from_env(Runtime::Local).context("invalid configuration")?;
    let plan = &config.inbound.plan;
    let opened = args.source.open_read(plan, Profile::Admin).await?;
    println!("input:    {}", args.number);
    let address = match plan.normalize(&args.number) {
        Ok(a) => a,
        Err(e) => {
            println!("address:  invalid ({e})");
            let decision = inbound::decide(&Err(e.into()), None, &config.inbound);
            print_fallback(&decision, &config.inbound);
            return Ok(ExitCode::from(1));
        }
    };
    let kind = match &address {
        Address::E164(_) => "E.164 number",
        Address::Literal(_) => "literal address",
    };
    println!("address:  {address} ({kind})");
    println!("store:    {}", opened.description);
    match opened.store.resolve(&address).await?.matched {
        Some(m) => {
            println!("route:    {}", summary(&m.route));
            println!("why:      {}", m.explain(&address));
            println!("twiml:    {}", m.route.action.to_twiml().to_xml());
        }
        None => {
            println!("route:    none (no exact, prefix or * route matches)");
            let decision = inbound::decide(&Ok(address), None, &config.inbound);
            print_fallback(&decision, &config.inbound);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_fallback(decision: &inbound::Decision, config: &InboundConfig) {
    let answer = if config.default_action.is_some() {
        "the default route (DEFAULT_ROUTE_URL)"
    } else {
        "a rejection (no DEFAULT_ROUTE_URL configured)"
    };
    println!("answer:   {answer}");
    println!("twiml:    {}", decision.twiml.to_xml());
}

/// `pattern -> action details`, one line.
pub fn summary(route: &Route) -> String {
    let record = route.to_record();
    let mut details = Vec::new();
    for (name, value) in [
        ("method", record.method),
        ("url", record.url),
        ("number", record.number),
        ("byoc", record.byoc),
        ("uri", record.uri),
        ("caller_id", record.caller_id),
        ("timeout", record.timeout.map(|t| t.to_string())),
        ("text", record.text),
        ("voice", record.voice),
        ("language", record.language),
        ("reason", record.reason),
    ] {
        if let Some(value) = value {
            details.push(format!("{name}={value}"));
        }
    }
    let mut line = format!("{} -> {}", route.pattern, route.action.kind());
    if !details.is_empty() {
        line.push(' ');
        line.push_str(&details.join(" "));
    }
    if let Some(d) = &route.description {
        line.push_str(&format!("  ({d})"));
    }
    line
}
