//! `byoc routes resolve NUMBER`: the normalized number, the matched route and why.

use std::process::ExitCode;

use anyhow::Context;
use byoc_core::inbound::{self, InboundConfig};
use byoc_core::{Address, Route};

use byoc_core::schedule::call_time;
use byoc_dynamodb::{OpenedStore, Profile};
use byoc_web::{Config, Runtime};

use crate::error::{CliResult, Exit};
use crate::source::Source;

#[derive(clap::Args)]
pub struct Args {
    /// The called number or address, in any form Twilio or a carrier sends
    /// (e.g. sip:+13175551234@example.sip.twilio.com, 3175551234, +13175551234)
    pub number: String,
    /// The time of the call, for routes with a schedule: `now` (the default), RFC 3339
    /// (2026-12-25T10:00:00Z, 2026-12-25T10:00:00-05:00), or a local date-time
    /// (2026-12-25T10:00) in --tz
    #[arg(long, value_parser = parse_at)]
    pub at: Option<String>,
    /// The IANA time zone of a local --at (e.g. Europe/London; default: UTC)
    #[arg(long)]
    pub tz: Option<String>,
    /// The caller (`From`), for routes with caller conditions (`anonymous` for a withheld
    /// number)
    #[arg(long)]
    pub from: Option<String>,
    /// Twilio's STIR/SHAKEN result (`StirVerstat`), for `verstat` caller conditions, e.g.
    /// TN-Validation-Passed-A, TN-Validation-Failed, No-TN-Validation
    #[arg(long)]
    pub verstat: Option<String>,
    /// The call's SIP domain (`SipDomain`), for routes with a `scope`
    #[arg(long)]
    pub scope: Option<String>,
    /// The home country to read the number in (a country code such as 44, or a region such as
    /// GB; default: DEFAULT_COUNTRY_CODE, else 1). The routes are read as configured.
    #[arg(long, value_parser = parse_country)]
    pub country: Option<byoc_core::NumberPlan>,
    #[command(flatten)]
    pub source: Source,
}

fn parse_country(s: &str) -> Result<byoc_core::NumberPlan, String> {
    byoc_core::NumberPlan::new(s).map_err(|e| e.to_string())
}

/// Checks `--at` as clap reads it (a bad one is a usage error, exit 2); its time zone is
/// applied later.
fn parse_at(s: &str) -> Result<String, String> {
    call_time(Some(s), None)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

pub async fn run(args: Args) -> CliResult {
    let config = Config::from_env(Runtime::Local).context("invalid configuration")?;
    let opened = args
        .source
        .open_read(&config.inbound.plan, Profile::Admin)
        .await?;
    let call = Query {
        number: args.number,
        from: args.from,
        verstat: args.verstat,
        scope: args.scope,
        at: call_time(args.at.as_deref(), args.tz.as_deref())
            .map_err(|e| anyhow::anyhow!("--at: {e}"))?,
        country: args.country,
    };
    let explained = explain(&opened, &config.inbound, &call).await?;
    for (label, value) in &explained.lines {
        outln!("{:<9} {value}", format!("{label}:"));
    }
    Ok(if explained.address_ok {
        ExitCode::SUCCESS
    } else {
        Exit::NotFound.into()
    })
}

/// A call to explain: what `byoc routes resolve` and the console's "test a call" take.
pub struct Query {
    /// `To`, in any form Twilio sends.
    pub number: String,
    pub from: Option<String>,
    /// `StirVerstat`.
    pub verstat: Option<String>,
    /// `SipDomain`.
    pub scope: Option<String>,
    pub at: jiff::Timestamp,
    /// The home country to read the number in, instead of the configured one.
    pub country: Option<byoc_core::NumberPlan>,
}

/// How a call would be answered, as labelled lines (`input`, `address`, `store`, `route`,
/// `why`, `caller`, `schedule`, `outcome`, `twiml`…) in the order the CLI prints them.
pub struct Explained {
    pub lines: Vec<(&'static str, String)>,
    /// Whether the number could be read as an address.
    pub address_ok: bool,
}

/// The same steps as the server's: read the address as `To`, look up its key (the `*` route
/// for an unusable address), decide.
pub async fn explain(
    opened: &OpenedStore,
    config: &InboundConfig,
    call: &Query,
) -> Result<Explained, byoc_store::StoreError> {
    let chosen;
    let config = match &call.country {
        Some(plan) => {
            chosen = InboundConfig {
                plan: plan.clone(),
                ..config.clone()
            };
            &chosen
        }
        None => config,
    };
    let plan = &config.plan;
    let mut lines: Vec<(&'static str, String)> = Vec::new();
    let mut line = |label, value: String| lines.push((label, value));
    line("input", printable(&call.number));
    line(
        "home",
        format!(
            "{} ({}): national numbers are read as dialled there",
            plan.describe(),
            if call.country.is_some() {
                "asked for"
            } else {
                "DEFAULT_COUNTRY_CODE"
            }
        ),
    );
    let mut params = byoc_core::Params::new();
    params.push("To", call.number.as_str());
    let address = inbound::called_address(&params, plan);
    match &address {
        Ok(a @ Address::E164(_)) => line("address", format!("{a} (E.164 number)")),
        Ok(a @ Address::Literal(_)) => line("address", format!("{a} (literal address)")),
        Err(e) => line(
            "address",
            format!(
                "invalid ({}); only the * route may answer",
                printable(&e.to_string())
            ),
        ),
    }
    line("store", opened.store.describe());
    let scope = byoc_core::route::call_scope(call.scope.as_deref());
    if let Some(scope) = &scope {
        line(
            "scope",
            format!(
                "{scope} (a route scoped to it wins over the unscoped route of the same pattern)"
            ),
        );
    }
    let matched = opened
        .store
        .resolve(&inbound::lookup_key(&address), scope.as_deref())
        .await?
        .matched;
    // A blank --from is no caller given, not an anonymous one (`--from anonymous` is that).
    let given = call.from.as_deref().filter(|f| !f.trim().is_empty());
    let caller = inbound::Caller::new(given, call.verstat.as_deref(), plan);
    if let Some(f) = call.from.as_deref().filter(|f| !f.trim().is_empty()) {
        if caller.digits.is_none() && !caller.anonymous {
            line(
                "from",
                format!(
                    "`{}` has no number; only `anonymous` and `verstat` conditions can apply",
                    printable(f)
                ),
            );
        }
    }
    if let Some(v) = caller.verstat.as_deref() {
        let known = byoc_core::route::Verstat::NAMES
            .iter()
            .any(|n| byoc_core::route::Verstat::parse(n).is_some_and(|c| c.matches(v)));
        if !known {
            line(
                "verstat",
                format!(
                    "`{}` is not a value Twilio sends (TN-Validation-Passed-A/B/C, TN-Validation-Failed, TN-Validation-Failed-A/B/C, No-TN-Validation): no verstat condition matches it",
                    printable(v)
                ),
            );
        }
    }
    if given.is_none() && matched.as_ref().is_some_and(|m| m.route.needs_caller()) {
        line(
            "from",
            "not given: caller conditions are not tried and a split's share depends on the caller (--from +1…, or --from anonymous for a withheld number)".to_string(),
        );
    }
    let decision = inbound::decide(
        &address,
        matched.as_ref(),
        config,
        &inbound::Call {
            caller: &caller,
            ..inbound::Call::at(call.at)
        },
    );
    match (&matched, &decision.pattern) {
        (Some(m), Some(_)) => {
            line("route", summary(&m.route));
            match &address {
                Ok(a) => line("why", m.explain(a)),
                Err(_) => line(
                    "why",
                    "the * route answers calls whose address is unusable".to_string(),
                ),
            }
        }
        _ => line(
            "route",
            "none (no exact, prefix or * route matches)".to_string(),
        ),
    }
    if let Some(rule) = &decision.caller_rule {
        let who = match (&caller.digits, caller.anonymous) {
            (Some(d), _) => format!("+{d}"),
            (None, true) => "an anonymous caller".to_string(),
            (None, false) => "the caller".to_string(),
        };
        let verstat = caller
            .verstat
            .as_deref()
            .map(|v| format!(" ({v})"))
            .unwrap_or_default();
        line(
            "caller",
            format!("{who}{verstat} matches the caller condition {rule}"),
        );
    }
    if let (Some(i), Some(m)) = (decision.share, &matched) {
        let answered = m.route.answer(call.at, &caller).0.action;
        if let byoc_core::Action::Split(split) = answered {
            let pct = split.percentages();
            let shares: Vec<String> = split
                .shares
                .iter()
                .zip(&pct)
                .enumerate()
                .map(|(n, (s, p))| format!("{} {p:.0}% {}", n + 1, s.action.kind()))
                .collect();
            let by = match (&caller.digits, given) {
                (Some(d), _) => format!("+{d} always gets this share while the weights hold"),
                (None, Some(_)) => "no caller number: each call is placed by its CallSid, this one as an empty CallSid would be".to_string(),
                (None, None) => "no caller given: the share shown is an example".to_string(),
            };
            line(
                "share",
                format!(
                    "{} of {} ({:.0}%): {by}; shares {}",
                    i + 1,
                    split.shares.len(),
                    pct[i],
                    shares.join(", ")
                ),
            );
        }
    }
    if let Some(e) = &decision.schedule {
        line("time", call.at.to_string());
        line("schedule", e.why.clone());
    }
    if decision.pattern.is_none() {
        line("answer", fallback(config).to_string());
    }
    line("outcome", decision.outcome.as_str().to_string());
    if let Some(reason) = &decision.reason {
        line("reason", printable(reason));
    }
    line("twiml", decision.twiml.to_xml());
    Ok(Explained {
        lines,
        address_ok: address.is_ok(),
    })
}

fn fallback(config: &InboundConfig) -> &'static str {
    if config.default_action.is_some() {
        "the default route (DEFAULT_ROUTE_URL)"
    } else {
        "a rejection (no DEFAULT_ROUTE_URL configured)"
    }
}

/// `pattern -> action details  (description)`, one line.
pub fn summary(route: &Route) -> String {
    let mut line = String::new();
    summary_into(route, &mut line);
    line
}

/// [`summary`], written at the end of `line` (a console filter reuses one buffer for a
/// million routes).
pub fn summary_into(route: &Route, line: &mut String) {
    use std::fmt::Write as _;
    let _ = write!(line, "{} -> {}", route.key(), route.action.kind());
    let start = line.len();
    line.push(' ');
    target_into(route, line);
    if line.len() == start + 1 {
        line.truncate(start);
    }
    if let Some(d) = &route.description {
        line.push_str("  (");
        printable_into(d, line);
        line.push(')');
    }
}

/// What a route does besides its action's name: `url=… method=…`, its schedule and caller
/// conditions, one line.
pub fn target(route: &Route) -> String {
    let mut line = String::new();
    target_into(route, &mut line);
    line
}

/// [`target`], written at the end of `line`.
fn target_into(route: &Route, line: &mut String) {
    use std::fmt::Write as _;
    let record = route.to_record();
    let start = line.len();
    for (name, value) in [
        ("method", record.method.as_deref()),
        ("url", record.url.as_deref()),
        ("number", record.number.as_deref()),
        ("byoc", record.byoc.as_deref()),
        ("uri", record.uri.as_deref()),
        ("caller_id", record.caller_id.as_deref()),
        ("timeout", record.timeout.map(|t| t.to_string()).as_deref()),
        ("text", record.text.as_deref()),
        ("voice", record.voice.as_deref()),
        ("language", record.language.as_deref()),
        ("reason", record.reason.as_deref()),
        ("identity", record.identity.as_deref()),
        ("application", record.application.as_deref()),
        ("parameters", record.parameters.as_deref()),
        ("workflow", record.workflow.as_deref()),
        ("task_attributes", record.task_attributes.as_deref()),
        ("name", record.name.as_deref()),
        ("twiml", record.twiml.as_deref()),
        ("targets", record.targets.as_deref()),
        ("final", record.final_action.as_deref()),
        ("shares", record.shares.as_deref()),
    ] {
        if let Some(value) = value {
            if line.len() > start {
                line.push(' ');
            }
            line.push_str(name);
            line.push('=');
            // One line per route: long values (TwiML, task attributes) are cut, and line
            // breaks and other control characters are shown escaped (`\n`).
            let cut = value.char_indices().nth(80).map_or(value.len(), |(i, _)| i);
            printable_into(&value[..cut], line);
            if cut < value.len() {
                line.push('…');
            }
        }
    }
    if let Some(s) = &route.schedule {
        let _ = write!(
            line,
            " [scheduled {}; closed -> {}]",
            s.schedule.spec().timezone,
            s.closed.kind()
        );
    }
    if !route.callers.is_empty() {
        line.push_str(" [callers ");
        for (i, r) in route.callers.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            line.push_str(&r.name);
            if r.observe {
                line.push_str(" (observed)");
            }
        }
        line.push(']');
    }
    // As trimmed: a route with no field but a schedule starts with its `[`.
    if line[start..].starts_with(' ') {
        line.remove(start);
    }
}

/// `s` for a one-line display: control characters and bidirectional overrides (which could
/// reorder what a terminal shows) escaped, everything else as it is.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    printable_into(s, &mut out);
    out
}

/// [`printable`], written at the end of `out`.
fn printable_into(s: &str, out: &mut String) {
    // Most text is printable ASCII: copied as it is.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
}
