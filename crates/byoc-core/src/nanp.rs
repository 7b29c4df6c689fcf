//! The North American Numbering Plan's facts that outbound policy needs, kept in one place.
//!
//! Country code `+1` is shared by the United States (with its territories), Canada and
//! eighteen other countries and territories of the Caribbean and the Atlantic. A call to
//! `+1876…` (Jamaica) or `+1284…` (British Virgin Islands) is dialled exactly like a domestic call
//! but is billed as international: these area codes are the textbook toll-fraud destinations
//! ("one-ring" callback scams, international revenue share fraud). "Allow `+1`" must therefore
//! not mean "allow every NANP country".
//!
//! Source: NANPA's list of NANP area codes by country (nanpa.com, "Area Codes by Location"),
//! cross-checked against the NANP territories of Google libphonenumber's metadata, release
//! 9.0.35 of 2026-07-16 (`resources/PhoneNumberMetadata.xml`, each `countryCode="1"`
//! territory's `leadingDigits`). Checked 2026-11-28. New overlays are rare (Jamaica's 658 came
//! in 2018): when NANPA assigns one to a country below, add it here.

/// Area codes of NANP countries and territories other than the United States (and its
/// territories) and Canada, with their region codes and names. Denied by default. A test holds
/// this list equal to what libphonenumber's metadata says (`tests/world.rs`).
pub const OTHER_COUNTRIES: &[(&str, &str, &str)] = &[
    ("242", "BS", "Bahamas"),
    ("246", "BB", "Barbados"),
    ("264", "AI", "Anguilla"),
    ("268", "AG", "Antigua and Barbuda"),
    ("284", "VG", "British Virgin Islands"),
    ("345", "KY", "Cayman Islands"),
    ("441", "BM", "Bermuda"),
    ("473", "GD", "Grenada"),
    ("649", "TC", "Turks and Caicos Islands"),
    ("658", "JM", "Jamaica"),
    ("664", "MS", "Montserrat"),
    ("721", "SX", "Sint Maarten"),
    ("758", "LC", "Saint Lucia"),
    ("767", "DM", "Dominica"),
    ("784", "VC", "Saint Vincent and the Grenadines"),
    ("809", "DO", "Dominican Republic"),
    ("829", "DO", "Dominican Republic"),
    ("849", "DO", "Dominican Republic"),
    ("868", "TT", "Trinidad and Tobago"),
    ("869", "KN", "Saint Kitts and Nevis"),
    ("876", "JM", "Jamaica"),
];

/// Area codes of US territories: domestic for a US carrier, so allowed with `+1`. Listed so
/// that the table says what it decided about them.
pub const US_TERRITORIES: &[(&str, &str)] = &[
    ("340", "US Virgin Islands"),
    ("670", "Northern Mariana Islands"),
    ("671", "Guam"),
    ("684", "American Samoa"),
    ("787", "Puerto Rico"),
    ("939", "Puerto Rico"),
];

/// The territories that are home when the home country code is `+1`: the United States with
/// the territories libphonenumber lists as regions of their own, and Canada.
pub const HOME_REGIONS: [&str; 7] = ["US", "CA", "PR", "VI", "GU", "AS", "MP"];

/// Personal numbers under the NANP: the non-geographic "easily recognizable codes" that
/// libphonenumber's metadata types as personal numbers (5XX personal communications services,
/// and 622 and 633). A test holds every number the metadata types as personal inside these
/// (`tests/world.rs`).
pub const PERSONAL_AREA_CODES: [&str; 16] = [
    "500", "521", "522", "523", "524", "525", "526", "527", "528", "529", "532", "533", "544",
    "566", "577", "588",
];
pub const PERSONAL_AREA_CODES_6XX: [&str; 2] = ["622", "633"];

/// Premium rate under the NANP: the non-geographic area code 900 (every NANP country), and
/// the central office code (exchange) 976 inside an area code, the historic local premium
/// "976 numbers" (`+1 NPA 976 XXXX`; libphonenumber still lists 246-976 and 345-976 as premium
/// rate). 976 was never an area code, so a prefix `+1976` blocks nothing: the exchange needs a
/// prefix with wildcard digits, `+1XXX976`.
pub const PREMIUM_PREFIXES: &[(&str, &str)] = &[
    ("+1900", "NANP premium rate (900)"),
    ("+1XXX976", "NANP premium rate exchange (976)"),
];

/// The built-in denied prefixes: NANP premium rate, then every other NANP country's area
/// codes, then the NANP personal numbers. An operator's `OUTBOUND_DENIED_PREFIXES` adds to
/// these. (Outside the NANP, types and territories come from the metadata: see
/// [`crate::outbound::Policy`].)
pub fn default_denied_prefixes() -> Vec<String> {
    PREMIUM_PREFIXES
        .iter()
        .map(|(p, _)| p.to_string())
        .chain(
            OTHER_COUNTRIES
                .iter()
                .map(|(code, _, _)| format!("+1{code}")),
        )
        .chain(personal_prefixes())
        .collect()
}

fn personal_prefixes() -> impl Iterator<Item = String> {
    PERSONAL_AREA_CODES
        .iter()
        .chain(&PERSONAL_AREA_CODES_6XX)
        .map(|code| format!("+1{code}"))
}

/// Whether `number` (E.164) is a NANP personal number (see [`PERSONAL_AREA_CODES`]).
pub fn is_personal(number: &str) -> bool {
    number
        .strip_prefix("+1")
        .and_then(|d| d.get(..3))
        .is_some_and(|code| {
            PERSONAL_AREA_CODES.contains(&code) || PERSONAL_AREA_CODES_6XX.contains(&code)
        })
}

/// The built-in prefixes of a NANP country other than the US and Canada (`JM` →
/// `+1658`, `+1876`), so that `OUTBOUND_ALLOWED_REGIONS` can lift them.
pub fn prefixes_of_region(region: &str) -> Vec<String> {
    OTHER_COUNTRIES
        .iter()
        .filter(|(_, r, _)| r.eq_ignore_ascii_case(region))
        .map(|(code, _, _)| format!("+1{code}"))
        .collect()
}

/// What a built-in denied prefix is, for refusal messages: `Jamaica, outside the US and
/// Canada`.
pub fn describe(prefix: &str) -> Option<String> {
    if let Some((_, why)) = PREMIUM_PREFIXES.iter().find(|(p, _)| *p == prefix) {
        return Some((*why).to_string());
    }
    let code = prefix.strip_prefix("+1").filter(|c| c.len() == 3)?;
    if PERSONAL_AREA_CODES.contains(&code) || PERSONAL_AREA_CODES_6XX.contains(&code) {
        return Some("NANP personal numbers (non-geographic 5XX/6XX)".to_string());
    }
    OTHER_COUNTRIES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, region, country)| format!("{country}, outside the US and Canada ({region})"))
}

/// Whether `number` (E.164) starts with `prefix`, where an `X` in the prefix stands for any
/// digit (`+1XXX976` matches `+1212976…`).
pub fn prefix_matches(number: &str, prefix: &str) -> bool {
    number.len() >= prefix.len()
        && number
            .bytes()
            .zip(prefix.bytes())
            .all(|(n, p)| n == p || ((p == b'X' || p == b'x') && n.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_no_duplicates_and_no_us_or_canadian_code() {
        let mut codes: Vec<&str> = OTHER_COUNTRIES
            .iter()
            .map(|(c, _, _)| *c)
            .chain(US_TERRITORIES.iter().map(|(c, _)| *c))
            .collect();
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n);
        for code in &codes {
            assert!(code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()));
        }
        // A few US and Canadian area codes that must stay allowed.
        for domestic in ["212", "317", "416", "604", "800", "888"] {
            assert!(!codes.contains(&domestic), "{domestic}");
        }
    }

    #[test]
    fn wildcard_prefixes_match_any_digit_only() {
        assert!(prefix_matches("+12129761234", "+1XXX976"));
        assert!(prefix_matches("+19005551234", "+1900"));
        assert!(!prefix_matches("+12125551234", "+1XXX976"));
        assert!(!prefix_matches("+1976", "+1XXX976"));
        assert!(prefix_matches("+18765551234", "+1876"));
        assert!(!prefix_matches("+1876", "+18765"));
    }

    #[test]
    fn built_in_denials_say_what_they_are() {
        assert_eq!(
            describe("+1876").as_deref(),
            Some("Jamaica, outside the US and Canada (JM)")
        );
        assert_eq!(
            describe("+1XXX976").as_deref(),
            Some("NANP premium rate exchange (976)")
        );
        assert_eq!(describe("+1317"), None);
        assert!(default_denied_prefixes().contains(&"+1284".to_string()));
        assert!(!default_denied_prefixes().contains(&"+1976".to_string()));
    }
}
