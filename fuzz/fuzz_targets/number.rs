//! SIP/tel URIs and numbers: normalization never panics, and is idempotent.
#![no_main]

use byoc_core::number::NumberPlan;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    for cc in ["1", "44"] {
        let plan = NumberPlan::new(cc).expect("valid country code");
        if let Ok(address) = plan.normalize(input) {
            assert_eq!(
                plan.normalize(address.as_str()),
                Ok(address.clone()),
                "normalizing {input:?} twice"
            );
        }
    }
});
