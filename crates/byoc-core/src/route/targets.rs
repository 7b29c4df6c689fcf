//! The failover chain a `dial` route carries: its targets, the state that travels in the
//! `<Dial action>` URL, the first dial, and its decoding from a record. What `/inbound/next`
//! does with the state is in [`crate::chain`], which depends on this module, never the reverse.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::number::NumberPlan;
use crate::route::{
    branch_action, check_e164, check_identity, check_sip_caller_id, check_sip_uri, check_timeout,
    invalid, RouteErrorKind,
};
use crate::sid::{Sid, SidKind};
use crate::twiml::{DialOptions, Method, Noun, Verb};
use crate::{twiml, Action, RouteRecord};

/// Most targets in one chain (each adds to the action URL; Twilio caps URLs at 4 KB).
pub const MAX_TARGETS: usize = 5;

/// Where one step of a chain rings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callee {
    /// A number over a BYOC trunk (or Twilio's network without one).
    Number {
        number: String,
        byoc: Option<Sid>,
    },
    Sip {
        uri: String,
    },
    Client {
        identity: String,
    },
}

/// One step: where, and how long it rings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub callee: Callee,
    pub timeout: Option<u32>,
}

/// A validated chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub targets: Vec<Target>,
    pub caller_id: Option<String>,
    /// What answers after the last target did not connect; a hang-up if absent.
    pub final_action: Option<Box<Action>>,
}

/// A target as written in route files (and in the state): exactly one of `number`, `sip`,
/// `client`, and an optional `byoc` (numbers only) and `timeout`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byoc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
}

impl Target {
    pub fn to_spec(&self) -> TargetSpec {
        let mut spec = TargetSpec {
            timeout: self.timeout,
            ..TargetSpec::default()
        };
        match &self.callee {
            Callee::Number { number, byoc } => {
                spec.number = Some(number.clone());
                spec.byoc = byoc.as_ref().map(|s| s.to_string());
            }
            Callee::Sip { uri } => spec.sip = Some(uri.clone()),
            Callee::Client { identity } => spec.client = Some(identity.clone()),
        }
        spec
    }

    pub(crate) fn noun(&self) -> Noun {
        match &self.callee {
            Callee::Number { number, byoc } => Noun::Number {
                number: number.clone(),
                byoc: byoc.as_ref().map(|s| s.to_string()),
                send_digits: None,
            },
            Callee::Sip { uri } => Noun::Sip { uri: uri.clone() },
            Callee::Client { identity } => Noun::Client {
                identity: identity.clone(),
            },
        }
    }
}

/// API Gateway's limit on a request's line and headers together, in bytes (HTTP API quotas:
/// "Total combined size of request line and header values", 10,240 bytes, not adjustable).
pub const REQUEST_HEAD_MAX: usize = 10_240;
/// The longest chain state accepted: the request limit less room for the rest of the request
/// line (method, scheme-less path with a custom domain's prefix, `&i=N`, `HTTP/1.1`) and the
/// headers Twilio sends (Host, X-Twilio-Signature, I-Twilio-Idempotency-Token, User-Agent,
/// Content-Type, Content-Length, …), about 2 KB.
pub const STATE_MAX_LEN: usize = 8_192;

/// The state carried in the action URL: the chain in its record form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub targets: Vec<TargetSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<String>,
    #[serde(default, rename = "final", skip_serializing_if = "Option::is_none")]
    pub final_action: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Chain {
    /// `<Dial>` of target `index`, whose action URL carries the chain and the next step.
    pub fn dial(&self, index: usize, next_url: &str, state: &str) -> twiml::Response {
        let target = &self.targets[index];
        let sep = if next_url.contains('?') { '&' } else { '?' };
        twiml::Response::new().verb(Verb::Dial {
            options: DialOptions {
                caller_id: self.caller_id.clone(),
                timeout: target.timeout,
                action: Some(format!("{next_url}{sep}c={state}&i={}", index + 1)),
                method: Some(Method::Post),
                ..DialOptions::default()
            },
            nouns: vec![target.noun()],
        })
    }

    /// The first step, for the route's answer to the call.
    pub fn first(&self, next_url: &str) -> twiml::Response {
        self.dial(0, next_url, &self.encode())
    }

    /// The state text for the action URL (URL-safe as it is).
    pub fn encode(&self) -> String {
        let state = State {
            targets: self.targets.iter().map(Target::to_spec).collect(),
            caller_id: self.caller_id.clone(),
            final_action: self.final_action.as_ref().map(|a| a.to_flat()),
        };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&state).unwrap_or_default())
    }
}

/// The action URL a failover chain's `<Dial>` gets when the handler's own URL is not known.
pub const DEFAULT_NEXT_URL: &str = "/inbound/next";

/// A failover chain from a `dial` record with `targets`: `byoc` and `timeout` at the top are
/// defaults for the targets; `number` may not be set as well.
pub(crate) fn chain_from(record: RouteRecord, plan: &NumberPlan) -> Result<Chain, RouteErrorKind> {
    if record.number.is_some() {
        return Err(invalid(
            "number",
            "a dial route has either `number` or `targets`, not both",
        ));
    }
    let text = record.targets.ok_or(RouteErrorKind::MissingField {
        action: "dial",
        field: "targets",
    })?;
    let specs: Vec<TargetSpec> =
        serde_json::from_str(&text).map_err(|e| invalid("targets", e.to_string()))?;
    if specs.is_empty() || specs.len() > MAX_TARGETS {
        return Err(invalid("targets", format!("1 to {} targets", MAX_TARGETS)));
    }
    let default_byoc = record
        .byoc
        .as_deref()
        .map(|s| Sid::parse(SidKind::ByocTrunk, s))
        .transpose()
        .map_err(|e| invalid("byoc", e.to_string()))?;
    let default_timeout = record.timeout.map(check_timeout).transpose()?;
    let mut targets = Vec::with_capacity(specs.len());
    for (i, spec) in specs.into_iter().enumerate() {
        let at = |e: RouteErrorKind| invalid("targets", format!("target {}: {e}", i + 1));
        let callee =
            match (spec.number, spec.sip, spec.client) {
                (Some(number), None, None) => Callee::Number {
                    number: check_e164("number", &number).map_err(at)?,
                    byoc: match spec.byoc {
                        Some(b) => Some(
                            Sid::parse(SidKind::ByocTrunk, &b)
                                .map_err(|e| at(invalid("byoc", e.to_string())))?,
                        ),
                        None => default_byoc.clone(),
                    },
                },
                (None, Some(uri), None) if spec.byoc.is_none() => Callee::Sip {
                    uri: check_sip_uri("sip", &uri).map_err(at)?,
                },
                (None, None, Some(identity)) if spec.byoc.is_none() => Callee::Client {
                    identity: check_identity(&identity).map_err(at)?,
                },
                _ => return Err(at(invalid(
                    "target",
                    "write exactly one of `number`, `sip`, `client` (`byoc` goes with `number`)",
                ))),
            };
        let timeout = match spec.timeout {
            Some(t) => Some(check_timeout(t).map_err(at)?),
            None => default_timeout,
        };
        targets.push(Target { callee, timeout });
    }
    let caller_id = record
        .caller_id
        .as_deref()
        .map(check_sip_caller_id)
        .transpose()?;
    let final_action = match record.final_action {
        None => None,
        Some(text) => {
            let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
                .map_err(|e| invalid("final", format!("not an action object: {e}")))?;
            // The final action runs at `/inbound/next`, whose state does not carry the caller
            // a split is keyed on.
            if map.contains_key("shares")
                || map
                    .get("action")
                    .and_then(|a| a.as_str())
                    .is_some_and(|a| a.trim().eq_ignore_ascii_case("split"))
            {
                return Err(invalid(
                    "final",
                    "a chain's `final` cannot be a split or carry `shares`".to_string(),
                ));
            }
            Some(Box::new(branch_action(
                "final",
                "final",
                &map,
                &record.pattern,
                plan,
            )?))
        }
    };
    let chain = Chain {
        targets,
        caller_id,
        final_action,
    };
    // The state travels in the `<Dial action>` URL that Twilio requests after each target;
    // a request API Gateway refuses would end the call at the first failover.
    let len = chain.encode().len();
    if len > STATE_MAX_LEN {
        return Err(invalid(
            "targets",
            format!(
                "the failover chain is too big to carry in the `<Dial action>` URL: its state is {len} characters, over {} (API Gateway refuses a request line and headers over {} bytes); use shorter SIP URIs or a shorter `final` (a redirect to a URL instead of a twiml fragment)",
                STATE_MAX_LEN,
                REQUEST_HEAD_MAX
            ),
        ));
    }
    Ok(chain)
}
