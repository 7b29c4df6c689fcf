//! Route files and imports (JSON, CSV, Flex router config): parsing never panics, loaded routes
//! carry their own keys, and what parses survives an export and a re-import unchanged.
#![no_main]

use std::sync::Arc;

use byoc_core::import::{self, Format};
use byoc_core::number::NumberPlan;
use byoc_core::route_file::{load_route_file, parse_route_file, to_route_file};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let plan = NumberPlan::default();
    // Each route is indexed under its own key, and metadata only under keys of the table.
    if let Ok(loaded) = load_route_file(text, &plan) {
        for (key, route) in loaded.table.entries() {
            assert_eq!(key, route.key());
        }
        for (key, _) in &loaded.meta {
            assert!(loaded.table.get(key).is_some());
        }
    }
    if let Ok(table) = parse_route_file(text, &plan) {
        let routes = table.sorted();
        // Every route answers any caller (conditions, splits) without panicking.
        let mut mid = text.len() / 2;
        while !text.is_char_boundary(mid) {
            mid -= 1;
        }
        let (from, verstat) = text.split_at(mid);
        let caller = byoc_core::route::Caller::new(Some(from), Some(verstat), &plan);
        let call = byoc_core::inbound::Call {
            caller: &caller,
            call_sid: verstat,
            ..byoc_core::inbound::Call::at(jiff::Timestamp::UNIX_EPOCH)
        };
        for route in &routes {
            let (answer, _) = route.answer(call.at, &caller);
            let _ = byoc_core::inbound::share_of(answer.action, &route.key(), &call)
                .0
                .to_twiml()
                .to_xml();
        }
        let again = parse_route_file(&to_route_file(&routes), &plan).expect("exported file parses");
        assert_eq!(again.sorted(), routes);
    }
    for format in [Format::Json, Format::Csv, Format::Flex] {
        if let Ok(routes) = import::parse(text, format, &plan) {
            let shared: Vec<_> = routes.into_iter().map(Arc::new).collect();
            let csv = import::to_csv(&shared);
            let back = import::parse(&csv, Format::Csv, &plan).expect("exported CSV parses");
            assert_eq!(back.len(), shared.len());
        }
    }
});
