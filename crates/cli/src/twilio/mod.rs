//! `byoc twilio`: the Twilio side of a deployment from the command line. `connect` points a SIP
//! domain's three webhooks at a deployment (or its fallback at another region's), `check` reads
//! them back and sends the deployment signed test calls, `domains` and `trunks` list what the
//! account has.
//!
//! `api.rs` Twilio's REST API; `deployment.rs` the deployment's URLs and the test requests.

pub mod api;
pub(crate) mod deployment;

use std::process::ExitCode;

use anyhow::anyhow;

use crate::error::{CliResult, Exit, Failure};
use api::{Credentials, SipDomain, Twilio};
use deployment::{probe, Target, Urls};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Point a SIP domain's voice URL, fallback URL and status callback at a deployment.
    Connect(ConnectArgs),
    /// Check a SIP domain's webhooks and that the deployment answers signed test calls.
    Check(CheckArgs),
    /// List the account's SIP domains and their voice URLs.
    Domains(ListArgs),
    /// List the account's BYOC trunks (the BY… SID is ByocTrunkSid / BYOC_TRUNK_SID).
    Trunks(ListArgs),
}

#[derive(clap::Args)]
pub struct ConnectArgs {
    /// The SIP domain: NAME.sip.twilio.com, or its SID (SD…)
    #[arg(long)]
    pub domain: String,
    #[command(flatten)]
    pub target: Target,
    /// Show the change without making it
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub credentials: Credentials,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The SIP domain: NAME.sip.twilio.com, or its SID (SD…)
    #[arg(long)]
    pub domain: String,
    #[command(flatten)]
    pub target: Target,
    /// A DID, or an extension route's address (4321, support), the test call dials: it must
    /// match a route [default: any answer will do]
    #[arg(long)]
    pub number: Option<String>,
    /// During a token rotation, the new token: the deployment must accept it too
    #[arg(long, env = "TWILIO_AUTH_TOKEN_NEXT", hide_env_values = true)]
    pub next_token: Option<String>,
    #[command(flatten)]
    pub credentials: Credentials,
}

#[derive(clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub credentials: Credentials,
}

pub async fn run(command: Command) -> CliResult {
    match command {
        Command::Connect(args) => connect(args).await,
        Command::Check(args) => check(args).await,
        Command::Domains(args) => {
            let twilio = Twilio::new(&args.credentials)?;
            let domains = twilio.domains().await?;
            if domains.is_empty() {
                outln!("no SIP domains in account {}", twilio.account());
            }
            for d in domains {
                outln!("{}  {}", d.domain_name, d.sid);
                for (field, value) in d.webhooks() {
                    if field.ends_with("Url") {
                        outln!("  {field:<24} {}", shown_or_unset(value.unwrap_or("")));
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Trunks(args) => {
            let twilio = Twilio::new(&args.credentials)?;
            let trunks = twilio.trunks().await?;
            if trunks.is_empty() {
                outln!("no BYOC trunks in account {}", twilio.account());
            }
            for t in trunks {
                outln!(
                    "{}  {}  voice URL: {}",
                    t.sid,
                    t.friendly_name.as_deref().unwrap_or(""),
                    shown_or_unset(t.voice_url.as_deref().unwrap_or(""))
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A URL as printed: credentials in it (`https://user:secret@host/…`, which Twilio accepts in a
/// webhook URL) are masked.
fn shown(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

fn shown_or_unset(url: &str) -> String {
    if url.is_empty() {
        "(not set)".into()
    } else {
        shown(url)
    }
}

/// Without `--fallback-…`, a fallback URL that already points at another deployment's
/// `/inbound/fallback` is kept only when that deployment answers from the same routes as this
/// one (another region of the same deployment: re-running `connect` after a deploy must not
/// move the fallback back into the primary region). Anything else (a dev tunnel's fallback
/// left behind, a deployment on other routes, one that does not answer, no token to sign the
/// test call with) is replaced by this deployment's own fallback URL. Either way, said loudly.
async fn choose_fallback(
    urls: &mut Urls,
    target: &Target,
    domain: &SipDomain,
    twilio: &Twilio,
    token: Option<&str>,
) -> Option<String> {
    if target.fallback_url.is_some() || target.fallback_stack.is_some() {
        return None;
    }
    let current = domain.voice_fallback_url.as_deref()?;
    let base = current.strip_suffix("/inbound/fallback")?;
    let own = urls.voice.strip_suffix("/inbound")?;
    if base == own || !(base.starts_with("https://") || base.starts_with("http://")) {
        return None;
    }
    let replaced = |why: String| {
        Some(format!(
            "REPLACING the fallback URL {}: {why}; the fallback is now this deployment's own",
            shown(current)
        ))
    };
    let Some(token) = token else {
        return replaced(
            "without TWILIO_AUTH_TOKEN to sign a test call, nothing tells that it serves the same routes"
                .into(),
        );
    };
    let http = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(http) => http,
        Err(e) => return replaced(format!("no HTTP client: {e}")),
    };
    let mut call = test_call(domain, DEFAULT_TEST_NUMBER, twilio.account().as_str());
    call.push(("ErrorCode", "11200".into()));
    call.push(("ErrorUrl", urls.voice.clone()));
    let routes = |url: String| {
        let (http, call) = (&http, &call);
        async move {
            match probe(http, &url, token, call).await {
                Ok(p) if p.status == 200 && !p.routes.is_empty() => Ok(p.routes),
                Ok(p) => Err(format!(
                    "{} answered HTTP {} without naming its routes",
                    shown(&url),
                    p.status
                )),
                Err(e) => Err(format!("{}: {e}", shown(&url))),
            }
        }
    };
    let (theirs, ours) = (
        routes(current.to_string()).await,
        routes(urls.fallback.clone()).await,
    );
    match (theirs, ours) {
        (Ok(theirs), Ok(ours)) if theirs == ours => {
            urls.fallback = current.to_string();
            Some(format!(
                "KEEPING the fallback URL {}: another deployment on the same routes ({ours}); pass --fallback-url or --fallback-stack to change it",
                shown(current)
            ))
        }
        (Ok(theirs), Ok(ours)) => replaced(format!(
            "it answers from other routes ({theirs}; this deployment: {ours})"
        )),
        (Err(e), _) => replaced(format!("it cannot be compared with this deployment ({e})")),
        (_, Err(e)) => replaced(format!(
            "this deployment's own fallback cannot be compared with it ({e})"
        )),
    }
}

/// The domain, or exit 1 naming the ones there are. A `--domain` that cannot be one is bad input
/// (exit 2), before Twilio is asked.
async fn find_domain(twilio: &Twilio, name: &str) -> Result<SipDomain, Failure> {
    let name = name.trim();
    let hostname = name.contains('.')
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !hostname && !name.starts_with("SD") {
        return Err(anyhow!(
            "--domain `{name}`: expected a SIP domain name (NAME.sip.twilio.com) or its SID (SD…)"
        )
        .into());
    }
    if name.starts_with("SD") && !hostname {
        byoc_core::sid::Sid::parse(byoc_core::sid::SidKind::SipDomain, name)?;
    }
    if let Some(domain) = twilio.domain(name).await? {
        return Ok(domain);
    }
    let names: Vec<String> = match twilio.domains().await {
        Ok(all) => all.into_iter().map(|d| d.domain_name).collect(),
        Err(_) => Vec::new(),
    };
    Err(Failure {
        exit: Exit::NotFound,
        error: anyhow!(
            "no SIP domain `{name}` in account {}{}",
            twilio.account(),
            if names.is_empty() {
                String::new()
            } else {
                format!(" (it has: {})", names.join(", "))
            }
        ),
    })
}

/// Each webhook field: what it is, what it should be.
fn differences<'a>(domain: &'a SipDomain, urls: &'a Urls) -> Vec<(&'static str, &'a str, String)> {
    domain
        .webhooks()
        .into_iter()
        .zip(urls.fields())
        .map(|((field, current), (_, wanted))| (field, current.unwrap_or(""), wanted))
        .collect()
}

fn same(field: &str, current: &str, wanted: &str) -> bool {
    if field.ends_with("Method") {
        current.eq_ignore_ascii_case(wanted)
    } else {
        current == wanted
    }
}

async fn connect(args: ConnectArgs) -> CliResult {
    let mut urls = args.target.urls().await?;
    let twilio = Twilio::new(&args.credentials)?;
    let domain = find_domain(&twilio, &args.domain).await?;
    outln!("SIP domain {} ({})", domain.domain_name, domain.sid);
    if let Some(note) = choose_fallback(
        &mut urls,
        &args.target,
        &domain,
        &twilio,
        args.credentials.auth_token.as_deref(),
    )
    .await
    {
        outln!("  note: {note}");
    }
    let mut changes = Vec::new();
    for (field, current, wanted) in differences(&domain, &urls) {
        if same(field, current, &wanted) {
            outln!("  {field:<26} {}  (unchanged)", shown(&wanted));
        } else {
            outln!(
                "  {field:<26} {}  ->  {}",
                shown_or_unset(current),
                shown(&wanted)
            );
            changes.push((field, wanted));
        }
    }
    if changes.is_empty() {
        outln!("already connected: nothing to change");
        return Ok(ExitCode::SUCCESS);
    }
    if args.dry_run {
        outln!(
            "dry run: {} field(s) would change; nothing was changed",
            changes.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    // One request: Twilio applies every field or none.
    let updated = match twilio.update_domain(&domain.sid, &changes).await {
        Ok(updated) => updated,
        // Twilio's own refusal of the request (a 4xx with its error): nothing was applied.
        Err(
            e @ api::TwilioError::Refused {
                status: 400..=499, ..
            },
        ) => {
            let failure = Failure::from(e);
            return Err(Failure {
                exit: failure.exit,
                error: failure.error.context("nothing was changed"),
            });
        }
        // A dropped connection, a gateway's page, a 5xx, an answer that cannot be read: Twilio
        // may have applied the update before its answer was lost.
        Err(e) => {
            let failure = Failure::from(e);
            return Err(Failure {
                exit: failure.exit,
                error: failure.error.context(format!(
                    "the update of {} may or may not have been applied: run `byoc twilio check --domain {}`",
                    domain.domain_name, domain.domain_name
                )),
            });
        }
    };
    let wrong: Vec<&str> = differences(&updated, &urls)
        .into_iter()
        .filter(|(field, current, wanted)| !same(field, current, wanted))
        .map(|(field, _, _)| field)
        .collect();
    if !wrong.is_empty() {
        return Err(Failure {
            exit: Exit::NotFound,
            error: anyhow!(
                "Twilio accepted the update but reads back other values for {}",
                wrong.join(", ")
            ),
        });
    }
    outln!(
        "connected: {} field(s) set in one request; check it any time with `byoc twilio check --domain {}`",
        changes.len(),
        domain.domain_name
    );
    Ok(ExitCode::SUCCESS)
}

/// A webhook URL without its endpoint's path: the deployment's base URL.
fn base_of<'a>(url: &'a str, path: &str) -> &'a str {
    url.strip_suffix(path).unwrap_or(url)
}

/// A valid number no route is likely to name: the `*` route or the default answers it.
const DEFAULT_TEST_NUMBER: &str = "+15005550006";

/// A test call's parameters, as Twilio sends them for a call to a SIP domain.
fn test_call(domain: &SipDomain, number: &str, account: &str) -> Vec<(&'static str, String)> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let to = format!("sip:{number}@{}", domain.domain_name);
    vec![
        ("AccountSid", account.to_string()),
        ("ApiVersion", "2010-04-01".into()),
        (
            "CallSid",
            format!("CA{:032x}", nanos & u128::from(u64::MAX)),
        ),
        ("CallStatus", "ringing".into()),
        ("Direction", "inbound".into()),
        (
            "From",
            format!("sip:byoc-twilio-check@{}", domain.domain_name),
        ),
        ("Called", to.clone()),
        ("To", to),
        ("SipDomain", domain.domain_name.clone()),
        ("SipDomainSid", domain.sid.clone()),
    ]
}

async fn check(args: CheckArgs) -> CliResult {
    let number = match &args.number {
        Some(n) => {
            let plan = byoc_web::Config::plan_from_env()?;
            // A number or an extension route's address (`4321`, `support`): the test call's
            // `To` is `sip:ADDRESS@domain` either way.
            match plan.normalize(n) {
                Ok(address) => address.to_string(),
                Err(e) => {
                    return Err(
                        anyhow!("--number `{n}` is neither a number nor an address: {e}").into(),
                    )
                }
            }
        }
        None => DEFAULT_TEST_NUMBER.to_string(),
    };
    let mut urls = args.target.urls().await?;
    let twilio = Twilio::new(&args.credentials)?;
    let domain = find_domain(&twilio, &args.domain).await?;
    let kept = choose_fallback(
        &mut urls,
        &args.target,
        &domain,
        &twilio,
        args.credentials.auth_token.as_deref(),
    )
    .await;
    let mut problems = 0;
    let mut line = |ok: bool, what: &str, detail: &str| {
        if !ok {
            problems += 1;
        }
        outln!(
            "  {:<6} {what:<44} {detail}",
            if ok { "ok" } else { "WRONG" }
        );
    };
    outln!("SIP domain {} ({})", domain.domain_name, domain.sid);
    if let Some(note) = kept {
        outln!("  note: {note}");
    }
    for (field, current, wanted) in differences(&domain, &urls) {
        if same(field, current, &wanted) {
            line(true, field, &shown(current));
        } else {
            let detail = format!(
                "is {}, should be {}",
                shown_or_unset(current),
                shown(&wanted)
            );
            line(false, field, &detail);
        }
    }

    outln!("deployment");
    // A status callback answers a flow's call with a 302 to Studio: read, never followed.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let Some(token) = args.credentials.auth_token.as_deref() else {
        line(
            false,
            "test calls",
            "not sent: the account's auth token signs webhooks (TWILIO_AUTH_TOKEN)",
        );
        outln!("{problems} problem(s): see the WRONG lines");
        return Ok(Exit::NotFound.into());
    };
    let call = test_call(&domain, &number, twilio.account().as_str());
    let mut tokens = vec![("TWILIO_AUTH_TOKEN", token)];
    if let Some(next) = args.next_token.as_deref() {
        tokens.push(("TWILIO_AUTH_TOKEN_NEXT", next));
    }
    let mut voice_answer = None;
    for (name, token) in tokens {
        let what = format!("voice URL, signed with {name}");
        let probed = probe(&http, &urls.voice, token, &call).await;
        if let (None, Ok(p)) = (&voice_answer, &probed) {
            if p.twiml().is_ok() {
                voice_answer = Some(p.answer_from(base_of(&urls.voice, "/inbound")));
            }
        }
        let (ok, detail) = match probed {
            Ok(p) => match p.twiml() {
                // The store failed, or the call would be turned away.
                Ok(verb) if matches!(p.outcome.as_str(), "degraded" | "rejected" | "bad_input") => {
                    (
                        false,
                        format!("{number}: {} <{verb}> {}", p.outcome, p.reason),
                    )
                }
                Ok(verb) if args.number.is_some() && p.outcome != "matched" => (
                    false,
                    format!("{number} did not match a route: {} <{verb}>", p.outcome),
                ),
                Ok(verb) => (true, format!("200 {} <{verb}> for {number}", p.outcome)),
                Err(e) => (false, e),
            },
            Err(e) => (false, e),
        };
        line(ok, &what, &detail);
    }
    let mut failed = call.clone();
    failed.push(("ErrorCode", "11200".into()));
    failed.push(("ErrorUrl", urls.voice.clone()));
    let fallback = probe(&http, &urls.fallback, token, &failed).await;
    // The same call on both: another region on the same routes answers alike (the deployment's
    // own base URL, as in a chain's `<Dial action>`, aside).
    if let (Some(voice), Ok(p)) = (&voice_answer, &fallback) {
        if p.twiml().is_ok() {
            let theirs = p.answer_from(base_of(&urls.fallback, "/inbound/fallback"));
            if theirs == *voice {
                line(true, "fallback answers as the voice URL", "the same TwiML");
            } else {
                let excerpt = |s: &str| s.chars().take(160).collect::<String>();
                let detail = format!(
                    "voice URL: {} | fallback URL: {}",
                    excerpt(voice),
                    excerpt(&theirs)
                );
                line(false, "fallback answers as the voice URL", &detail);
            }
        }
    }
    let (ok, detail) = match fallback {
        Ok(p) => match p.twiml() {
            Ok(verb) if p.outcome == "degraded" => {
                (false, format!("200 degraded <{verb}> {}", p.reason))
            }
            Ok(verb) => (true, format!("200 {} <{verb}>", p.outcome)),
            Err(e) => (false, e),
        },
        Err(e) => (false, e),
    };
    line(ok, "fallback URL", &detail);
    let mut ended = call;
    for (k, v) in ended.iter_mut() {
        if *k == "CallStatus" {
            *v = "completed".into();
        }
    }
    let (ok, detail) = match probe(&http, &urls.status, token, &ended).await {
        Ok(p) if matches!(p.status, 204 | 302) => (true, format!("{} {}", p.status, p.outcome)),
        Ok(p) => (false, format!("HTTP {}", p.status)),
        Err(e) => (false, e),
    };
    line(ok, "status callback", &detail);
    if problems == 0 {
        outln!(
            "all right: {} answers for {}",
            shown(&urls.voice),
            domain.domain_name
        );
        Ok(ExitCode::SUCCESS)
    } else {
        outln!("{problems} problem(s): see the WRONG lines");
        Ok(Exit::NotFound.into())
    }
}
