//! X-Twilio-Signature: verification never panics on any URL, body or header, and accepts a
//! header exactly when it is the signature of the URL (or one of its port variants) and form.
#![no_main]

use byoc_core::params::Params;
use byoc_core::signature::{sign, url_variants, verify, verify_with_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Three fields separated by NUL: URL, form body, header.
    let mut parts = data.splitn(3, |b| *b == 0);
    let url = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let body = parts.next().unwrap_or_default();
    let header = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let params = Params::from_form(body);
    let token = "fuzz-token";
    let _ = verify_with_body(token, &url, body, Some(&header));
    let valid: Vec<String> = url_variants(&url)
        .iter()
        .map(|u| sign(token, u, &params))
        .collect();
    assert_eq!(verify(token, &url, &params, Some(&valid[0])), Ok(()));
    let accepted = verify(token, &url, &params, Some(&header)).is_ok();
    assert_eq!(
        accepted,
        valid.iter().any(|v| v == header.trim()),
        "header {header:?}"
    );
});
