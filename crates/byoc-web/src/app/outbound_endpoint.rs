//! The outbound endpoint: a Studio flow's request to dial over the BYOC trunk.

use byoc_core::outbound;
use byoc_core::params::Params;

use super::{set_reason, twiml, App, CallLine, Endpoint, HttpResponse, Request};

impl App {
    pub(super) fn outbound(
        &self,
        query: &Params,
        body: &Params,
        request: &Request<'_>,
    ) -> HttpResponse {
        let started = request.started;
        let decision = outbound::decide(query, body, &self.config.outbound);
        let call_sid = body
            .get("CallSid")
            .or_else(|| query.get("CallSid"))
            .unwrap_or("");
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
                ..line
            }
            .write(request.signed_by, started),
            Err(e) => CallLine {
                warn: true,
                action: Some("say"),
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
}
