//! The router in every home country, held to libphonenumber: the golden sets in
//! `tests/data/world.tsv` (derived by `data/world.py` from the Python port) for GB, DE, FR, AU,
//! IN, BR, JP and the NANP, and the built-in NANP tables against the metadata they stand in for.

use byoc_core::nanp;
use byoc_core::outbound::{check_number, OutboundConfig, OutboundError, Policy};
use byoc_core::phone::{classify, NumberKind};
use byoc_core::{Address, NumberPlan};

fn config(home: &str) -> OutboundConfig {
    let plan = NumberPlan::new(home).unwrap();
    OutboundConfig {
        policy: Policy::for_plan(&plan),
        plan,
        ..OutboundConfig::default()
    }
}

/// What the outbound policy did, in the golden set's words.
fn outcome(result: Result<String, OutboundError>) -> String {
    match result {
        Ok(_) => "dial".into(),
        Err(OutboundError::Emergency(_)) => "emergency".into(),
        Err(OutboundError::NotAllowed { .. }) => "not_allowed".into(),
        Err(OutboundError::BadDid(_)) => "bad".into(),
        Err(OutboundError::DeniedType { kind, .. }) => format!("denied_type:{kind}"),
        Err(OutboundError::OtherTerritory { region, .. }) => format!("other_territory:{region}"),
        // The NANP's built-in prefixes, named as the metadata would name them.
        Err(OutboundError::Denied { prefix, .. }) => {
            let code = prefix.get(2..5).unwrap_or("");
            if let Some((_, region, _)) = nanp::OTHER_COUNTRIES.iter().find(|(c, _, _)| *c == code)
            {
                format!("other_territory:{region}")
            } else if prefix.starts_with("+1900") || prefix.starts_with("+1XXX976") {
                "denied_type:premium_rate".into()
            } else if prefix.contains("personal") {
                "denied_type:personal_number".into()
            } else {
                format!("denied:{prefix}")
            }
        }
        Err(e) => format!("other:{e}"),
    }
}

#[test]
fn every_golden_row_reads_and_is_decided_as_libphonenumber_says() {
    let table = include_str!("data/world.tsv");
    let mut failures = Vec::new();
    let mut rows = 0;
    for line in table.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [home, input, inbound, outbound] = cols[..] else {
            panic!("malformed row {line:?}");
        };
        rows += 1;
        let cfg = config(home);
        let read = match cfg.plan.normalize(input) {
            Ok(Address::E164(n)) => n,
            Ok(Address::Literal(_)) => "literal".into(),
            Err(e) => format!("error: {e}"),
        };
        if read != inbound {
            failures.push(format!(
                "{home} {input:?}: inbound {read}, expected {inbound}"
            ));
        }
        let decided = outcome(check_number(input, &cfg));
        if decided != outbound {
            failures.push(format!(
                "{home} {input:?}: outbound {decided}, expected {outbound}"
            ));
        }
    }
    assert!(rows > 400, "only {rows} rows");
    assert!(
        failures.is_empty(),
        "{} of {rows} rows differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The +1 territories the built-in table refuses are exactly those libphonenumber places outside
/// the US (with its territories) and Canada: today's 21 area codes.
#[test]
fn the_refused_nanp_territories_are_the_metadata_s() {
    let mut from_metadata = Vec::new();
    for npa in 200..1000 {
        let regions: Vec<String> = ["234", "456", "789"]
            .iter()
            .filter_map(|nxx| classify(&format!("+1{npa}{nxx}4567"))?.region)
            .map(|r| r.to_string())
            .filter(|r| !nanp::HOME_REGIONS.contains(&r.as_str()))
            .collect();
        if !regions.is_empty() {
            from_metadata.push(format!("{npa}"));
        }
    }
    let mut table: Vec<String> = nanp::OTHER_COUNTRIES
        .iter()
        .map(|(c, _, _)| c.to_string())
        .collect();
    table.sort();
    assert_eq!(table.len(), 21);
    assert_eq!(from_metadata, table);
}

/// Every +1 number the metadata types as premium rate or personal lies under a built-in
/// prefix, and US and Canadian numbers have none of the types the tables claim are absent: so
/// a +1 home may decide +1 numbers without loading the metadata.
#[test]
fn the_nanp_tables_cover_the_metadata_s_premium_and_personal_ranges() {
    let denied = nanp::default_denied_prefixes();
    let mut uncovered = Vec::new();
    for npa in 200..1000 {
        for nxx in (200..1000).step_by(7).chain([976, 555]) {
            let number = format!("+1{npa}{nxx}4567");
            let Some(c) = classify(&number) else { continue };
            let home = c
                .region
                .is_some_and(|r| nanp::HOME_REGIONS.contains(&r.as_str()));
            let covered = denied.iter().any(|p| nanp::prefix_matches(&number, p));
            match c.kind {
                NumberKind::PremiumRate | NumberKind::PersonalNumber if !covered => {
                    uncovered.push(format!("{number} {}", c.kind))
                }
                NumberKind::SharedCost
                | NumberKind::Pager
                | NumberKind::Uan
                | NumberKind::Voicemail
                    if home =>
                {
                    uncovered.push(format!("{number} {}", c.kind))
                }
                _ => {}
            }
        }
    }
    assert!(uncovered.is_empty(), "{uncovered:?}");
}
