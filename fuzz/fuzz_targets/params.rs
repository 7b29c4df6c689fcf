//! Form bodies, JSON bodies and query strings, then the inbound and outbound decisions over them.
#![no_main]

use byoc_core::inbound::{self, InboundConfig};
use byoc_core::outbound::{self, OutboundConfig};
use byoc_core::params::{query_param, Params};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let form = Params::from_form(data);
    let json = Params::from_json(data).unwrap_or_default();
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = query_param(text, "bodySHA256");
    }
    let inbound_config = InboundConfig::default();
    for params in [&form, &json] {
        let address = inbound::called_address(params, &inbound_config.plan);
        let decision = inbound::decide(
            &address,
            None,
            &inbound_config,
            &inbound::Call::at(jiff::Timestamp::UNIX_EPOCH),
        );
        let _ = decision.twiml.to_xml();
        let decision = outbound::decide(
            &form,
            params,
            &OutboundConfig::default(),
            "https://h.example.com/outbound/next",
        );
        let _ = decision.twiml.to_xml();
        // The same input as a failover step's state and Twilio's report.
        let step = outbound::failover::next(
            &form,
            params,
            &OutboundConfig::default(),
            "https://h.example.com/outbound/next",
        );
        let _ = step.twiml.to_xml();
    }
});
