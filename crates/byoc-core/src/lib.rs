//! byoc-core: everything byoc-router does that is not I/O.
//!
//! The crate is deliberately pure (no async runtime, no AWS SDK) so that it builds fast and can
//! be unit-tested, fuzzed and benchmarked on its own. The Lambda binaries, the local server and the
//! admin CLI are thin layers over it, so they share every line of behaviour.

pub mod chain;
pub mod import;
pub mod inbound;
pub mod lint;
pub mod nanp;
pub mod number;
pub mod outbound;
pub mod params;
pub mod phone;
pub mod route;
pub mod route_file;
pub mod schedule;
pub mod sid;
pub mod signature;
#[cfg(feature = "proptest")]
pub mod strategy;
pub mod twiml;

pub use number::{Address, NumberError, NumberPlan};
pub use params::Params;
pub use route::{
    Action, Match, MatchKind, Pattern, Route, RouteError, RouteMeta, RouteRecord, RouteTable,
};
