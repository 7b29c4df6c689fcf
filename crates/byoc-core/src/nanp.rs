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
/// territories) and Canada, with their names. Denied by default.
pub const OTHER_COUNTRIES: &[(&str, &str)] = &[
    ("242", "Bahamas"),
    ("246", "Barbados"),
    ("264", "Anguilla"),
    ("268", "Antigua and Barbuda"),
    ("284", "British Virgin Islands"),
    ("345", "Cayman Islands"),
    ("441", "Bermuda"),
    ("473", "Grenada"),
    ("649", "Turks and Caicos Islands"),
    ("658", "Jamaica"),
    ("664", "Montserrat"),
    ("721", "Sint Maarten"),
    ("758", "Saint Lucia"),
    ("767", "Dominica"),
    ("784", "Saint Vincent and the Grenadines"),
    ("809", "Dominican Republic"),
    ("829", "Dominican Republic"),
    ("849", "Dominican Republic"),
    ("868", "Trinidad and Tobago"),
    ("869", "Saint Kitts and Nevis"),
    ("876", "Jamaica"),
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
/// codes. An operator's `OUTBOUND_DENIED_PREFIXES` adds to these.
pub fn default_denied_prefixes() -> Vec<String> {
    PREMIUM_PREFIXES
        .iter()
        .map(|(p, _)| p.to_string())
        .chain(OTHER_COUNTRIES.iter().map(|(code, _)| format!("+1{code}")))
        .collect()
}

/// What a built-in denied prefix is, for refusal messages: `Jamaica, outside the US and
/// Canada`.
pub fn describe(prefix: &str) -> Option<String> {
    if let Some((_, why)) = PREMIUM_PREFIXES.iter().find(|(p, _)| *p == prefix) {
        return Some((*why).to_string());
    }
    let code = prefix.strip_prefix("+1").filter(|c| c.len() == 3)?;
    OTHER_COUNTRIES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, country)| format!("{country}, outside the US and Canada"))
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
            .chain(US_TERRITORIES)
            .map(|(c, _)| *c)
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
            Some("Jamaica, outside the US and Canada")
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
