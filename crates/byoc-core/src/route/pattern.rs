//! Route patterns: exact numbers, literals, prefixes, the catch-all; parsing and keys.

use std::fmt;

use crate::number::{Address, NumberPlan, E164_MAX_DIGITS};
use crate::route::{check_nanp_length, RouteErrorKind};

/// A route key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pattern {
    /// An E.164 number, `+13175551234`.
    Exact(String),
    /// A literal address, `support`.
    Literal(String),
    /// A number prefix without its `*`: `+1317` for the pattern `+1317*`.
    Prefix(String),
    /// `*`.
    CatchAll,
}

impl Pattern {
    /// Parses a pattern. Number patterns must be written canonically (E.164), so that the stored
    /// key is exactly the key a lookup computes; a national form is refused with the canonical
    /// form in the message.
    pub fn parse(s: &str, plan: &NumberPlan) -> Result<Self, RouteErrorKind> {
        let s = s.trim();
        if s.is_empty() {
            return Err(RouteErrorKind::EmptyPattern);
        }
        if s == "*" {
            return Ok(Pattern::CatchAll);
        }
        if let Some(prefix) = s.strip_suffix('*') {
            let digits = prefix.strip_prefix('+').unwrap_or("");
            let ok = prefix.starts_with('+')
                && (1..=E164_MAX_DIGITS).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0');
            return if ok {
                Ok(Pattern::Prefix(prefix.to_string()))
            } else {
                Err(RouteErrorKind::BadPrefix(s.to_string()))
            };
        }
        if looks_scientific(s) {
            return Err(RouteErrorKind::BadPattern(format!(
                "`{s}` looks like a number a spreadsheet turned into scientific notation: format the column as text and export again"
            )));
        }
        if looks_decimal(s) {
            return Err(RouteErrorKind::BadPattern(format!(
                "`{s}` looks like a number a spreadsheet wrote with a decimal part: format the column as text and export again"
            )));
        }
        match plan.normalize(s) {
            Ok(Address::E164(n)) if n == s => {
                check_nanp_length(&n).map_err(RouteErrorKind::BadPattern)?;
                Ok(Pattern::Exact(n))
            }
            Ok(Address::Literal(l)) if l == s => Ok(Pattern::Literal(l)),
            Ok(canonical) => Err(RouteErrorKind::NotCanonical {
                given: s.to_string(),
                canonical: canonical.to_string(),
            }),
            Err(e) => Err(RouteErrorKind::BadPattern(e.to_string())),
        }
    }

    /// The key under which the route is stored and looked up (`+1317*` for a prefix).
    pub fn key(&self) -> String {
        // Built directly: this runs for every route of a route file at a cold start.
        match self {
            Pattern::Exact(s) | Pattern::Literal(s) => s.clone(),
            Pattern::Prefix(p) => {
                let mut key = String::with_capacity(p.len() + 1);
                key.push_str(p);
                key.push('*');
                key
            }
            Pattern::CatchAll => "*".to_string(),
        }
    }

    /// What kind of pattern this is: `exact`, `literal`, `prefix` or `catch_all` (the names
    /// [`MatchKind::as_str`] gives a match on it).
    pub fn kind(&self) -> &'static str {
        match self {
            Pattern::Exact(_) => "exact",
            Pattern::Literal(_) => "literal",
            Pattern::Prefix(_) => "prefix",
            Pattern::CatchAll => "catch_all",
        }
    }

    /// The matcher's precedence as a sort key, first wins: exact numbers and literals, then
    /// prefixes longest first, then `*`; ties by key.
    pub fn precedence(&self) -> (u8, std::cmp::Reverse<usize>, String) {
        let (class, len) = match self {
            Pattern::Exact(_) | Pattern::Literal(_) => (0, 0),
            Pattern::Prefix(p) => (1, p.len()),
            Pattern::CatchAll => (2, 0),
        };
        (class, std::cmp::Reverse(len), self.key())
    }
}

/// A route key as a person types it, split at its last `@`: the pattern and the SIP domain it
/// is scoped to (`+13175551234@example.sip.twilio.com`), trimmed. `@` at the very start is part
/// of a literal, not a scope.
pub fn split_scope(input: &str) -> (&str, Option<&str>) {
    let input = input.trim();
    match input.rsplit_once('@') {
        Some((pattern, scope)) if !pattern.is_empty() => (pattern.trim(), Some(scope.trim())),
        _ => (input, None),
    }
}

/// `13175550804.0`, `3175550805.00`: digits, a point, digits.
pub(crate) fn looks_decimal(s: &str) -> bool {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    s.split_once('.')
        .is_some_and(|(whole, fraction)| digits(whole) && digits(fraction))
}

/// `1.31756E+10`, `1E10`: digits, an optional fraction, `E`, an exponent.
pub(crate) fn looks_scientific(s: &str) -> bool {
    let Some((mantissa, exponent)) = s.split_once(['e', 'E']) else {
        return false;
    };
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(mantissa),
    };
    mantissa_ok && digits(exponent)
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Exact(s) | Pattern::Literal(s) => f.write_str(s),
            Pattern::Prefix(p) => write!(f, "{p}*"),
            Pattern::CatchAll => f.write_str("*"),
        }
    }
}
