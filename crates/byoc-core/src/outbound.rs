//! The outbound decision: a Studio flow's TwiML Redirect widget asks for a call to leave over the
//! customer's BYOC trunk; the answer is `<Dial><Number byoc="BY…">+E164</Number></Dial>`.
//!
//! Parameters keep the names existing Studio flows use: `OUTBOUND_DID` and `BYOC_TRUNK_SID`. They
//! are read from the query string first (where a widget author writes them), then the body (form
//! or JSON). Invalid input never produces a `<Dial>`: the caller hears a short message and the
//! call hangs up, and the reason is returned for the log.

use crate::number::{Address, NumberPlan};
use crate::params::Params;
use crate::sid::{Sid, SidKind};
use crate::twiml::{self, DialOptions, Noun, Verb};

/// The parameter naming the number to dial.
pub const PARAM_DID: &str = "OUTBOUND_DID";
/// The parameter naming the BYOC trunk.
pub const PARAM_TRUNK: &str = "BYOC_TRUNK_SID";
/// Fewest digits a dialable E.164 number has (the shortest national plans have 4-digit
/// subscriber numbers behind a 3-digit country code).
pub const DIAL_MIN_DIGITS: usize = 7;

/// What the caller hears when a call is refused, unless configured otherwise.
pub const DEFAULT_REFUSAL_MESSAGE: &str =
    "Sorry, this call cannot be connected. Please check the number and try again. Goodbye.";

/// Settings the outbound decision depends on.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    pub plan: NumberPlan,
    /// Used when the request names no trunk (env `BYOC_TRUNK_SID`).
    pub default_trunk: Option<Sid>,
    pub refusal_message: String,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            plan: NumberPlan::default(),
            default_trunk: None,
            refusal_message: DEFAULT_REFUSAL_MESSAGE.to_string(),
        }
    }
}

/// Why an outbound call was refused. The messages are for operators (logs, a response header).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("missing OUTBOUND_DID")]
    MissingDid,
    #[error("OUTBOUND_DID {0}")]
    BadDid(String),
    #[error("missing BYOC_TRUNK_SID and no default trunk configured")]
    MissingTrunk,
    #[error("BYOC_TRUNK_SID: {0}")]
    BadTrunk(String),
}

/// The answer to one outbound request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub twiml: twiml::Response,
    /// The dialled number, or why the call was refused.
    pub result: Result<String, OutboundError>,
}

/// The first non-blank value of `name`: query string first, then body.
fn param<'a>(query: &'a Params, body: &'a Params, name: &str) -> Option<&'a str> {
    query.get_nonblank(name).or_else(|| body.get_nonblank(name))
}

/// Validates the request and builds the Dial.
pub fn decide(query: &Params, body: &Params, config: &OutboundConfig) -> Decision {
    match dial(query, body, config) {
        Ok((number, trunk)) => Decision {
            twiml: twiml::Response::new().verb(Verb::Dial {
                options: DialOptions::default(),
                nouns: vec![Noun::Number {
                    number: number.clone(),
                    byoc: Some(trunk.to_string()),
                }],
            }),
            result: Ok(number),
        },
        Err(e) => Decision {
            twiml: twiml::Response::say_and_hang_up(config.refusal_message.clone()),
            result: Err(e),
        },
    }
}

fn dial(
    query: &Params,
    body: &Params,
    config: &OutboundConfig,
) -> Result<(String, Sid), OutboundError> {
    let did = param(query, body, PARAM_DID).ok_or(OutboundError::MissingDid)?;
    let number = match config.plan.normalize(did) {
        Ok(Address::E164(n)) => n,
        Ok(Address::Literal(_)) => {
            return Err(OutboundError::BadDid("is not a phone number".into()))
        }
        Err(e) => return Err(OutboundError::BadDid(e.to_string())),
    };
    let digits = number.len() - 1;
    if digits < DIAL_MIN_DIGITS {
        return Err(OutboundError::BadDid(format!(
            "`{number}` is too short to dial"
        )));
    }
    if number.starts_with("+1") && digits != 11 {
        return Err(OutboundError::BadDid(format!(
            "`{number}` is not a NANP number (+1 and 10 digits)"
        )));
    }
    let trunk = match param(query, body, PARAM_TRUNK) {
        Some(s) => {
            Sid::parse(SidKind::ByocTrunk, s).map_err(|e| OutboundError::BadTrunk(e.to_string()))?
        }
        None => config
            .default_trunk
            .clone()
            .ok_or(OutboundError::MissingTrunk)?,
    };
    Ok((number, trunk))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUNK: &str = "BY0123456789abcdef0123456789abcdef";
    const OTHER: &str = "BYfedcba9876543210fedcba9876543210";

    fn p(pairs: &[(&str, &str)]) -> Params {
        pairs.iter().copied().collect()
    }

    #[test]
    fn a_valid_request_dials_over_the_trunk() {
        let d = decide(
            &p(&[("OUTBOUND_DID", "3175551234"), ("BYOC_TRUNK_SID", TRUNK)]),
            &Params::new(),
            &OutboundConfig::default(),
        );
        assert_eq!(d.result, Ok("+13175551234".into()));
        assert!(d.twiml.to_xml().ends_with(&format!(
            r#"<Response><Dial><Number byoc="{TRUNK}">+13175551234</Number></Dial></Response>"#
        )));
    }

    #[test]
    fn the_query_string_wins_over_the_body_and_the_default_trunk_fills_in() {
        let config = OutboundConfig {
            default_trunk: Some(Sid::parse(SidKind::ByocTrunk, OTHER).unwrap()),
            ..OutboundConfig::default()
        };
        let d = decide(
            &p(&[("OUTBOUND_DID", "+13175551234")]),
            &p(&[("OUTBOUND_DID", "+13175550000"), ("BYOC_TRUNK_SID", TRUNK)]),
            &config,
        );
        assert_eq!(d.result, Ok("+13175551234".into()));
        assert!(d.twiml.to_xml().contains(TRUNK));
        let d = decide(
            &Params::new(),
            &p(&[("OUTBOUND_DID", "+442071234567")]),
            &config,
        );
        assert_eq!(d.result, Ok("+442071234567".into()));
        assert!(d.twiml.to_xml().contains(OTHER));
    }

    #[test]
    fn invalid_input_never_dials() {
        let cfg = OutboundConfig::default();
        let cases: [(&[(&str, &str)], OutboundError); 7] = [
            (&[("BYOC_TRUNK_SID", TRUNK)], OutboundError::MissingDid),
            (
                &[("OUTBOUND_DID", "undefined"), ("BYOC_TRUNK_SID", TRUNK)],
                OutboundError::BadDid("is not a phone number".into()),
            ),
            (
                &[("OUTBOUND_DID", "+1317555"), ("BYOC_TRUNK_SID", TRUNK)],
                OutboundError::BadDid("`+1317555` is not a NANP number (+1 and 10 digits)".into()),
            ),
            (
                &[("OUTBOUND_DID", "+44123"), ("BYOC_TRUNK_SID", TRUNK)],
                OutboundError::BadDid("`+44123` is too short to dial".into()),
            ),
            (
                &[("OUTBOUND_DID", "+13175551234")],
                OutboundError::MissingTrunk,
            ),
            (
                &[
                    ("OUTBOUND_DID", "+13175551234"),
                    ("BYOC_TRUNK_SID", "undefined"),
                ],
                OutboundError::BadTrunk(
                    "`undefined` is not a BYOC trunk SID: expected `BY` followed by 32 hex digits"
                        .into(),
                ),
            ),
            (
                &[
                    ("OUTBOUND_DID", "+1<3175551234>"),
                    ("BYOC_TRUNK_SID", TRUNK),
                ],
                OutboundError::BadDid(
                    "`+1<3175551234>` starts with `+` but is not a number".into(),
                ),
            ),
        ];
        for (params, expected) in cases {
            let d = decide(&p(params), &Params::new(), &cfg);
            assert_eq!(d.result, Err(expected), "{params:?}");
            let xml = d.twiml.to_xml();
            assert!(!xml.contains("<Dial"), "{xml}");
            assert!(xml.ends_with("</Say><Hangup/></Response>"), "{xml}");
        }
    }
}
