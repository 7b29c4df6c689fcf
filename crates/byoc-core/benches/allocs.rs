//! Heap allocations of one inbound call's pure work, step by step: `cargo bench -p byoc-core
//! --bench allocs`. Counts, not times, so the numbers are the same on every machine and run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use byoc_core::inbound::{self, InboundConfig};
use byoc_core::signature;
use byoc_core::Params;

mod common;
use common::{call_params, form_body, table, TOKEN, URL};

/// The system allocator, counting. `GlobalAlloc` is an unsafe trait: this only forwards to
/// `System` with the caller's own arguments and adds to two counters.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's layout, passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` / `realloc` above, that is from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size, Ordering::Relaxed);
        // SAFETY: as for `dealloc`; the new size is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Allocations and bytes requested while `f` runs.
fn count<T>(f: impl FnOnce() -> T) -> (usize, usize, T) {
    let (a, b) = (
        ALLOCATIONS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    let value = f();
    (
        ALLOCATIONS.load(Ordering::Relaxed) - a,
        BYTES.load(Ordering::Relaxed) - b,
        value,
    )
}

fn main() {
    let to = "sip:+13175559876@example.sip.twilio.com;user=phone";
    let params = call_params(to);
    let body = form_body(&params);
    let sig = signature::sign(TOKEN, URL, &params);
    let key = signature::SigningKey::new(TOKEN);
    let table = table(1_000);
    let config = InboundConfig::default();
    let call = inbound::Call::at(jiff::Timestamp::UNIX_EPOCH);

    let mut rows = Vec::new();
    let (n, b, params) = count(|| Params::from_form(body.as_bytes()));
    rows.push(("parse the form (13 parameters)", n, b));
    let (n, b, ok) = count(|| signature::verify_with_key(&key, URL, &params, Some(&sig)));
    assert!(ok.is_ok());
    rows.push(("verify the signature", n, b));
    let (n, b, address) = count(|| inbound::called_address(&params, &config.plan));
    rows.push(("normalize To", n, b));
    let (n, b, matched) = count(|| address.as_ref().ok().and_then(|a| table.lookup(a)));
    assert!(matched.is_some());
    rows.push(("match (1,000 routes)", n, b));
    let (n, b, decision) = count(|| inbound::decide(&address, matched.as_ref(), &config, &call));
    rows.push(("decide", n, b));
    let (n, b, xml) = count(|| decision.twiml.to_xml());
    assert!(xml.contains("<Redirect"));
    rows.push(("render the TwiML", n, b));
    let (n, b, _) = count(|| {
        let params = Params::from_form(body.as_bytes());
        signature::verify_with_key(&key, URL, &params, Some(&sig)).unwrap();
        let address = inbound::called_address(&params, &config.plan);
        let matched = address.as_ref().ok().and_then(|a| table.lookup(a));
        inbound::decide(&address, matched.as_ref(), &config, &call)
            .twiml
            .to_xml()
    });
    rows.push(("the whole inbound_decision", n, b));
    // The outbound decision of a widget request naming its trunk, under a +1 home.
    let oc = byoc_core::outbound::OutboundConfig::default();
    let oq: Params = [
        ("OUTBOUND_DID", "+13175551234"),
        ("BYOC_TRUNK_SID", "BY0123456789abcdef0123456789abcdef"),
    ]
    .into_iter()
    .collect();
    let ob: Params = [("From", "+13175550123")].into_iter().collect();
    let (n, b, _) = count(|| {
        byoc_core::outbound::decide(&oq, &ob, &oc, "https://h.example.com/outbound/next")
            .twiml
            .to_xml()
    });
    rows.push(("the outbound decision and TwiML", n, b));
    println!("{:<32} {:>12} {:>8}", "step", "allocations", "bytes");
    for (step, n, b) in rows {
        println!("{step:<32} {n:>12} {b:>8}");
    }
}
