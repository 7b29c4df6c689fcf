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
        let mut params = Self {
            text: String::with_capacity(input.len()),
            ends: Vec::with_capacity(memchr::memchr_iter(b'&', input).count() + 1),
        };
        // The same reading as `form_urlencoded::parse` (a property test holds them equal), but
        // decoded straight into `text`: one scratch buffer for the whole body instead of one
        // `String` per escaped name or value.
        let escaped = memchr::memchr2(b'+', b'%', input).is_some();
        let mut scratch = Vec::with_capacity(if escaped { input.len() } else { 0 });
        for pair in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match memchr::memchr(b'=', pair) {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            decode_into(&mut params.text, &mut scratch, name);
            let name_end = params.text.len();
            decode_into(&mut params.text, &mut scratch, value);
            params.ends.push((name_end, params.text.len()));
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
fn decode_into(text: &mut String, scratch: &mut Vec<u8>, raw: &[u8]) {
    if memchr::memchr2(b'+', b'%', raw).is_none() {
        text.push_str(&String::from_utf8_lossy(raw));
        return;
    }
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    scratch.clear();
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => scratch.push(b' '),
            b'%' if i + 2 < raw.len() => match (hex(raw[i + 1]), hex(raw[i + 2])) {
                (Some(high), Some(low)) => {
                    scratch.push(high << 4 | low);
                    i += 2;
                }
                _ => scratch.push(b'%'),
            },
            b => scratch.push(b),
        }
        i += 1;
    }
    text.push_str(&String::from_utf8_lossy(scratch));
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
