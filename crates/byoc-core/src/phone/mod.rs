//! What libphonenumber's metadata knows about a number: its national forms, its type (premium
//! rate, personal, toll free…) and its territory. This is the one module that reads the
//! metadata; everything else asks it.
//!
//! The metadata comes with the `rlibphonenumber` crate (see [`METADATA`]); updating it means
//! raising that crate's pinned version in the workspace `Cargo.toml`, re-deriving the golden
//! sets (`crates/byoc-core/data/world.py`) and the emergency table (`data/emergency.py`), and
//! running the tests, which say what moved.
//!
//! The metadata loads on first use (about 7 ms, plus a few ms to compile each region's patterns
//! the first time they are matched), so the paths that need nothing from it never pay for it: a
//! number already in E.164 form, the NANP's national forms and the NANP's built-in denials
//! ([`crate::nanp`]) are decided without it. [`warm`] loads it ahead of the first call.

pub mod emergency;

use std::fmt;

use rlibphonenumber::enums::Region;
use rlibphonenumber::{NumberLengthType, PhoneNumberFormat, PhoneNumberType, PHONE_NUMBER_UTIL};

/// The metadata in use: libphonenumber's release, as carried by the crate.
pub const METADATA: &str = "libphonenumber metadata 9.0.42 (rlibphonenumber 2.2.15)";

/// An ISO 3166-1 alpha-2 region code as libphonenumber uses it (`GB`, `JE`, `US`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionCode([u8; 2]);

impl RegionCode {
    pub const US: RegionCode = RegionCode(*b"US");

    /// Two ASCII letters, any case. Whether the metadata knows the region is another matter
    /// ([`country_code_of`]).
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.trim().as_bytes();
        (b.len() == 2 && b.iter().all(u8::is_ascii_alphabetic))
            .then(|| RegionCode([b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()]))
    }

    pub fn as_str(&self) -> &str {
        // Built only from ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    fn to_region(self) -> Option<Region> {
        Region::from_code(self.as_str()).ok()
    }

    fn from_region(region: Region) -> Option<Self> {
        Self::parse(&region.as_region_str())
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_str())
    }
}

/// A number's type, as the metadata classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NumberKind {
    FixedLine,
    Mobile,
    /// Where the metadata cannot tell the two apart (the NANP).
    FixedLineOrMobile,
    TollFree,
    PremiumRate,
    SharedCost,
    Voip,
    PersonalNumber,
    Pager,
    /// Universal access numbers (company numbers routed anywhere).
    Uan,
    Voicemail,
    /// Matches no range of its country: unassigned, reserved (the UK's drama ranges) or newer
    /// than the metadata.
    Unknown,
}

impl NumberKind {
    pub const ALL: [NumberKind; 12] = [
        NumberKind::FixedLine,
        NumberKind::Mobile,
        NumberKind::FixedLineOrMobile,
        NumberKind::TollFree,
        NumberKind::PremiumRate,
        NumberKind::SharedCost,
        NumberKind::Voip,
        NumberKind::PersonalNumber,
        NumberKind::Pager,
        NumberKind::Uan,
        NumberKind::Voicemail,
        NumberKind::Unknown,
    ];

    /// The name used in settings (`OUTBOUND_DENIED_NUMBER_TYPES`) and logs.
    pub fn name(self) -> &'static str {
        match self {
            NumberKind::FixedLine => "fixed_line",
            NumberKind::Mobile => "mobile",
            NumberKind::FixedLineOrMobile => "fixed_line_or_mobile",
            NumberKind::TollFree => "toll_free",
            NumberKind::PremiumRate => "premium_rate",
            NumberKind::SharedCost => "shared_cost",
            NumberKind::Voip => "voip",
            NumberKind::PersonalNumber => "personal_number",
            NumberKind::Pager => "pager",
            NumberKind::Uan => "uan",
            NumberKind::Voicemail => "voicemail",
            NumberKind::Unknown => "unknown",
        }
    }

    /// Reads a setting's name (any case, `-` or `_`).
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim().to_ascii_lowercase().replace('-', "_");
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// For refusal messages: `a premium-rate number`.
    pub fn describe(self) -> &'static str {
        match self {
            NumberKind::FixedLine => "a fixed-line number",
            NumberKind::Mobile => "a mobile number",
            NumberKind::FixedLineOrMobile => "a fixed-line or mobile number",
            NumberKind::TollFree => "a toll-free number",
            NumberKind::PremiumRate => "a premium-rate number",
            NumberKind::SharedCost => "a shared-cost number",
            NumberKind::Voip => "a VoIP number",
            NumberKind::PersonalNumber => "a personal number",
            NumberKind::Pager => "a pager number",
            NumberKind::Uan => "a universal access number",
            NumberKind::Voicemail => "a voicemail access number",
            NumberKind::Unknown => "a number in no assigned range",
        }
    }

    fn from_type(t: PhoneNumberType) -> Self {
        match t {
            PhoneNumberType::FixedLine => NumberKind::FixedLine,
            PhoneNumberType::Mobile => NumberKind::Mobile,
            PhoneNumberType::FixedLineOrMobile => NumberKind::FixedLineOrMobile,
            PhoneNumberType::TollFree => NumberKind::TollFree,
            PhoneNumberType::PremiumRate => NumberKind::PremiumRate,
            PhoneNumberType::SharedCost => NumberKind::SharedCost,
            PhoneNumberType::VoIP => NumberKind::Voip,
            PhoneNumberType::PersonalNumber => NumberKind::PersonalNumber,
            PhoneNumberType::Pager => NumberKind::Pager,
            PhoneNumberType::UAN => NumberKind::Uan,
            PhoneNumberType::VoiceMail => NumberKind::Voicemail,
            PhoneNumberType::Unknown => NumberKind::Unknown,
        }
    }
}

impl fmt::Display for NumberKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the metadata says about an E.164 number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    /// The territory the number belongs to; `None` when it matches no territory's ranges.
    pub region: Option<RegionCode>,
    pub kind: NumberKind,
    /// Whether its length is one its country uses for a full number.
    pub possible_length: bool,
}

/// Longest text handed to the crate: a written number with its separators fits easily.
const CRATE_INPUT_MAX: usize = 48;

/// Whether `text` may be handed to the crate: digits, `+` and the separators people write,
/// short. The crate parses far more (RFC 3966 parameters, extensions, letters), and the fuzzer
/// found a slice panic in its `phone-context` handling (`+4 ;phone-context=…tel:…`); the router
/// reads URIs and parameters itself and gives it only the number.
fn plain_number(text: &str) -> bool {
    text.len() <= CRATE_INPUT_MAX
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b' ' | b'(' | b')' | b'-' | b'.'))
}

/// Runs `f` over the crate; a panic inside it (a bug of the crate) is an unreadable number,
/// never a failed call.
fn guarded<T>(f: impl FnOnce() -> Option<T>) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .ok()
        .flatten()
}

/// Classifies an E.164 number (`+` and digits). `None` when its country code is unknown.
pub fn classify(e164: &str) -> Option<Classification> {
    if !plain_number(e164) {
        return None;
    }
    guarded(|| classify_unguarded(e164))
}

fn classify_unguarded(e164: &str) -> Option<Classification> {
    let util = &*PHONE_NUMBER_UTIL;
    let number = util.parse(e164, None).ok()?;
    // The parser forgives a trunk `0` after the country code (`+44 07…`); the digits to dial
    // are the ones given, so such a number is not the one the metadata read.
    let same = util.format(&number, PhoneNumberFormat::E164) == e164;
    Some(Classification {
        region: util
            .get_region_for_number(&number)
            .and_then(RegionCode::from_region),
        kind: NumberKind::from_type(util.get_number_type(&number)),
        possible_length: same
            && matches!(
                util.is_possible_number_with_reason(&number),
                Ok(NumberLengthType::IsPossible)
            ),
    })
}

/// Whether the metadata knows this country calling code.
pub fn country_code_known(cc: u16) -> bool {
    main_region(cc).is_some()
}

/// The main territory of a country calling code (`44` → `GB`, `1` → `US`).
pub fn main_region(cc: u16) -> Option<RegionCode> {
    PHONE_NUMBER_UTIL
        .get_region_for_country_code(i32::from(cc))
        .and_then(RegionCode::from_region)
}

/// Every territory sharing a country calling code, the main one first.
pub fn regions(cc: u16) -> Vec<RegionCode> {
    PHONE_NUMBER_UTIL
        .get_regions_for_country_calling_code(i32::from(cc))
        .map(|it| it.filter_map(RegionCode::from_region).collect())
        .unwrap_or_default()
}

/// The country calling code of a territory (`JE` → 44).
pub fn country_code_of(region: RegionCode) -> Option<u16> {
    let code = PHONE_NUMBER_UTIL.get_country_code_for_region(region.to_region()?)?;
    u16::try_from(code).ok()
}

/// Reads a number written for a caller in `home` (national form, a trunk prefix, `(0)`, the
/// country code without `+`, the home's own international prefix) as E.164. `None` unless the
/// metadata reads it as a number of a length its country uses for full numbers: an extension
/// such as `4321` is a local-only length and stays what it is, and so does a reading that keeps
/// a leading zero after the country code where the country does not dial one.
pub fn read_as_dialled_in(text: &str, home: RegionCode) -> Option<String> {
    if !plain_number(text) {
        return None;
    }
    guarded(|| read_unguarded(text, home))
}

fn read_unguarded(text: &str, home: RegionCode) -> Option<String> {
    let util = &*PHONE_NUMBER_UTIL;
    let number = util.parse(text, Some(home.to_region()?)).ok()?;
    if !matches!(
        util.is_possible_number_with_reason(&number),
        Ok(NumberLengthType::IsPossible)
    ) {
        return None;
    }
    // A zero kept after the country code is right where the country dials it (Italy's `06…`)
    // and wrong elsewhere (`0114321` in the UK is not `+44 0114321`).
    if number.italian_leading_zero == Some(true) && !util.is_valid_number(&number) {
        return None;
    }
    let e164 = util.format(&number, PhoneNumberFormat::E164);
    Some(e164.into_owned())
}

/// The emergency numbers of a territory, from libphonenumber's short number metadata.
pub fn emergency_numbers(region: RegionCode) -> &'static [&'static str] {
    emergency::EMERGENCY
        .binary_search_by(|(r, _)| r.as_bytes().cmp(&region.0[..]))
        .map(|i| emergency::EMERGENCY[i].1)
        .unwrap_or(&[])
}

/// Loads the metadata and compiles `home`'s patterns, so that the first call does not pay for
/// it: an example number of each type the home country has is parsed and classified.
pub fn warm(home: RegionCode) {
    let util = &*PHONE_NUMBER_UTIL;
    let Some(region) = home.to_region() else {
        return;
    };
    for kind in [
        PhoneNumberType::FixedLine,
        PhoneNumberType::Mobile,
        PhoneNumberType::PremiumRate,
        PhoneNumberType::PersonalNumber,
    ] {
        if let Ok(example) = util.get_example_number_for_type_and_region(region, kind) {
            let _ = util.get_number_type(&example);
            let _ = util.get_region_for_number(&example);
        }
    }
    let _ = util.parse("0", Some(region));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    #[test]
    fn the_metadata_reads_types_and_territories() {
        let c = classify("+449011234567").unwrap();
        assert_eq!(c.kind, NumberKind::PremiumRate);
        assert_eq!(c.region, Some(r("GB")));
        let c = classify("+447011234567").unwrap();
        assert_eq!(c.kind, NumberKind::PersonalNumber);
        let c = classify("+447797123456").unwrap();
        assert_eq!((c.region, c.kind), (Some(r("JE")), NumberKind::Mobile));
        // The drama range: a possible length, in no range.
        let c = classify("+447700900123").unwrap();
        assert_eq!((c.region, c.kind), (None, NumberKind::Unknown));
        assert!(c.possible_length);
        assert!(!classify("+4407700900123").unwrap().possible_length);
        assert_eq!(classify("+999123456789"), None);
    }

    #[test]
    fn countries_and_their_territories() {
        assert_eq!(main_region(44), Some(r("GB")));
        assert_eq!(regions(44), vec![r("GB"), r("GG"), r("IM"), r("JE")]);
        assert_eq!(main_region(1), Some(RegionCode::US));
        assert_eq!(country_code_of(r("je")), Some(44));
        assert_eq!(country_code_of(r("ZZ")), None);
        assert!(!country_code_known(999));
        assert_eq!(RegionCode::parse("G1"), None);
    }

    #[test]
    fn national_forms_need_a_full_length() {
        let gb = r("GB");
        let read = |s: &str| read_as_dialled_in(s, gb);
        assert_eq!(read("01212345678").as_deref(), Some("+441212345678"));
        assert_eq!(read("447700900123").as_deref(), Some("+447700900123"));
        assert_eq!(
            read("+44 (0)121 234 5678").as_deref(),
            Some("+441212345678")
        );
        assert_eq!(read("4321"), None);
        assert_eq!(read("0001"), None);
        assert_eq!(read("support"), None);
        // Only plain numbers reach the crate (its phone-context parsing can panic).
        assert_eq!(
            read("+4 ;phone-context=ext4;p<si(0)111~02 tel: ;41t~0"),
            None
        );
        assert_eq!(read(&"1".repeat(60)), None);
        let au = r("AU");
        assert_eq!(
            read_as_dialled_in("0011 44 20 7123 4567", au).as_deref(),
            Some("+442071234567")
        );
    }

    #[test]
    fn emergency_numbers_per_territory() {
        assert_eq!(emergency_numbers(r("GB")), &["112", "999"]);
        assert_eq!(emergency_numbers(r("DE")), &["110", "112"]);
        assert_eq!(emergency_numbers(r("AU")), &["000", "106", "112"]);
        assert_eq!(emergency_numbers(RegionCode::US), &["112", "911"]);
        assert!(emergency_numbers(r("ZZ")).is_empty());
        let sorted = emergency::EMERGENCY.windows(2).all(|w| w[0].0 < w[1].0);
        assert!(sorted, "the table must be sorted for the binary search");
    }

    #[test]
    fn kinds_have_setting_names() {
        for k in NumberKind::ALL {
            assert_eq!(NumberKind::from_name(k.name()), Some(k));
        }
        assert_eq!(
            NumberKind::from_name(" Premium-Rate "),
            Some(NumberKind::PremiumRate)
        );
        assert_eq!(NumberKind::from_name("premium"), None);
    }
}
