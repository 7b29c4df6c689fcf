//! Request parameters: the query string and a form or JSON body, kept in order with duplicates.
//!
//! The signature covers every body parameter, duplicates included, so nothing is dropped here;
//! lookups by name return the first occurrence.

use std::borrow::Cow;

/// Ordered name/value pairs, duplicates kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

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
        Self(
            form_urlencoded::parse(input)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// Reads a JSON object body: strings as they are, numbers and booleans as their JSON text,
    /// arrays as one entry per element; nested objects and nulls are ignored.
    pub fn from_json(body: &[u8]) -> Result<Self, ParamsError> {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| ParamsError::Json(e.to_string()))?;
        let serde_json::Value::Object(map) = value else {
            return Err(ParamsError::JsonNotObject);
        };
        let mut out = Vec::new();
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
                out.push((key.clone(), text));
            }
        }
        Ok(Self(out))
    }

    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// The first value for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first non-blank value for `name`, trimmed.
    pub fn get_nonblank(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Params {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
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
