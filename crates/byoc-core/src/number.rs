//! Turning what Twilio sends in `To` / `From` (and what Studio sends in `OUTBOUND_DID`) into one
//! canonical routing key.
//!
//! Carriers behind a BYOC trunk do not agree on how to write a number, so the same DID can arrive as
//! `sip:+13175551234@example.sip.twilio.com`, `sip:%2B13175551234@host:5060;transport=udp`,
//! `sips:3175551234;user=phone@host`, `tel:+1-317-555-1234` or plain `13175551234`. All of those must
//! hit the same route.
//!
//! # Rules, in order
//! 1. Trim white space and one pair of surrounding `<` `>`.
//! 2. `sip:` / `sips:` (any case): keep the user part (before the last `@`; without `@`, the whole
//!    rest). In the user part drop everything from the first `;` (`;user=phone`, `;npdi`, `;rn=`),
//!    `?` (headers) or `:` (password). Whatever follows the host (`:port`, `;params`) goes with it.
//!    `tel:`: keep the part before the first `;` (`;phone-context=` etc.).
//! 3. Percent-decode (`%2B` → `+`).
//! 4. Remove visual separators: space, `-`, `.`, `(`, `)`. If what remains is `+digits` or `digits`,
//!    it is a number; otherwise the decoded user part is kept as a **literal** address (an
//!    extension like `support` or `sales-team`), so routes can match those too.
//! 5. Numbers:
//!    - `+digits` stays as is;
//!    - `00…` becomes `+…` (international prefix); `011…` too when the default country code is `1`
//!      (NANP's international prefix; elsewhere `011` starts a national number);
//!    - default country code `1`: 10 digits → `+1…`, `1` + 10 digits → `+1…`;
//!    - other default country codes: one leading trunk `0` followed by a non-zero digit is replaced
//!      by `+<cc>`;
//!    - any other digit string (extensions such as `4321`, short codes) is a literal address.
//! 6. An E.164 number has 3 to 15 digits and its country code does not start with `0`; anything
//!    else that starts with `+` is an error, not a literal, because it was clearly meant as a number.
//!
//! A literal is at most 128 characters of ASCII letters, digits and `-_.!~*'()&=+$,/#`: the SIP
//! user-part characters that have no meaning to these rules. Anything else (`%`, `:`, `@`, `;`,
//! `?`, `<`, `>`, white space, control or non-ASCII characters) is refused, so normalizing a
//! normalized address gives it back unchanged.

use std::borrow::Cow;
use std::fmt;

use percent_encoding::percent_decode_str;

/// Most digits an E.164 number may have (ITU-T E.164 §6).
pub const E164_MAX_DIGITS: usize = 15;
/// Fewest digits we accept as an E.164 number; shorter `+` strings are typos.
pub const E164_MIN_DIGITS: usize = 3;
/// Fewest digits after an international prefix (`00`, `011`) for a number: the shortest
/// dialable E.164 numbers have 7 digits; fewer (`0001`) is an extension.
pub const INTERNATIONAL_MIN_DIGITS: usize = 7;
/// Longest literal address kept (SIP user parts are short in practice; this bounds the work).
pub const LITERAL_MAX_LEN: usize = 128;
/// Longest input considered at all; anything longer is refused before any parsing.
pub const INPUT_MAX_LEN: usize = 2048;

/// A normalized address: the canonical key used to find a route.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Address {
    /// `+` followed by 3 to 15 digits.
    E164(String),
    /// Anything that is not a phone number, e.g. an extension `4321` or a name `support`.
    Literal(String),
}

impl Address {
    /// The canonical key, e.g. `+13175551234` or `support`.
    pub fn as_str(&self) -> &str {
        match self {
            Address::E164(s) | Address::Literal(s) => s,
        }
    }

    /// The digits of an E.164 number, without the `+`.
    pub fn digits(&self) -> Option<&str> {
        match self {
            Address::E164(s) => Some(&s[1..]),
            Address::Literal(_) => None,
        }
    }

    pub fn is_e164(&self) -> bool {
        matches!(self, Address::E164(_))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an input could not be normalized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("the address is empty")]
    Empty,
    #[error("the address is longer than {INPUT_MAX_LEN} characters")]
    InputTooLong,
    #[error("`{0}` has more than {E164_MAX_DIGITS} digits, the E.164 maximum")]
    TooLong(String),
    #[error("`{0}` has fewer than {E164_MIN_DIGITS} digits")]
    TooShort(String),
    #[error("`{0}` starts with `+` but is not a number")]
    NotANumber(String),
    #[error("`{0}`: a country code never starts with 0")]
    ZeroCountryCode(String),
    #[error("the literal address is longer than {LITERAL_MAX_LEN} characters")]
    LiteralTooLong,
    #[error("the address contains a character not allowed in a literal address (allowed: letters, digits and -_.!~*'()&=+$,/#)")]
    BadCharacter,
}

/// The numbering context: which country a national number belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberPlan {
    country_code: String,
}

/// Why a default country code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a country code (1 to 3 digits, not starting with 0)")]
pub struct CountryCodeError(pub String);

impl NumberPlan {
    /// `country_code` without `+`, e.g. `1` or `44`. A leading `+` is tolerated.
    pub fn new(country_code: &str) -> Result<Self, CountryCodeError> {
        let cc = country_code.trim().trim_start_matches('+');
        let ok = (1..=3).contains(&cc.len())
            && cc.bytes().all(|b| b.is_ascii_digit())
            && !cc.starts_with('0');
        if ok {
            Ok(Self {
                country_code: cc.to_string(),
            })
        } else {
            Err(CountryCodeError(country_code.to_string()))
        }
    }

    pub fn country_code(&self) -> &str {
        &self.country_code
    }

    fn is_nanp(&self) -> bool {
        self.country_code == "1"
    }

    /// Normalize `input` as described in the module documentation.
    pub fn normalize(&self, input: &str) -> Result<Address, NumberError> {
        if input.len() > INPUT_MAX_LEN {
            return Err(NumberError::InputTooLong);
        }
        // Already E.164 (route patterns, many `To` values): every rule below leaves it as is.
        if let Some(digits) = input.strip_prefix('+') {
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                return e164(digits);
            }
        }
        let user = user_part(input.trim());
        let decoded = percent_decode_str(user).decode_utf8_lossy();
        let decoded = decoded.trim();
        if decoded.is_empty() {
            return Err(NumberError::Empty);
        }
        // Most inputs (E.164 in a SIP URI, route patterns) have no separators: no copy then.
        let is_separator = |c: char| matches!(c, ' ' | '-' | '.' | '(' | ')');
        let compact: Cow<str> = if decoded.contains(is_separator) {
            Cow::Owned(decoded.chars().filter(|&c| !is_separator(c)).collect())
        } else {
            Cow::Borrowed(decoded)
        };
        if let Some(digits) = compact.strip_prefix('+') {
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                return e164(digits);
            }
            return Err(NumberError::NotANumber(truncate(decoded)));
        }
        if !compact.is_empty() && compact.bytes().all(|b| b.is_ascii_digit()) {
            if let Some(address) = self.national(&compact)? {
                return Ok(address);
            }
        }
        literal(decoded)
    }

    /// The international digits (no `+`) a caller address begins with, for caller conditions.
    ///
    /// A valid number gives its digits. A malformed one still gives the digits it starts with
    /// (`+190055500001234567` is too long for E.164, `+1900555abc` is not a number): a caller
    /// rule matches by prefix, and a `+1900` rule must not be dodged by garbling `From`. A
    /// literal address (`alice`, an extension `4321`) has no digits.
    pub fn caller_digits(&self, input: &str) -> Option<String> {
        // A huge `From` is still read from its start: padding must not hide the number.
        let mut cut = input.len().min(INPUT_MAX_LEN);
        while !input.is_char_boundary(cut) {
            cut -= 1;
        }
        let input = restore_lost_plus(&input[..cut]);
        let normalized = self.normalize(&input);
        if let Ok(Address::E164(n)) = &normalized {
            return Some(n[1..].to_string());
        }
        let decoded = percent_decode_str(user_part(input.trim())).decode_utf8_lossy();
        let compact: String = decoded
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let (plus, rest) = match compact.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, compact.as_str()),
        };
        let end = rest
            .bytes()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(rest.len());
        let run = &rest[..end];
        // Without a `+`, only a run long enough to be a number counts (`19005551234abc`,
        // `19005551234;x`): an extension such as `4321` or `4321abc` has no caller digits.
        if run.is_empty() || (!plus && run.len() < INTERNATIONAL_MIN_DIGITS) {
            return None;
        }
        let digits = if plus {
            run.to_string()
        } else if let Some(intl) = run.strip_prefix("00") {
            intl.to_string()
        } else if let Some(intl) = run.strip_prefix("011").filter(|_| self.is_nanp()) {
            intl.to_string()
        } else if self.is_nanp() {
            if run.starts_with('1') {
                run.to_string()
            } else {
                format!("1{run}")
            }
        } else if let Some(national) = run.strip_prefix('0') {
            format!("{}{national}", self.country_code)
        } else {
            run.to_string()
        };
        (!digits.is_empty() && !digits.starts_with('0')).then_some(digits)
    }

    /// Digit strings without `+`: international prefix or national forms; `None` = literal.
    fn national(&self, digits: &str) -> Result<Option<Address>, NumberError> {
        // An international prefix needs a dialable number behind it: `0001` is an extension
        // (flex-inbound-sip-router configs have them), not `+01`.
        let international = |rest: &str| rest.len() >= INTERNATIONAL_MIN_DIGITS;
        if let Some(rest) = digits.strip_prefix("00").filter(|r| international(r)) {
            return e164(rest).map(Some);
        }
        if self.is_nanp() {
            if let Some(rest) = digits.strip_prefix("011").filter(|r| international(r)) {
                return e164(rest).map(Some);
            }
        }
        if self.is_nanp() {
            if digits.len() == 10 {
                return e164(&format!("1{digits}")).map(Some);
            }
            if digits.len() == 11 && digits.starts_with('1') {
                return e164(digits).map(Some);
            }
        } else if let Some(rest) = digits.strip_prefix('0') {
            if rest.len() >= 4 && !rest.starts_with('0') {
                return e164(&format!("{}{rest}", self.country_code)).map(Some);
            }
        }
        Ok(None)
    }
}

impl Default for NumberPlan {
    /// NANP (`+1`), the default country code of Twilio's home market.
    fn default() -> Self {
        Self {
            country_code: "1".to_string(),
        }
    }
}

/// Shorthand for `NumberPlan::default().normalize(input)`.
pub fn normalize(input: &str) -> Result<Address, NumberError> {
    NumberPlan::default().normalize(input)
}

/// A number parameter as a person meant it: a `+` written unencoded into a URL query string
/// (`?OUTBOUND_DID=+6562345678`, what a Studio widget URL with `{{flow.variables.to}}` produces)
/// decodes to a space, and read as a national number `6562345678` it would dial another country.
/// A phone number never begins with a space, so spaces before a digit at the start are the lost
/// `+`. Anything else is returned as it is.
pub fn restore_lost_plus(value: &str) -> Cow<'_, str> {
    let rest = value.trim_start_matches(' ');
    if rest.len() < value.len() && rest.starts_with(|c: char| c.is_ascii_digit()) {
        Cow::Owned(format!("+{rest}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// Strips URI syntax and returns the raw (still percent-encoded) user part.
fn user_part(input: &str) -> &str {
    let s = input
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(input)
        .trim();
    let lower_starts = |prefix: &str| {
        s.len() >= prefix.len()
            && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    if lower_starts("sips:") || lower_starts("sip:") {
        let rest = &s[s.find(':').map_or(0, |i| i + 1)..];
        // The host part may carry `;params` and `?headers` that contain `@`-free text; the user part
        // ends at the last `@` before them.
        let before_params = rest.split(['?']).next().unwrap_or(rest);
        let user = match before_params.rfind('@') {
            Some(at) => &before_params[..at],
            None => before_params,
        };
        cut(user, &[';', '?', ':'])
    } else if lower_starts("tel:") {
        cut(&s[4..], &[';', '?'])
    } else {
        s
    }
}

fn cut<'a>(s: &'a str, at: &[char]) -> &'a str {
    match s.find(at) {
        Some(i) => &s[..i],
        None => s,
    }
}

fn e164(digits: &str) -> Result<Address, NumberError> {
    if digits.len() > E164_MAX_DIGITS {
        return Err(NumberError::TooLong(truncate(digits)));
    }
    if digits.len() < E164_MIN_DIGITS {
        return Err(NumberError::TooShort(digits.to_string()));
    }
    if digits.starts_with('0') {
        return Err(NumberError::ZeroCountryCode(truncate(digits)));
    }
    let mut number = String::with_capacity(digits.len() + 1);
    number.push('+');
    number.push_str(digits);
    Ok(Address::E164(number))
}

fn literal(s: &str) -> Result<Address, NumberError> {
    if s.chars().count() > LITERAL_MAX_LEN {
        return Err(NumberError::LiteralTooLong);
    }
    if !s.bytes().all(is_literal_byte) {
        return Err(NumberError::BadCharacter);
    }
    Ok(Address::Literal(s.to_string()))
}

/// SIP user-part characters (RFC 3261 `unreserved` and `user-unreserved`, plus `#` for dial
/// strings) that none of the rules above treats specially, which keeps normalization idempotent.
fn is_literal_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,/#".contains(&b)
}

/// Keeps error messages short when the input is huge.
fn truncate(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(s: &str) -> Address {
        Address::E164(s.to_string())
    }

    #[test]
    fn caller_digits_survive_a_malformed_from() {
        let plan = NumberPlan::default();
        let d = |s: &str| plan.caller_digits(s);
        assert_eq!(d("+13175551234").as_deref(), Some("13175551234"));
        assert_eq!(d("sip:+13175551234@h").as_deref(), Some("13175551234"));
        assert_eq!(d("3175551234").as_deref(), Some("13175551234"));
        // Not E.164, but a `+1900` caller all the same.
        assert_eq!(
            d("+190055500001234567").as_deref(),
            Some("190055500001234567")
        );
        assert_eq!(d("+1900555abc").as_deref(), Some("1900555"));
        assert_eq!(
            d("sip:+1900-555-0000-1234-567@h").as_deref(),
            Some("190055500001234567")
        );
        assert_eq!(
            d("190055500001234567").as_deref(),
            Some("190055500001234567")
        );
        assert_eq!(
            d("01144207123456789012").as_deref(),
            Some("44207123456789012")
        );
        assert_eq!(
            d(" 190055500001234567").as_deref(),
            Some("190055500001234567")
        );
        // Garbage after a number without `+`; padding past the input limit.
        assert_eq!(d("sip:19005551234abc@h").as_deref(), Some("19005551234"));
        assert_eq!(d("19005551234#").as_deref(), Some("19005551234"));
        assert_eq!(d("19005551234;x").as_deref(), Some("19005551234"));
        let padded = format!("+19005551234{}", "x".repeat(5000));
        assert_eq!(d(&padded).as_deref(), Some("19005551234"));
        // Names and extensions have no digits to match.
        assert_eq!(d("4321abc"), None);
        assert_eq!(d("alice"), None);
        assert_eq!(d("sip:alice@pbx"), None);
        assert_eq!(d("4321"), None);
        assert_eq!(d("anonymous"), None);
        assert_eq!(d(""), None);
        assert_eq!(d("+0044"), None);
    }

    #[test]
    fn short_digit_strings_after_00_are_extensions() {
        assert_eq!(normalize("0001"), Ok(Address::Literal("0001".into())));
        assert_eq!(
            normalize("sip:00123@pbx"),
            Ok(Address::Literal("00123".into()))
        );
        assert_eq!(normalize("0114321"), Ok(Address::Literal("0114321".into())));
        assert_eq!(normalize("003175551"), Ok(e("+3175551")));
        let uk = NumberPlan::new("44").unwrap();
        assert_eq!(uk.normalize("0001"), Ok(Address::Literal("0001".into())));
    }

    #[test]
    fn a_plus_lost_to_a_space_is_restored() {
        assert_eq!(restore_lost_plus(" 6562345678"), "+6562345678");
        assert_eq!(restore_lost_plus("  442071234567"), "+442071234567");
        assert_eq!(restore_lost_plus("3175551234"), "3175551234");
        assert_eq!(restore_lost_plus("+13175551234"), "+13175551234");
        // Only spaces before a digit: anything else is not a lost `+`.
        assert_eq!(restore_lost_plus(" sip:a@b"), " sip:a@b");
        assert_eq!(restore_lost_plus("   "), "   ");
        assert_eq!(restore_lost_plus(""), "");
        assert_eq!(
            normalize(&restore_lost_plus(" 6562345678")),
            Ok(e("+6562345678"))
        );
    }

    fn lit(s: &str) -> Address {
        Address::Literal(s.to_string())
    }

    #[test]
    fn every_form_a_carrier_sends_normalizes_to_the_same_key() {
        let cases = [
            "+13175551234",
            "13175551234",
            "3175551234",
            "(317) 555-1234",
            "317.555.1234",
            "+1 317-555-1234",
            "sip:+13175551234@example.sip.twilio.com",
            "sip:%2B13175551234@example.sip.twilio.com",
            "SIP:+13175551234@Example.sip.twilio.com",
            "sips:+13175551234@example.sip.twilio.com",
            "sip:13175551234@example.sip.twilio.com",
            "sip:3175551234@example.sip.twilio.com",
            "sip:+13175551234@example.sip.twilio.com:5060",
            "sip:+13175551234@10.0.0.1:5061;transport=tls",
            "sip:+13175551234@example.sip.twilio.com;user=phone",
            "sip:+13175551234;user=phone@example.sip.twilio.com",
            "sip:+13175551234;npdi;rn=+13175550000@example.sip.twilio.com",
            "<sip:+13175551234@example.sip.twilio.com>",
            "sip:+13175551234@example.sip.twilio.com?X-Foo=bar",
            "tel:+13175551234",
            "tel:+1-317-555-1234;phone-context=example.com",
            "tel:3175551234",
            "01113175551234",
            "0013175551234",
            "sip:01113175551234@host",
            "  +13175551234  ",
            "%2B13175551234",
        ];
        for case in cases {
            assert_eq!(normalize(case), Ok(e("+13175551234")), "input {case:?}");
        }
    }

    #[test]
    fn international_numbers_keep_their_country_code() {
        assert_eq!(normalize("+442071234567"), Ok(e("+442071234567")));
        assert_eq!(normalize("00442071234567"), Ok(e("+442071234567")));
        assert_eq!(normalize("011442071234567"), Ok(e("+442071234567")));
        assert_eq!(
            normalize("sip:+442071234567@pbx.example.com"),
            Ok(e("+442071234567"))
        );
    }

    #[test]
    fn other_default_country_codes_replace_the_trunk_zero() {
        let uk = NumberPlan::new("44").unwrap();
        assert_eq!(uk.normalize("02071234567"), Ok(e("+442071234567")));
        assert_eq!(uk.normalize("020 7123 4567"), Ok(e("+442071234567")));
        assert_eq!(uk.normalize("sip:02071234567@host"), Ok(e("+442071234567")));
        assert_eq!(uk.normalize("00442071234567"), Ok(e("+442071234567")));
        // 011 is a national prefix (Leeds) outside NANP, not an international one.
        assert_eq!(uk.normalize("01132345678"), Ok(e("+441132345678")));
        // NANP national forms do not apply elsewhere.
        assert_eq!(uk.normalize("3175551234"), Ok(lit("3175551234")));
        let de = NumberPlan::new("+49").unwrap();
        assert_eq!(de.country_code(), "49");
        assert_eq!(de.normalize("030 1234567"), Ok(e("+49301234567")));
    }

    #[test]
    fn non_numbers_are_literal_addresses() {
        assert_eq!(normalize("4321"), Ok(lit("4321")));
        assert_eq!(normalize("sip:4321@pbx.example.com"), Ok(lit("4321")));
        assert_eq!(normalize("sip:support@pbx.example.com"), Ok(lit("support")));
        assert_eq!(normalize("sip:sales-team@pbx"), Ok(lit("sales-team")));
        assert_eq!(normalize("anonymous"), Ok(lit("anonymous")));
        assert_eq!(normalize("*67"), Ok(lit("*67")));
        // 12 digits without + are not guessed at.
        assert_eq!(normalize("442071234567"), Ok(lit("442071234567")));
    }

    #[test]
    fn malformed_numbers_are_errors() {
        assert_eq!(normalize(""), Err(NumberError::Empty));
        assert_eq!(normalize("   "), Err(NumberError::Empty));
        assert_eq!(normalize("sip:@host"), Err(NumberError::Empty));
        assert!(matches!(
            normalize("+1234567890123456"),
            Err(NumberError::TooLong(_))
        ));
        assert!(matches!(normalize("+12"), Err(NumberError::TooShort(_))));
        assert!(matches!(normalize("+"), Err(NumberError::NotANumber(_))));
        assert!(matches!(
            normalize("+1abc"),
            Err(NumberError::NotANumber(_))
        ));
        assert!(matches!(
            normalize("+0123456789"),
            Err(NumberError::ZeroCountryCode(_))
        ));
        assert!(matches!(
            normalize("0000000000000"),
            Err(NumberError::ZeroCountryCode(_))
        ));
        assert_eq!(
            normalize(&"9".repeat(10_000)),
            Err(NumberError::InputTooLong)
        );
        assert_eq!(
            normalize(&"a".repeat(200)),
            Err(NumberError::LiteralTooLong)
        );
        assert_eq!(normalize("sip:a%0Ab@host"), Err(NumberError::BadCharacter));
        assert_eq!(normalize("sales team"), Err(NumberError::BadCharacter));
    }

    #[test]
    fn normalizing_the_output_again_changes_nothing() {
        for input in [
            "sip:3175551234@h",
            "tel:+44 20 7123 4567",
            "4321",
            "sip:bob@h",
        ] {
            let once = normalize(input).unwrap();
            assert_eq!(normalize(once.as_str()), Ok(once.clone()), "{input}");
        }
    }

    #[test]
    fn country_codes_are_validated() {
        assert!(NumberPlan::new("1").is_ok());
        assert!(NumberPlan::new("358").is_ok());
        assert!(NumberPlan::new("").is_err());
        assert!(NumberPlan::new("0").is_err());
        assert!(NumberPlan::new("1234").is_err());
        assert!(NumberPlan::new("x").is_err());
    }
}
