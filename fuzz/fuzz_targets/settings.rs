//! What operators type: the outbound policy settings (`OUTBOUND_*` lists, under homes +1 and
//! +44) and a test call's time (`--at`, `--tz`): never a panic; a policy that builds answers
//! every destination check.
#![no_main]

use byoc_core::number::NumberPlan;
use byoc_core::outbound::{check_destination, OutboundConfig, Policy, PolicySettings};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Fields separated by NUL: at, tz, then the lists.
    let mut fields = text.split('\0');
    let mut next = || fields.next().map(str::to_string);
    let (at, tz) = (next(), next());
    let _ = byoc_core::schedule::call_time(at.as_deref(), tz.as_deref());
    let settings = PolicySettings {
        allowed_prefixes: next(),
        denied_prefixes: next(),
        denied_number_types: next(),
        allowed_regions: next(),
        replace_default_denials: data.first().is_some_and(|b| b & 1 == 1),
        allow_emergency: data.first().is_some_and(|b| b & 2 == 2),
        emergency_numbers: next(),
        allowed_caller_ids: next(),
    };
    let destination = next().unwrap_or_default();
    for cc in ["1", "44"] {
        let plan = NumberPlan::new(cc).expect("valid country code");
        let Ok(policy) = Policy::from_settings(&plan, &settings) else {
            continue;
        };
        let config = OutboundConfig {
            policy,
            plan,
            ..Default::default()
        };
        for number in [destination.as_str(), "+13175551234", "+447700900123", "+19005551234"] {
            let _ = check_destination(number, &config);
        }
    }
});
