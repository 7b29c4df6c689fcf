//! The outbound endpoints: a Studio flow's request to dial over the BYOC trunk, and the step a
//! call with several trunks reports each attempt to ([`byoc_core::outbound::failover`]).

use byoc_core::outbound::{self, failover};
use byoc_core::params::Params;

use super::{outbound_next_url, set_reason, twiml, App, CallLine, Endpoint, HttpResponse, Request};

impl App {
    pub(super) fn outbound(
        &self,
        query: &Params,
        body: &Params,
        request: &Request<'_>,
    ) -> HttpResponse {
        let started = request.started;
        let decision = outbound::decide_with(query, body, &self.config.outbound, || {
            outbound_next_url(request.url)
        });
        let call_sid = call_sid(query, body);
        let line = CallLine {
            endpoint: Endpoint::Outbound.as_str(),
            call_sid,
            ..CallLine::default()
        };
        match &decision.result {
            Ok(dial) => CallLine {
                did: Some(&dial.numbers.join(",")),
                action: Some("dial"),
                outcome: "dialed",
                trunk: Some(failover::trunk_name(&dial.trunks, 0)),
                attempt: Some(1),
                ..line
            }
            .write(request.signed_by, started),
            Err(e) => CallLine {
                warn: true,
                action: Some(action_of(&decision.twiml)),
                outcome: "refused",
                refusal: Some(e.kind()),
                reason: Some(&e.to_string()),
                ..line
            }
            .write(request.signed_by, started),
        }
        let outcome = if decision.result.is_ok() {
            "dialed"
        } else {
            "refused"
        };
        let mut response = twiml(decision.twiml.to_xml(), outcome);
        if let Err(e) = &decision.result {
            set_reason(&mut response, &e.to_string());
        }
        response
    }

    /// Twilio's report on one attempt: the next trunk, or back to the flow.
    pub(super) fn outbound_next(
        &self,
        query: &Params,
        body: &Params,
        request: &Request<'_>,
    ) -> HttpResponse {
        let step = failover::next(
            query,
            body,
            &self.config.outbound,
            &outbound_next_url(request.url),
        );
        let reason = step.error.as_ref().map(|e| e.to_string());
        CallLine {
            warn: step.error.is_some() || step.result == Some(outbound::AttemptResult::Technical),
            endpoint: Endpoint::OutboundNext.as_str(),
            call_sid: call_sid(query, body),
            did: Some(&step.numbers),
            dial_call_status: Some(body.get("DialCallStatus").unwrap_or("")),
            sip_response_code: Some(body.get("DialSipResponseCode").unwrap_or("")),
            action: Some(action_of(&step.twiml)),
            outcome: step.outcome,
            // Always written, so the metrics by trunk count every report; a step whose state
            // cannot be read has neither a trunk nor a result.
            trunk: Some(step.trunk.as_deref().unwrap_or("unknown")),
            attempt: step.attempt.map(|a| a as i64),
            trunk_result: Some(step.result.map_or("unknown", |r| r.as_str())),
            next_trunk: step.next_trunk.as_deref(),
            refusal: step.error.as_ref().map(|e| e.kind()),
            reason: reason.as_deref(),
            ..CallLine::default()
        }
        .write(request.signed_by, request.started);
        let mut response = twiml(step.twiml.to_xml(), step.outcome);
        if let Some(reason) = &reason {
            set_reason(&mut response, reason);
        }
        response
    }
}

/// What the answer does, for the call line: its first verb.
fn action_of(twiml: &byoc_core::twiml::Response) -> &'static str {
    use byoc_core::twiml::Verb;
    match twiml.verbs().first() {
        Some(Verb::Dial { .. }) => "dial",
        Some(Verb::Redirect { .. }) => "redirect",
        Some(Verb::Say { .. }) => "say",
        _ => "hangup",
    }
}

fn call_sid<'a>(query: &'a Params, body: &'a Params) -> &'a str {
    body.get("CallSid")
        .or_else(|| query.get("CallSid"))
        .unwrap_or("")
}
