//! SIP/tel URIs and numbers in several home countries: normalization never panics and is
//! idempotent; reading callers and the outbound check never panic.
#![no_main]

use byoc_core::number::NumberPlan;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    for cc in ["1", "44", "61", "81"] {
        let plan = NumberPlan::new(cc).expect("valid country code");
        if let Ok(address) = plan.normalize(input) {
            assert_eq!(
                plan.normalize(address.as_str()),
                Ok(address.clone()),
                "normalizing {input:?} twice"
            );
        }
        let _ = plan.caller_digits(input);
        let _ = byoc_core::number::is_anonymous(input);
        let config = byoc_core::outbound::OutboundConfig {
            policy: byoc_core::outbound::Policy::for_plan(&plan),
            plan,
            ..Default::default()
        };
        let _ = byoc_core::outbound::check_destination(input, &config);
    }
});
