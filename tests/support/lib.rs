//! Helpers for the end-to-end tests: build and start the real binaries, a Lambda Runtime API
//! emulator, request signing and TwiML parsing. Every process started here is killed when its
//! handle is dropped, so a failing test leaves nothing running.

pub mod emulator;
pub mod moto;
pub mod process;
pub mod twiml;

use std::path::{Path, PathBuf};

pub use emulator::Emulator;
pub use moto::{unique_table, Moto};
pub use process::{binary, Lambda, Serve};

/// The token the events in `events/` are signed with (see events/README.md).
pub const EVENTS_TOKEN: &str = "byoc-events-test-token";

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// An event from `events/`.
pub fn event(name: &str) -> serde_json::Value {
    let path = root().join("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `application/x-www-form-urlencoded` encoding of `pairs`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The signature Twilio would send for a form POST (or a GET with `pairs` empty).
pub fn sign(token: &str, url: &str, pairs: &[(&str, &str)]) -> String {
    let params: byoc_core::Params = pairs.iter().copied().collect();
    byoc_core::signature::sign(token, url, &params)
}
