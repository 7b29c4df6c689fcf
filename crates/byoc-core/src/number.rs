//! Turning what Twilio sends in `To` / `From` (and what Studio sends in `OUTBOUND_DID`) into one
//! canonical routing key.
//!
//! Carriers behind a BYOC trunk do not agree on how to write a number, so the same DID can arrive as
//! `sip:+13175551234@example.sip.twilio.com`, `sip:%2B13175551234@host:5060;transport=udp`,
//! `sips:3175551234;user=phone@host`, `tel:+1-317-555-1234` or plain `13175551234`. All of those must
//! hit the same route.
//!
//! # Rules, in order
//! 1. Unicode that people paste is folded to ASCII: no-break and thin spaces, dashes and the
//!    minus sign, full-width digits and `＋`, other scripts' decimal digits; bidi marks and
//!    zero-width characters are dropped.
//! 2. Trim white space; a display name and its angle brackets go (`"Bob" <sip:…>` → `sip:…`).
//! 3. `sip:` / `sips:` (any case): keep the user part (before the last `@`; without `@`, the whole
//!    rest). In the user part drop everything from the first `;` (`;user=phone`, `;npdi`, `;rn=`),
//!    `?` (headers) or `:` (password). Whatever follows the host (`:port`, `;params`) goes with it.
//!    `tel:`: keep the part before the first `;`. A `phone-context=+…` parameter (RFC 3966) is
//!    kept: a local number in it is read as that context's digits followed by its own.
//! 4. Percent-decode (`%2B` → `+`).
//! 5. `(0)` in an international number (`+44 (0)121 …`) is the trunk prefix shown for national
//!    callers: libphonenumber's metadata reads it (it drops it, except where the country keeps its
//!    leading zero). So it does a written international number outside `+1` whose digits as
//!    given are not a full number of its country (`+44 020 7123 4567`).
//! 6. Remove visual separators: space, `-`, `.`, `(`, `)`. If what remains is `+digits` or `digits`,
//!    it is a number; otherwise the decoded user part is kept as a **literal** address (an
//!    extension like `support` or `sales-team`), so routes can match those too.
//! 7. Numbers:
//!    - `+digits` stays as is;
//!    - home country `+1` (the NANP): `011…` and `00…` are international; 10 digits → `+1…`,
//!      `1` + 10 digits → `+1…`;
//!    - any other home country: libphonenumber's metadata for it reads the digits as a caller
//!      there would dial them (its trunk prefix, its international prefixes such as `0011` in
//!      Australia or `010` in Japan, carrier codes, the country code without `+`), and a reading
//!      is kept when its length is one the country uses for full numbers (strings of fewer
//!      than 6 digits are never read so: they are extensions). Otherwise `00…` with
//!      at least 7 digits is international and a trunk `0` before a non-zero digit and at least
//!      4 digits becomes `+<cc>`;
//!    - any other digit string (extensions such as `4321`, short codes) is a literal address.
//! 8. An E.164 number has 3 to 15 digits and its country code does not start with `0`; anything
//!    else that starts with `+` is an error, not a literal, because it was clearly meant as a number.
//!
//! A literal is at most 128 characters of ASCII letters, digits and `-_.!~*'()&=+$,/#`: the SIP
//! user-part characters that have no meaning to these rules. Anything else (`%`, `:`, `@`, `;`,
//! `?`, `<`, `>`, white space, control or non-ASCII characters) is refused, so normalizing a
//! normalized address gives it back unchanged.

use std::borrow::Cow;
use std::fmt;

use percent_encoding::percent_decode_str;

use crate::phone::{self, RegionCode};

/// Most digits an E.164 number may have (ITU-T E.164 §6).
pub const E164_MAX_DIGITS: usize = 15;
/// Fewest digits we accept as an E.164 number; shorter `+` strings are typos.
pub const E164_MIN_DIGITS: usize = 3;
/// Fewest digits after an international prefix (`00`, `011`) for a number: the shortest
/// dialable E.164 numbers have 7 digits; fewer (`0001`) is an extension.
pub const INTERNATIONAL_MIN_DIGITS: usize = 7;
/// Fewest digits a national form read through the metadata has; shorter strings are
/// extensions.
pub const NATIONAL_MIN_DIGITS: usize = 6;
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

/// The numbering context: the home country, whose national forms a number may be written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberPlan {
    country_code: String,
    home: RegionCode,
}

/// Why a home country was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` is not a country code (such as 1 or 44) or a country (such as US or GB) that libphonenumber knows{}", .0, uk_hint(.0))]
pub struct CountryCodeError(pub String);

fn uk_hint(given: &str) -> &'static str {
    if given.trim().eq_ignore_ascii_case("UK") {
        " (the United Kingdom is GB)"
    } else {
        ""
    }
}

impl NumberPlan {
    /// A country calling code without `+` (`1`, `44`; a leading `+` is tolerated), or a region
    /// code (`GB`, `de`). A country code stands for its main territory (`44` is GB, not Jersey);
    /// `1` is the United States with its territories and Canada. Any code but `1` is checked
    /// against libphonenumber's metadata, which this loads.
    pub fn new(country: &str) -> Result<Self, CountryCodeError> {
        let refuse = || CountryCodeError(country.to_string());
        let cc = country.trim().trim_start_matches('+');
        if cc == "1" {
            return Ok(Self::default());
        }
        if let Some(region) = RegionCode::parse(cc) {
            // The NANP's home regions need no metadata (a +1 home never loads it).
            if crate::nanp::HOME_REGIONS.contains(&region.as_str()) {
                return Ok(Self::default());
            }
            let code = phone::country_code_of(region).ok_or_else(refuse)?;
            if code == 1 && !crate::nanp::HOME_REGIONS.contains(&region.as_str()) {
                // The NANP tables treat the US and Canada as home; another +1 country as home
                // would turn them upside down.
                return Err(refuse());
            }
            if code == 1 {
                return Ok(Self::default());
            }
            return Ok(Self {
                country_code: code.to_string(),
                home: region,
            });
        }
        let ok = (1..=3).contains(&cc.len())
            && cc.bytes().all(|b| b.is_ascii_digit())
            && !cc.starts_with('0');
        if !ok {
            return Err(refuse());
        }
        let code: u16 = cc.parse().map_err(|_| refuse())?;
        let home = phone::main_region(code).ok_or_else(refuse)?;
        Ok(Self {
            country_code: cc.to_string(),
            home,
        })
    }

    pub fn country_code(&self) -> &str {
        &self.country_code
    }

    /// The home territory (`US` for `+1`).
    pub fn home(&self) -> RegionCode {
        self.home
    }

    /// `GB (+44)`, for logs and for what `routes resolve` says it assumed.
    pub fn describe(&self) -> String {
        if self.is_nanp() {
            "US and Canada (+1)".to_string()
        } else {
            format!("{} (+{})", self.home, self.country_code)
        }
    }

    pub fn is_nanp(&self) -> bool {
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
        let folded = fold_unicode(input);
        let (user, context) = user_part(folded.trim());
        let decoded = percent_decode_str(user).decode_utf8_lossy();
        let decoded = decoded.trim();
        if decoded.is_empty() {
            return Err(NumberError::Empty);
        }
        // `+44 (0)121 …`: the metadata knows whether the country keeps that zero.
        let decoded: Cow<str> = if decoded.starts_with('+') && decoded.contains("(0)") {
            if let Some(n) = phone::read_as_dialled_in(decoded, self.home) {
                return e164(&n[1..]);
            }
            Cow::Owned(decoded.replacen("(0)", "", 1))
        } else {
            Cow::Borrowed(decoded)
        };
        let decoded = decoded.as_ref();
        // Most inputs (E.164 in a SIP URI, route patterns) have no separators: no copy then.
        let compact = strip_separators(decoded);
        if let Some(digits) = compact.strip_prefix('+') {
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                // A written international number outside +1 whose digits are not a full
                // number may carry its trunk prefix (`+44 020 7123 4567`): the metadata reads
                // it as written. The NANP's own rules stand for +1 (no metadata is loaded).
                if !digits.starts_with('1') && compact.len() != decoded.len() {
                    let as_given = phone::classify(&compact);
                    if as_given.is_some_and(|c| !c.possible_length) {
                        if let Some(n) = phone::read_as_dialled_in(decoded, self.home) {
                            return e164(&n[1..]);
                        }
                    }
                }
                return e164(digits);
            }
            return Err(NumberError::NotANumber(truncate(decoded)));
        }
        if !compact.is_empty() && compact.bytes().all(|b| b.is_ascii_digit()) {
            if let Some(global) = context.and_then(global_context) {
                return e164(&format!("{global}{compact}"));
            }
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
        if is_anonymous(&input) {
            return None;
        }
        let normalized = self.normalize(&input);
        if let Ok(Address::E164(n)) = &normalized {
            return Some(n[1..].to_string());
        }
        let folded = fold_unicode(&input);
        let decoded = percent_decode_str(user_part(folded.trim()).0).decode_utf8_lossy();
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
        // Short digit strings are extensions wherever the metadata allows such a length
        // (Germany has 4-digit numbers): the metadata reads only strings of full-number size.
        if !self.is_nanp() && digits.len() >= NATIONAL_MIN_DIGITS {
            if let Some(n) = phone::read_as_dialled_in(digits, self.home) {
                return e164(&n[1..]).map(Some);
            }
        }
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
            home: RegionCode::US,
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
/// `+`; so are spaces before a digit at the start of a SIP or tel URI's user part
/// (`{{trigger.call.From}}` unencoded: `sip: 6562345678@203.0.113.10`). Anything else is
/// returned as it is.
pub fn restore_lost_plus(value: &str) -> Cow<'_, str> {
    let scheme_len = ["sips:", "sip:", "tel:"]
        .iter()
        .find(|s| {
            value.len() >= s.len() && value.as_bytes()[..s.len()].eq_ignore_ascii_case(s.as_bytes())
        })
        .map_or(0, |s| s.len());
    let (scheme, rest) = value.split_at(scheme_len);
    let digits = rest.trim_start_matches(' ');
    // A country code never starts with 0: ` 07700 900123` is a national number after a space.
    if digits.len() < rest.len() && digits.starts_with(|c: char| c.is_ascii_digit() && c != '0') {
        Cow::Owned(format!("{scheme}+{digits}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// Twilio's placeholder `From` for a caller who withheld their number.
pub const TWILIO_ANONYMOUS: &str = "+266696687";

/// Whether a caller address is an anonymous caller: Twilio's placeholder `+266696687` (which
/// is not a Lesotho number), the words carriers send (`anonymous`, `Restricted`, `Private`,
/// `Unavailable`, `Unknown`, any case) alone or as a SIP user (`sip:anonymous@anonymous.invalid`,
/// RFC 3323), or nothing at all.
pub fn is_anonymous(from: &str) -> bool {
    let folded = fold_unicode(from);
    let (user, _) = user_part(folded.trim());
    let user = percent_decode_str(user).decode_utf8_lossy();
    let user = user.trim();
    if user.is_empty() {
        return true;
    }
    let digits = strip_separators(user);
    if digits.trim_start_matches('+') == &TWILIO_ANONYMOUS[1..] {
        return true;
    }
    [
        "anonymous",
        "restricted",
        "private",
        "unavailable",
        "unknown",
    ]
    .iter()
    .any(|w| user.eq_ignore_ascii_case(w))
}

/// Separators people write inside numbers.
fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '.' | '(' | ')')
}

fn strip_separators(s: &str) -> Cow<'_, str> {
    if s.contains(is_separator) {
        Cow::Owned(s.chars().filter(|&c| !is_separator(c)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// Folds the Unicode that pasted numbers carry to the ASCII these rules read (see rule 1).
/// ASCII input is returned as it is, without a copy.
pub fn fold_unicode(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let u = c as u32;
        // Decimal digits of other scripts: full-width, Arabic-Indic, Extended Arabic-Indic,
        // Devanagari, Bengali (the blocks whose digits are contiguous from zero).
        let digit_base = [0xFF10, 0x0660, 0x06F0, 0x0966, 0x09E6]
            .into_iter()
            .find(|&base| (base..base + 10).contains(&u));
        match (c, digit_base) {
            (_, Some(base)) => out.push(char::from(b'0' + (u - base) as u8)),
            ('\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}', _) => {
                out.push(' ')
            }
            ('\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}', _) => {
                out.push('-')
            }
            ('\u{FF0B}' | '\u{FE62}', _) => out.push('+'),
            ('\u{FF08}', _) => out.push('('),
            ('\u{FF09}', _) => out.push(')'),
            ('\u{FF0E}', _) => out.push('.'),
            // Bidi marks and embeddings, zero-width characters, the byte order mark.
            (
                '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}',
                _,
            ) => {}
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Strips a display name and URI syntax; returns the raw (still percent-encoded) user part and
/// the value of a `phone-context` parameter, if any.
fn user_part(input: &str) -> (&str, Option<&str>) {
    let s = without_display_name(input).trim();
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
        let number = cut(user, &[';', '?', ':']);
        (number, phone_context(&user[number.len()..]))
    } else if lower_starts("tel:") {
        let rest = &s[4..];
        let number = cut(rest, &[';', '?']);
        (number, phone_context(&rest[number.len()..]))
    } else {
        (s, None)
    }
}

/// `"Bob" <sip:…>`, `Bob <tel:…>` or `<sip:…>` → what is inside the brackets. A quoted display
/// name may itself hold `<`.
fn without_display_name(s: &str) -> &str {
    let after_quote = match s.strip_prefix('"') {
        Some(rest) => match rest.find('"') {
            Some(end) => &rest[end + 1..],
            None => return s,
        },
        None => s,
    };
    let Some(open) = after_quote.find('<') else {
        return s;
    };
    let inner = &after_quote[open + 1..];
    let inner = match inner.find('>') {
        Some(close) => &inner[..close],
        None => inner,
    };
    // Behind a display name only a URI counts: `+1<3175551234>` is a mangled number, not a name.
    let is_uri = ["sip:", "sips:", "tel:"].iter().any(|scheme| {
        inner.len() >= scheme.len()
            && inner.as_bytes()[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
    });
    if after_quote[..open].trim().is_empty() || is_uri {
        inner
    } else {
        s
    }
}

/// The `phone-context` of `;param;param=value…`, when it is a global number (`+1317`).
fn phone_context(params: &str) -> Option<&str> {
    params
        .split(';')
        .filter_map(|p| p.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("phone-context"))
        .map(|(_, value)| value.trim())
}

/// The digits of a global `phone-context` (`+1-317` → `1317`); `None` for a domain name.
fn global_context(context: &str) -> Option<String> {
    let digits = strip_separators(context.strip_prefix('+')?).into_owned();
    (!digits.is_empty()
        && digits.len() < E164_MAX_DIGITS
        && digits.bytes().all(|b| b.is_ascii_digit()))
    .then_some(digits)
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
        // Inside a SIP or tel URI's user part too: never a national number.
        assert_eq!(
            restore_lost_plus("sip: 6562345678@203.0.113.10"),
            "sip:+6562345678@203.0.113.10"
        );
        assert_eq!(restore_lost_plus("TEL: 6562345678"), "TEL:+6562345678");
        assert_eq!(restore_lost_plus("sip:alice@pbx"), "sip:alice@pbx");
        assert_eq!(restore_lost_plus(" 07700900123"), " 07700900123");
        assert_eq!(
            normalize(&restore_lost_plus("sip: 6562345678@203.0.113.10")),
            Ok(e("+6562345678"))
        );
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
        // NANP national forms do not apply elsewhere: ten digits are a UK national significant
        // number, as libphonenumber reads them (the trunk 0 is optional for it).
        assert_eq!(uk.normalize("3175551234"), Ok(e("+443175551234")));
        assert_eq!(uk.normalize("2071234567"), Ok(e("+442071234567")));
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

    fn gb() -> NumberPlan {
        NumberPlan::new("44").unwrap()
    }

    #[test]
    fn a_country_code_without_plus_and_a_bracketed_trunk_zero_are_read_as_numbers() {
        assert_eq!(gb().normalize("447700900123"), Ok(e("+447700900123")));
        assert_eq!(
            gb().normalize("sip:441212345678@carrier"),
            Ok(e("+441212345678"))
        );
        for plan in [gb(), NumberPlan::default()] {
            assert_eq!(plan.normalize("+44 (0)7700 900123"), Ok(e("+447700900123")));
            assert_eq!(
                plan.normalize("+44 (0)121 234 5678"),
                Ok(e("+441212345678"))
            );
        }
        // The trunk 0 written after the country code, as UK numbers often are.
        for plan in [gb(), NumberPlan::default()] {
            assert_eq!(plan.normalize("+44 020 7123 4567"), Ok(e("+442071234567")));
            assert_eq!(
                plan.normalize("sip:+44 020 7123 4567@x"),
                Ok(e("+442071234567"))
            );
        }
        // As given, without separators, the digits are what they say.
        assert_eq!(gb().normalize("+4402071234567"), Ok(e("+4402071234567")));
        // Extensions stay extensions.
        assert_eq!(gb().normalize("4321"), Ok(lit("4321")));
        assert_eq!(gb().normalize("0114321"), Ok(e("+44114321")));
    }

    #[test]
    fn home_international_prefixes_come_from_the_metadata() {
        let au = NumberPlan::new("61").unwrap();
        assert_eq!(au.normalize("0011 44 20 7123 4567"), Ok(e("+442071234567")));
        assert_eq!(au.normalize("02 9876 5432"), Ok(e("+61298765432")));
        let jp = NumberPlan::new("JP").unwrap();
        assert_eq!(jp.country_code(), "81");
        assert_eq!(jp.normalize("010 1 317 555 1234"), Ok(e("+13175551234")));
        assert_eq!(jp.normalize("03-1234-5678"), Ok(e("+81312345678")));
        let br = NumberPlan::new("55").unwrap();
        assert_eq!(br.normalize("0xx11987654321"), Ok(lit("0xx11987654321")));
        assert_eq!(br.normalize("011987654321"), Ok(e("+5511987654321")));
    }

    #[test]
    fn an_rfc_3966_local_number_takes_its_phone_context() {
        for plan in [NumberPlan::default(), gb()] {
            assert_eq!(
                plan.normalize("tel:5551234;phone-context=+1317"),
                Ok(e("+13175551234"))
            );
            assert_eq!(
                plan.normalize("sip:5551234;phone-context=+1-317@carrier;user=phone"),
                Ok(e("+13175551234"))
            );
        }
        // A domain context says nothing about the digits: the home plan reads them.
        assert_eq!(
            normalize("tel:3175551234;phone-context=example.com"),
            Ok(e("+13175551234"))
        );
        // A global number ignores the context.
        assert_eq!(
            normalize("tel:+13175551234;phone-context=+44"),
            Ok(e("+13175551234"))
        );
    }

    #[test]
    fn a_display_name_is_not_part_of_the_address() {
        let plan = NumberPlan::default();
        for from in [
            r#""Bob" <sip:+19005551234@carrier>"#,
            "Bob <tel:+19005551234>",
            r#""a <b>" <sip:+19005551234@carrier>"#,
            "<sip:+19005551234@carrier>",
        ] {
            assert_eq!(normalize(from), Ok(e("+19005551234")), "{from}");
            assert_eq!(
                plan.caller_digits(from).as_deref(),
                Some("19005551234"),
                "{from}"
            );
        }
        // Not a display name: a mangled number stays an error.
        assert!(normalize("+1<3175551234>").is_err());
    }

    #[test]
    fn anonymous_callers_have_no_digits() {
        for from in [
            "+266696687",
            "266696687",
            "sip:+266696687@carrier",
            "anonymous",
            "Restricted",
            "PRIVATE",
            "Unavailable",
            "sip:anonymous@anonymous.invalid",
            r#""Anonymous" <sip:anonymous@anonymous.invalid>"#,
            "",
        ] {
            assert!(is_anonymous(from), "{from}");
            assert_eq!(NumberPlan::default().caller_digits(from), None, "{from}");
        }
        for from in ["+26622123456", "sip:alice@pbx", "+13175551234"] {
            assert!(!is_anonymous(from), "{from}");
        }
        // A real Lesotho number keeps its digits.
        assert_eq!(
            NumberPlan::default()
                .caller_digits("+26622123456")
                .as_deref(),
            Some("26622123456")
        );
    }

    #[test]
    fn pasted_unicode_is_folded() {
        let cases = [
            "+44\u{a0}20\u{a0}7123\u{a0}4567",
            "+44 20\u{2013}7123\u{2013}4567",
            "\u{ff0b}\u{ff14}\u{ff14}\u{ff12}\u{ff10}\u{ff17}\u{ff11}\u{ff12}\u{ff13}\u{ff14}\u{ff15}\u{ff16}\u{ff17}",
            "\u{200e}+442071234567\u{200f}",
            "\u{202a}+44 20 7123 4567\u{202c}",
            "+44\u{2009}20\u{2212}7123\u{2011}4567",
            "\u{feff}+442071234567",
        ];
        for case in cases {
            assert_eq!(normalize(case), Ok(e("+442071234567")), "{case:?}");
        }
        assert_eq!(fold_unicode("+1 317"), "+1 317");
        assert_eq!(normalize("caf\u{e9}"), Err(NumberError::BadCharacter));
    }

    /// Found by the fuzzer: this input made the metadata crate's parser slice out of bounds.
    #[test]
    fn a_phone_context_after_a_bracketed_zero_does_not_panic() {
        let input = "+4 \0\0\0;phone-context=ext4;p<si(0)111~02\0\0\0\0\0\0\0;41t~0\u{f48b}~\0\0\0\0tel:\0\0\0;41t~0\u{f48b}~";
        for plan in [gb(), NumberPlan::default(), NumberPlan::new("61").unwrap()] {
            let _ = plan.normalize(input);
            let _ = plan.caller_digits(input);
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
        // Country codes and regions libphonenumber does not know are refused.
        assert!(NumberPlan::new("999").is_err());
        assert!(NumberPlan::new("ZZ").is_err());
        assert!(NumberPlan::new("UK")
            .unwrap_err()
            .to_string()
            .contains("the United Kingdom is GB"));
        // A region stands for its country code; a NANP country other than the US and Canada
        // cannot be home.
        assert_eq!(NumberPlan::new("gb").unwrap().country_code(), "44");
        assert_eq!(NumberPlan::new("JE").unwrap().home().as_str(), "JE");
        assert_eq!(NumberPlan::new("CA").unwrap(), NumberPlan::default());
        assert!(NumberPlan::new("JM").is_err());
        assert_eq!(NumberPlan::new("+44").unwrap().describe(), "GB (+44)");
    }
}
