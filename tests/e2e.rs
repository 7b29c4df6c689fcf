//! The end-to-end suite, one test binary: the real `inbound` / `outbound` Lambda binaries on a
//! Runtime API emulator, `byoc serve` and the `byoc` CLI over real HTTP and processes, the
//! DynamoDB store against a local DynamoDB-API server (Amazon's DynamoDB Local), and the SAM template.
//!
//! Run one part with a filter: `cargo test -p byoc-e2e --test e2e dynamodb::`.

mod browser;
mod calls;
mod cli;
mod console;
mod dynamodb;
mod failover;
mod hardening;
mod lambda;
mod outbound;
mod replica;
mod routing;
mod sam;
mod serve;
mod store;
mod template;
mod trunks;
mod twilio;
