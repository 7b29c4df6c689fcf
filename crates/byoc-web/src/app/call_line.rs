//! The one log line per request: every field any endpoint reports, written by one function.
//! Its message is what the metrics key on ([`crate::logging::CALL_MESSAGE`]).

use std::time::Instant;

use byoc_core::inbound::{Decision, InboundError};
use byoc_core::Address;

use crate::auth::SignedBy;

/// What a request's log line says. A field left `None` is not written; the level is `warn`
/// when the answer is not the one asked for (a refusal, a fallback).
#[derive(Debug, Default)]
pub struct CallLine<'a> {
    pub warn: bool,
    pub endpoint: &'static str,
    pub call_sid: &'a str,
    /// The normalized called number (inbound) or the numbers dialled (outbound).
    pub did: Option<&'a str>,
    pub call_status: Option<&'a str>,
    pub dial_call_status: Option<&'a str>,
    /// The failover chain's step (`-1`: past the last target).
    pub step: Option<i64>,
    pub pattern: Option<&'a str>,
    pub action: Option<&'a str>,
    pub outcome: &'a str,
    pub refusal: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub schedule: Option<&'a str>,
    pub caller_rule: Option<&'a str>,
    pub error_code: Option<&'a str>,
    pub error_url: Option<&'a str>,
    /// Where the route came from (`store`, `cache`, `stale`…).
    pub source: Option<&'a str>,
    /// A split's share that answered (from 1).
    pub share: Option<i64>,
    /// The caller, as `LOG_CALLER` allows (absent by default).
    pub caller: Option<&'a str>,
    /// Outbound: the trunk of the attempt dialled (`/outbound`) or reported on
    /// (`/outbound/next`); `pstn` for Twilio's own network.
    pub trunk: Option<&'a str>,
    /// Outbound: that attempt's number, from 1.
    pub attempt: Option<i64>,
    /// `/outbound/next`: how that attempt ended (`answered`, `callee`, `technical`…).
    pub trunk_result: Option<&'a str>,
    pub sip_response_code: Option<&'a str>,
    /// `/outbound/next` failing over: the trunk now dialled.
    pub next_trunk: Option<&'a str>,
}

impl<'a> CallLine<'a> {
    /// The line of a routed inbound call: the address, the route and how it was decided.
    pub fn routed(
        endpoint: &'static str,
        call_sid: &'a str,
        address: &'a Result<Address, InboundError>,
        decision: &'a Decision,
        source: &'a str,
    ) -> Self {
        Self {
            endpoint,
            call_sid,
            did: Some(address.as_ref().map(|a| a.as_str()).unwrap_or("")),
            pattern: Some(decision.pattern.as_deref().unwrap_or("")),
            action: Some(decision.action),
            outcome: decision.outcome.as_str(),
            reason: Some(decision.reason.as_deref().unwrap_or("")),
            schedule: Some(decision.schedule.as_ref().map_or("", |e| e.why.as_str())),
            caller_rule: Some(decision.caller_rule.as_deref().unwrap_or("")),
            source: Some(source),
            share: decision.share.map(|i| i as i64 + 1),
            ..Self::default()
        }
    }

    /// Writes the line, with who signed the request and the time since it arrived.
    pub fn write(&self, signed_by: SignedBy, started: Instant) {
        // The fields are evaluated only when the line is enabled: a filtered-out line costs
        // nothing, not even the clock.
        macro_rules! line {
            ($level:ident) => {
                tracing::$level!(
                    endpoint = self.endpoint,
                    call_sid = self.call_sid,
                    did = self.did,
                    call_status = self.call_status,
                    dial_call_status = self.dial_call_status,
                    step = self.step,
                    pattern = self.pattern,
                    action = self.action,
                    outcome = self.outcome,
                    refusal = self.refusal,
                    reason = self.reason,
                    schedule = self.schedule,
                    caller_rule = self.caller_rule,
                    error_code = self.error_code,
                    error_url = self.error_url,
                    source = self.source,
                    share = self.share,
                    caller = self.caller,
                    trunk = self.trunk,
                    attempt = self.attempt,
                    trunk_result = self.trunk_result,
                    sip_response_code = self.sip_response_code,
                    next_trunk = self.next_trunk,
                    signed_by = signed_by.as_str(),
                    latency_us = started.elapsed().as_micros() as u64,
                    "call answered"
                )
            };
        }
        if self.warn {
            line!(warn)
        } else {
            line!(info)
        }
    }
}
