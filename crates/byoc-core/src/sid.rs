//! Twilio SIDs: a two-letter type prefix and 32 lowercase hex digits (`BY` BYOC trunk, `AC`
//! account, `FW` Studio flow, `WW` TaskRouter workflow, `AP` TwiML app, `SD` SIP domain).

use std::fmt;

/// Why a SID was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SidError {
    #[error("`{value}` is not a {kind} SID: expected `{prefix}` followed by 32 hex digits")]
    Malformed {
        kind: &'static str,
        prefix: &'static str,
        value: String,
    },
}

/// The kinds of SID byoc-router reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SidKind {
    ByocTrunk,
    Account,
    Flow,
    Workflow,
    Application,
    SipDomain,
}

impl SidKind {
    pub fn prefix(self) -> &'static str {
        match self {
            SidKind::ByocTrunk => "BY",
            SidKind::Account => "AC",
            SidKind::Flow => "FW",
            SidKind::Workflow => "WW",
            SidKind::Application => "AP",
            SidKind::SipDomain => "SD",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SidKind::ByocTrunk => "BYOC trunk",
            SidKind::Account => "account",
            SidKind::Flow => "Studio flow",
            SidKind::Workflow => "TaskRouter workflow",
            SidKind::Application => "TwiML app",
            SidKind::SipDomain => "SIP domain",
        }
    }
}

/// A validated SID. Hex digits are stored lowercase, as Twilio issues them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Sid(String);

impl Sid {
    pub fn parse(kind: SidKind, value: &str) -> Result<Self, SidError> {
        let value = value.trim();
        let prefix = kind.prefix();
        let ok = value.len() == 34
            && value.is_char_boundary(2)
            && value[..2].eq_ignore_ascii_case(prefix)
            && value[2..].bytes().all(|b| b.is_ascii_hexdigit());
        if ok {
            Ok(Sid(format!("{prefix}{}", value[2..].to_ascii_lowercase())))
        } else {
            let mut shown: String = value.chars().take(40).collect();
            if value.chars().count() > 40 {
                shown.push('…');
            }
            Err(SidError::Malformed {
                kind: kind.name(),
                prefix,
                value: shown,
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_sids_parse_and_normalize_case() {
        let sid = Sid::parse(SidKind::ByocTrunk, "BY0123456789abcdef0123456789ABCDEF").unwrap();
        assert_eq!(sid.as_str(), "BY0123456789abcdef0123456789abcdef");
        let sid = Sid::parse(SidKind::ByocTrunk, "by0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(sid.as_str(), "BY0123456789abcdef0123456789abcdef");
    }

    #[test]
    fn wrong_prefix_length_or_alphabet_is_refused() {
        for bad in [
            "",
            "BY",
            "AC0123456789abcdef0123456789abcdef",
            "BY0123456789abcdef0123456789abcde",
            "BY0123456789abcdef0123456789abcdef0",
            "BY0123456789abcdef0123456789abcdeg",
            "BYé123456789abcdef0123456789abcde",
            "éé0123456789abcdef0123456789abcdef",
        ] {
            let err = Sid::parse(SidKind::ByocTrunk, bad).unwrap_err();
            assert!(err.to_string().contains("BYOC trunk"), "{bad}: {err}");
        }
    }
}
