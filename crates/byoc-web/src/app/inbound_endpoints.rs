//! The inbound endpoints: a call routed by its called number (`/inbound`, and the same for
//! Twilio's fallback URL), the status callback, and a failover chain's next step.

use byoc_core::chain::{chain_from_state, Chain};
use byoc_core::inbound::{self, Decision, InboundError, Outcome};
use byoc_core::params::Params;
use byoc_core::route::call_scope;
use byoc_core::Address;
use byoc_store::CachedStore;
use http::{header, HeaderValue, StatusCode};

use super::{
    next_url, set_reason, twiml, App, CallLine, Endpoint, HttpResponse, Request, CALLER_RULE,
    OUTCOME, ROUTES_HEADER, SCHEDULE, SHARE,
};

impl App {
    /// The inbound decision for a call: route lookup through the cache, with every fallback.
    async fn route(
        &self,
        store: &CachedStore,
        params: &Params,
        url: &str,
        at: jiff::Timestamp,
    ) -> Routed {
        let config = &self.config.inbound;
        let address = inbound::called_address(params, &config.plan);
        // An unusable `To` is still a call: the `*` route answers it (looked up like any key,
        // so the cache and its fallbacks apply), then the configured default.
        let key = inbound::lookup_key(&address);
        // Routes scoped to the call's SIP domain win over unscoped ones of the same pattern.
        let scope = call_scope(params.get("SipDomain"));
        let lookup = store.lookup(&key, scope.as_deref()).await;
        let source = lookup.source.as_str();
        let next = next_url(url);
        // The caller matters only to a route with caller conditions or a split: most calls
        // skip the work.
        let has_callers = lookup
            .matched
            .as_ref()
            .is_some_and(|m| m.route.needs_caller());
        let caller = if has_callers {
            // A call without `From` is an anonymous caller.
            let from = params.get("From").unwrap_or("");
            inbound::Caller::new(Some(from), params.get("StirVerstat"), &config.plan)
        } else {
            inbound::Caller::default()
        };
        let call = inbound::Call {
            at,
            next_url: &next,
            caller: &caller,
            call_sid: params.get("CallSid").unwrap_or(""),
        };
        let decision = match lookup.degraded_reason() {
            None => inbound::decide(&address, lookup.matched.as_ref(), config, &call),
            // The store failed: a cached route if there is one, else the default.
            Some(reason) => match &lookup.matched {
                Some(m) => Decision {
                    outcome: Outcome::Degraded,
                    reason: Some(reason),
                    ..inbound::decide(&address, Some(m), config, &call)
                },
                None => inbound::fallback(config, Outcome::Degraded, reason),
            },
        };
        Routed {
            address,
            decision,
            source,
            matched: lookup.matched,
            caller,
        }
    }

    pub(super) async fn inbound(
        &self,
        query: &Params,
        body: Params,
        routes: (&CachedStore, &Request<'_>),
    ) -> HttpResponse {
        self.routed_call(Endpoint::Inbound, query, body, routes)
            .await
    }

    /// Twilio's fallback URL, called when the primary handler failed (an error, a timeout, a
    /// throttled function, or the whole other region down when the domain's fallback URL points
    /// here from there). The call is routed exactly as `/inbound` would route it, through the
    /// same cache and its degraded answers, so a broken store still answers at once; its line
    /// is a warning with Twilio's error code and URL.
    pub(super) async fn fallback(
        &self,
        query: &Params,
        body: Params,
        routes: (&CachedStore, &Request<'_>),
    ) -> HttpResponse {
        self.routed_call(Endpoint::InboundFallback, query, body, routes)
            .await
    }

    async fn routed_call(
        &self,
        endpoint: Endpoint,
        query: &Params,
        body: Params,
        (store, request): (&CachedStore, &Request<'_>),
    ) -> HttpResponse {
        let params = merged(query, body);
        let Routed {
            address,
            decision,
            source,
            ..
        } = self
            .route(store, &params, request.url, jiff::Timestamp::now())
            .await;
        let call_sid = params.get("CallSid").unwrap_or("");
        let caller = self
            .config
            .log_caller
            .render(params.get("From"), &self.config.inbound.plan);
        let mut line = CallLine::routed(endpoint.as_str(), call_sid, &address, &decision, source);
        line.caller = caller.as_deref();
        if endpoint == Endpoint::InboundFallback {
            line.warn = true;
            line.error_code = Some(params.get("ErrorCode").unwrap_or(""));
            line.error_url = Some(params.get("ErrorUrl").unwrap_or(""));
        }
        line.write(request.signed_by, request.started);
        let mut response = routed_response(&decision);
        if endpoint == Endpoint::InboundFallback {
            if let Ok(id) = HeaderValue::from_str(&store.inner().routes_id()) {
                response.headers_mut().insert(ROUTES_HEADER, id);
            }
        }
        response
    }

    /// The call status callback: a call routed into a Studio flow is handed back to the flow
    /// (`302` to its webhook) so Studio ends the execution; any other call gets `204`.
    pub(super) async fn status(
        &self,
        query: &Params,
        body: Params,
        (store, request): (&CachedStore, &Request<'_>),
    ) -> HttpResponse {
        let url = request.url;
        let params = merged(query, body);
        // Decided as of the call's start, so the flow is the one the call entered.
        if let Some(Err(reason)) = inbound::callback_time(&params) {
            tracing::warn!(
                endpoint = Endpoint::InboundStatus.as_str(),
                call_sid = params.get("CallSid").unwrap_or(""),
                reason = reason.as_str(),
                "status callback time unreadable: the call is dated now"
            );
        }
        let at = inbound::call_started(&params, jiff::Timestamp::now());
        let routed = self.route(store, &params, url, at).await;
        let next = next_url(url);
        let call = inbound::Call {
            at,
            next_url: &next,
            caller: &routed.caller,
            call_sid: params.get("CallSid").unwrap_or(""),
        };
        let flow = inbound::studio_flow(
            &routed.address,
            routed.matched.as_ref(),
            &self.config.inbound,
            &call,
        )
        .filter(|flow| inbound::status_may_return_to(flow, &params));
        let (address, decision, source) = (routed.address, routed.decision, routed.source);
        let mut response = http::Response::new(String::new());
        let outcome = match flow.as_deref().map(HeaderValue::from_str) {
            Some(Ok(location)) => {
                *response.status_mut() = StatusCode::FOUND;
                response.headers_mut().insert(header::LOCATION, location);
                "flow_return"
            }
            _ => {
                *response.status_mut() = StatusCode::NO_CONTENT;
                "ignored"
            }
        };
        CallLine {
            endpoint: Endpoint::InboundStatus.as_str(),
            call_sid: params.get("CallSid").unwrap_or(""),
            did: Some(address.as_ref().map(|a| a.as_str()).unwrap_or("")),
            call_status: Some(params.get("CallStatus").unwrap_or("")),
            pattern: Some(decision.pattern.as_deref().unwrap_or("")),
            outcome,
            source: Some(source),
            ..CallLine::default()
        }
        .write(request.signed_by, request.started);
        response
            .headers_mut()
            .insert(OUTCOME, HeaderValue::from_static(outcome));
        response
    }

    /// A failover chain's post-back: the next target, the final action, or the end of the call.
    /// A state that cannot be read still gets an answer: the configured default.
    pub(super) fn next(&self, query: &Params, body: Params, request: &Request<'_>) -> HttpResponse {
        let (started, url) = (request.started, request.url);
        let plan = &self.config.inbound.plan;
        let call_sid = body.get("CallSid").unwrap_or("").to_string();
        let status = body.get("DialCallStatus").unwrap_or("").to_string();
        match Chain::next(query, &body, &next_url(url), |state| {
            chain_from_state(state, plan)
        }) {
            Ok(step) => {
                CallLine {
                    endpoint: Endpoint::InboundNext.as_str(),
                    call_sid: &call_sid,
                    dial_call_status: Some(&status),
                    step: Some(step.index.map_or(-1, |i| i as i64)),
                    outcome: step.outcome,
                    ..CallLine::default()
                }
                .write(request.signed_by, started);
                twiml(step.twiml.to_xml(), step.outcome)
            }
            Err(e) => {
                let decision =
                    inbound::fallback(&self.config.inbound, Outcome::BadInput, e.to_string());
                let reason = e.to_string();
                CallLine {
                    warn: true,
                    endpoint: Endpoint::InboundNext.as_str(),
                    call_sid: &call_sid,
                    dial_call_status: Some(&status),
                    action: Some(decision.action),
                    outcome: decision.outcome.as_str(),
                    reason: Some(&reason),
                    ..CallLine::default()
                }
                .write(request.signed_by, started);
                let mut response = twiml(decision.twiml.to_xml(), decision.outcome.as_str());
                set_reason(&mut response, &reason);
                response
            }
        }
    }
}

/// The TwiML answer to a routed call, with the headers that say how it was routed.
fn routed_response(decision: &Decision) -> HttpResponse {
    let mut response = twiml(decision.twiml.to_xml(), decision.outcome.as_str());
    if let Some(reason) = &decision.reason {
        set_reason(&mut response, reason);
    }
    if let Some(e) = &decision.schedule {
        response
            .headers_mut()
            .insert(SCHEDULE, HeaderValue::from_static(e.branch.as_str()));
    }
    if let Some(Ok(prefix)) = decision.caller_rule.as_deref().map(HeaderValue::from_str) {
        response.headers_mut().insert(CALLER_RULE, prefix);
    }
    if let Some(i) = decision.share {
        response
            .headers_mut()
            .insert(SHARE, HeaderValue::from(i as u64 + 1));
    }
    response
}

/// What the route lookup for one call found and decided.
struct Routed {
    address: Result<Address, InboundError>,
    decision: Decision,
    source: &'static str,
    matched: Option<byoc_core::Match>,
    /// The caller, when the matched route has caller conditions.
    caller: inbound::Caller,
}

/// Twilio's call parameters are in the body of a POST; a GET webhook carries them in the query
/// string. The body wins when both name a parameter.
fn merged(query: &Params, body: Params) -> Params {
    let mut params = body;
    for (k, v) in query.iter() {
        params.push(k, v);
    }
    params
}
