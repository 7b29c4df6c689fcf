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
    /// The time of the call, for routes with a schedule (RFC 3339, e.g. 2026-12-25T10:00:00Z;
    /// default: now)
    #[arg(long, value_parser = parse_at)]
    pub at: Option<jiff::Timestamp>,
    /// The caller (`From`), for routes with caller conditions
    #[arg(long)]
    pub from: Option<String>,
    /// The call's SIP domain (`SipDomain`), for routes with a `scope`
    #[arg(long)]
    pub scope: Option<String>,
    #[command(flatten)]
    pub source: Source,
}

fn parse_at(s: &str) -> Result<jiff::Timestamp, String> {
    s.parse().map_err(|e| {
        format!("`{s}` is not an RFC 3339 time such as 2026-12-25T10:00:00Z or 2026-12-25T10:00:00-05:00: {e}")
    })
}

pub async fn run(args: Args) -> CliResult {
    let config = Config::from_env(Runtime::Local).context("invalid configuration")?;
    let plan = &config.inbound.plan;
    let opened = args.source.open_read(plan, Profile::Admin).await?;
    let at = args.at.unwrap_or_else(jiff::Timestamp::now);
    outln!("input:    {}", printable(&args.number));
    // The same steps as the server's: read the address as `To`, look up its key (the `*`
    // route for an unusable address), decide.
    let mut params = byoc_core::Params::new();
    params.push("To", args.number.as_str());
    let address = inbound::called_address(&params, plan);
    match &address {
        Ok(a @ Address::E164(_)) => outln!("address:  {a} (E.164 number)"),
        Ok(a @ Address::Literal(_)) => outln!("address:  {a} (literal address)"),
        Err(e) => outln!(
            "address:  invalid ({}); only the * route may answer",
            printable(&e.to_string())
        ),
    }
    outln!("store:    {}", opened.description);
    let scope = byoc_core::route::call_scope(args.scope.as_deref());
    if let Some(scope) = &scope {
        outln!("scope:    {scope} (routes scoped to it win over unscoped ones)");
    }
    let matched = opened
        .store
        .resolve(&inbound::lookup_key(&address), scope.as_deref())
        .await?
        .matched;
    let from = match args.from.as_deref() {
        Some(f) => match plan.caller_digits(f) {
            Some(digits) => Some(digits),
            None => {
                outln!("from:     `{f}` has no number; caller conditions do not apply");
                None
            }
        },
        None => None,
    };
    let call = inbound::Call {
        from: from.as_deref(),
        ..inbound::Call::at(at)
    };
    let decision = inbound::decide(&address, matched.as_ref(), &config.inbound, &call);
    match (&matched, &decision.pattern) {
        (Some(m), Some(_)) => {
            outln!("route:    {}", summary(&m.route));
            match &address {
                Ok(a) => outln!("why:      {}", m.explain(a)),
                Err(_) => outln!("why:      the * route answers calls whose address is unusable"),
            }
        }
        _ => outln!("route:    none (no exact, prefix or * route matches)"),
    }
    if let Some(prefix) = &decision.caller_rule {
        outln!(
            "caller:   +{} matches the caller condition {prefix}",
            from.as_deref().unwrap_or("")
        );
    }
    if let Some(e) = &decision.schedule {
        outln!("time:     {at}");
        outln!("schedule: {}", e.why);
    }
    if decision.pattern.is_none() {
        print_fallback(&config.inbound);
    }
    outln!("outcome:  {}", decision.outcome.as_str());
    if let Some(reason) = &decision.reason {
        outln!("reason:   {}", printable(reason));
    }
    outln!("twiml:    {}", decision.twiml.to_xml());
    Ok(if address.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_fallback(config: &InboundConfig) {
    let answer = if config.default_action.is_some() {
        "the default route (DEFAULT_ROUTE_URL)"
    } else {
        "a rejection (no DEFAULT_ROUTE_URL configured)"
    };
    outln!("answer:   {answer}");
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
        ("identity", record.identity),
        ("application", record.application),
        ("parameters", record.parameters),
        ("workflow", record.workflow),
        ("task_attributes", record.task_attributes),
        ("name", record.name),
        ("twiml", record.twiml),
        ("targets", record.targets),
        ("final", record.final_action),
    ] {
        if let Some(value) = value {
            // One line per route: long values (TwiML, task attributes) are cut, and line
            // breaks and other control characters are shown escaped (`\n`).
            let mut shown = printable(&value.chars().take(80).collect::<String>());
            if value.chars().count() > 80 {
                shown.push('…');
            }
            details.push(format!("{name}={shown}"));
        }
    }
    let mut line = format!("{} -> {}", route.key(), route.action.kind());
    if !details.is_empty() {
        line.push(' ');
        line.push_str(&details.join(" "));
    }
    if let Some(s) = &route.schedule {
        line.push_str(&format!(
            " [scheduled {}; closed -> {}]",
            s.schedule.spec().timezone,
            s.closed.kind()
        ));
    }
    if !route.callers.is_empty() {
        let prefixes: Vec<&str> = route.callers.iter().map(|r| r.prefix.as_str()).collect();
        line.push_str(&format!(" [callers {}]", prefixes.join(",")));
    }
    if let Some(d) = &route.description {
        line.push_str(&format!("  ({})", printable(d)));
    }
    line
}

/// `s` for a one-line display: control characters and bidirectional overrides (which could
/// reorder what a terminal shows) escaped, everything else as it is.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
