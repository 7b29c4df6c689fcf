//! Request parameters: the query string and a form or JSON body, kept in order with duplicates.
//!
//! The signature covers every body parameter, duplicates included, so nothing is dropped here;
//! lookups by name return the first occurrence.

use std::borrow::Cow;

/// Ordered name/value pairs, duplicates kept.
///
/// Stored as one text and the offsets where each name and value ends, not a `String` per name
/// and value: a webhook has 13 to 25 parameters, and parsing one cost 40 allocations that way
/// (see docs/performance.md, "Allocations per call").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    /// Every name and value, back to back.
    text: String,
    /// Per pair, where its name ends and where its value ends in `text`; a pair starts where
    /// the one before it ended.
    ends: Vec<(usize, usize)>,
}

/// Why a body could not be read as parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    #[error("the JSON body is not valid JSON: {0}")]
    Json(String),
    #[error("the JSON body is not an object")]
    JsonNotObject,
}

impl Params {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `application/x-www-form-urlencoded` text (a body or a raw query string).
    ///
    /// Decoding is lenient, as Twilio's own libraries are: an invalid `%` escape stays literal and
    /// invalid UTF-8 becomes U+FFFD, so a garbled parameter can never make the request unanswerable.
    pub fn from_form(input: &[u8]) -> Self {
        // The same reading as `form_urlencoded::parse` (a property test holds them equal), in
        // one pass over the input, decoded straight into one buffer that becomes the text after
        // a single UTF-8 check: no `String` (or check) per name and value, and no search call
        // per piece (a 600-byte webhook body has 26 of them).
        let mut bytes = Vec::with_capacity(input.len());
        let mut ends = Vec::with_capacity(16);
        // Where the pending run of plain bytes starts, where the pair started, and where its
        // name ends in `bytes` once its first `=` is seen.
        let (mut run, mut pair, mut name_end) = (0, 0, None);
        let mut i = 0;
        while i < input.len() {
            let next = match input[i] {
                b'&' => {
                    bytes.extend_from_slice(&input[run..i]);
                    // Empty pairs (`a=1&&b=2`) are skipped.
                    if i > pair {
                        ends.push((name_end.unwrap_or(bytes.len()), bytes.len()));
                    }
                    pair = i + 1;
                    name_end = None;
                    i + 1
                }
                b'=' if name_end.is_none() => {
                    bytes.extend_from_slice(&input[run..i]);
                    name_end = Some(bytes.len());
                    i + 1
                }
                b'+' => {
                    bytes.extend_from_slice(&input[run..i]);
                    bytes.push(b' ');
                    i + 1
                }
                b'%' => {
                    bytes.extend_from_slice(&input[run..i]);
                    match (
                        input.get(i + 1).and_then(hex),
                        input.get(i + 2).and_then(hex),
                    ) {
                        (Some(high), Some(low)) => {
                            bytes.push(high << 4 | low);
                            i + 3
                        }
                        // Not an escape: the `%` stays literal.
                        _ => {
                            bytes.push(b'%');
                            i + 1
                        }
                    }
                }
                _ => {
                    i += 1;
                    continue;
                }
            };
            i = next;
            run = next;
        }
        bytes.extend_from_slice(&input[run..]);
        if input.len() > pair {
            ends.push((name_end.unwrap_or(bytes.len()), bytes.len()));
        }
        // Valid as a whole and cut only between characters: then every name and value is valid
        // on its own (a character split by `&`, `=` or an escape is not).
        let bytes = match String::from_utf8(bytes) {
            Ok(text)
                if ends
                    .iter()
                    .all(|&(n, e)| text.is_char_boundary(n) && text.is_char_boundary(e)) =>
            {
                return Self { text, ends }
            }
            Ok(text) => text.into_bytes(),
            Err(e) => e.into_bytes(),
        };
        // Invalid UTF-8 (a garbled parameter, rare): each name and value is made valid on its
        // own, U+FFFD for what is not, as `form_urlencoded` does.
        let mut params = Self::new();
        let mut start = 0;
        for (name_end, end) in ends {
            params.push_str(
                &String::from_utf8_lossy(&bytes[start..name_end]),
                &String::from_utf8_lossy(&bytes[name_end..end]),
            );
            start = end;
        }
        params
    }

    /// Reads a JSON object body: strings as they are, numbers and booleans as their JSON text,
    /// arrays as one entry per element; nested objects and nulls are ignored.
    pub fn from_json(body: &[u8]) -> Result<Self, ParamsError> {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| ParamsError::Json(e.to_string()))?;
        let serde_json::Value::Object(map) = value else {
            return Err(ParamsError::JsonNotObject);
        };
        let mut out = Self::new();
        for (key, value) in map {
            let items = match value {
                serde_json::Value::Array(items) => items,
                other => vec![other],
            };
            for item in items {
                let text = match item {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    _ => continue,
                };
                out.push_str(&key, &text);
            }
        }
        Ok(out)
    }

    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.push_str(&name.into(), &value.into());
    }

    fn push_str(&mut self, name: &str, value: &str) {
        self.text.push_str(name);
        let name_end = self.text.len();
        self.text.push_str(value);
        self.ends.push((name_end, self.text.len()));
    }

    /// The first value for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// The first non-blank value for `name`, trimmed.
    pub fn get_nonblank(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut start = 0;
        self.ends.iter().map(move |&(name_end, value_end)| {
            let pair = (&self.text[start..name_end], &self.text[name_end..value_end]);
            start = value_end;
            pair
        })
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Params {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut params = Self::new();
        for (k, v) in iter {
            params.push(k, v);
        }
        params
    }
}

/// Appends form-decoded `raw` to `text`: `+` is a space, `%XX` a byte, an invalid escape stays
/// literal, invalid UTF-8 becomes U+FFFD.
/// The value of a hex digit.
fn hex(b: &u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The value of query parameter `name` in a URL or raw query string, decoded.
pub fn query_param<'a>(url_or_query: &'a str, name: &str) -> Option<Cow<'a, str>> {
    let query = match url_or_query.split_once('?') {
        Some((_, q)) => q,
        None => url_or_query,
    };
    let query = query.split('#').next().unwrap_or(query);
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_keeps_order_and_duplicates_and_decodes() {
        let p = Params::from_form(b"To=sip%3A%2B1317%40h&Digits=1&Digits=2&Caller=+1415&Empty=");
        assert_eq!(p.get("To"), Some("sip:+1317@h"));
        assert_eq!(p.get("Digits"), Some("1"));
        assert_eq!(p.iter().filter(|(k, _)| *k == "Digits").count(), 2);
        // `+` in a form means space, as in every form decoder.
        assert_eq!(p.get("Caller"), Some(" 1415"));
        assert_eq!(p.get("Empty"), Some(""));
        assert_eq!(p.get_nonblank("Empty"), None);
        assert_eq!(p.len(), 5);
    }

    #[test]
    fn pairs_keep_their_bounds_whatever_is_empty() {
        let p = Params::from_form(b"=x&a=&&b&c=3&a=4");
        let pairs: Vec<(&str, &str)> = p.iter().collect();
        assert_eq!(
            pairs,
            [("", "x"), ("a", ""), ("b", ""), ("c", "3"), ("a", "4")]
        );
        let mut built = Params::new();
        for (k, v) in &pairs {
            built.push(*k, *v);
        }
        assert_eq!(built, p);
        assert_eq!(built.iter().collect::<Vec<_>>(), pairs);
    }

    proptest::proptest! {
        // Many cases: the rare inputs (a character cut in two by `&`) are the ones that matter.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(10_000))]
        #[test]
        fn form_parsing_reads_as_form_urlencoded_does(
            input in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(b"&=+%aF09zZ ".to_vec()),
                    proptest::num::u8::ANY,
                ],
                0..64,
            )
        ) {
            let ours: Vec<(String, String)> = Params::from_form(&input)
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let theirs: Vec<(String, String)> = form_urlencoded::parse(&input)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            proptest::prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn garbled_forms_decode_leniently() {
        let p = Params::from_form(b"To=%zz%2&From=%FF%FE");
        assert_eq!(p.get("To"), Some("%zz%2"));
        assert_eq!(p.get("From"), Some("\u{FFFD}\u{FFFD}"));
        assert!(Params::from_form(b"").is_empty());
    }

    #[test]
    fn json_bodies_become_params() {
        let p = Params::from_json(
            br#"{"OUTBOUND_DID":"+13175551234","n":5,"b":true,"a":["x","y"],"o":{},"z":null}"#,
        )
        .unwrap();
        assert_eq!(p.get("OUTBOUND_DID"), Some("+13175551234"));
        assert_eq!(p.get("n"), Some("5"));
        assert_eq!(p.get("b"), Some("true"));
        assert_eq!(p.iter().filter(|(k, _)| *k == "a").count(), 2);
        assert_eq!(p.get("o"), None);
        assert_eq!(Params::from_json(b"[1]"), Err(ParamsError::JsonNotObject));
        assert!(matches!(Params::from_json(b"{"), Err(ParamsError::Json(_))));
    }

    #[test]
    fn query_param_reads_urls_and_raw_queries() {
        assert_eq!(
            query_param("https://h/p?a=1&bodySHA256=ab%63#frag", "bodySHA256").as_deref(),
            Some("abc")
        );
        assert_eq!(query_param("a=1&b=2", "b").as_deref(), Some("2"));
        assert_eq!(query_param("https://h/p", "a"), None);
    }
}
