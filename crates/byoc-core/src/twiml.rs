//! A small TwiML writer.
//!
//! Every text node and attribute value is escaped (`& < > " '`): route URLs routinely carry `&` in
//! their query strings, and a single unescaped one makes Twilio play "an application error has
//! occurred" instead of routing the call. Characters that XML 1.0 cannot carry at all (most C0
//! controls) are dropped: validation refuses them earlier, this is the last line of defence that
//! keeps the document well-formed.

use std::fmt::Write as _;

/// The XML declaration every document starts with (nothing may precede it).
pub const XML_DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;
/// The Content-Type TwiML is served with.
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// HTTP method Twilio uses to fetch a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    #[default]
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }

    /// Case-insensitive `GET` / `POST`.
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("GET") {
            Some(Method::Get)
        } else if s.eq_ignore_ascii_case("POST") {
            Some(Method::Post)
        } else {
            None
        }
    }
}

/// `<Reject reason="…">`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RejectReason {
    Busy,
    #[default]
    Rejected,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Busy => "busy",
            RejectReason::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "busy" => Some(RejectReason::Busy),
            "rejected" => Some(RejectReason::Rejected),
            _ => None,
        }
    }
}

/// Attributes of `<Dial>` that byoc-router sets. `None` leaves Twilio's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DialOptions {
    pub caller_id: Option<String>,
    pub timeout: Option<u32>,
    pub time_limit: Option<u32>,
    pub action: Option<String>,
    pub method: Option<Method>,
    pub answer_on_bridge: Option<bool>,
    pub record: Option<String>,
    pub ring_tone: Option<String>,
    pub hangup_on_star: Option<bool>,
}

/// What a `<Dial>` connects to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Noun {
    /// `<Number byoc="BY…">+E164</Number>`
    Number {
        number: String,
        byoc: Option<String>,
    },
    /// `<Sip>sip:…</Sip>`
    Sip { uri: String },
    /// `<Client>identity</Client>`
    Client { identity: String },
}

/// One TwiML verb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    Redirect {
        url: String,
        method: Method,
    },
    Dial {
        options: DialOptions,
        nouns: Vec<Noun>,
    },
    Say {
        text: String,
        voice: Option<String>,
        language: Option<String>,
    },
    Play {
        url: String,
    },
    Enqueue {
        name: Option<String>,
        workflow_sid: Option<String>,
    },
    Reject {
        reason: RejectReason,
    },
    Hangup,
}

/// A `<Response>` document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    verbs: Vec<Verb>,
}

impl Response {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn verb(mut self, verb: Verb) -> Self {
        self.verbs.push(verb);
        self
    }

    pub fn verbs(&self) -> &[Verb] {
        &self.verbs
    }

    pub fn redirect(url: impl Into<String>, method: Method) -> Self {
        Self::new().verb(Verb::Redirect {
            url: url.into(),
            method,
        })
    }

    pub fn reject(reason: RejectReason) -> Self {
        Self::new().verb(Verb::Reject { reason })
    }

    /// A spoken message followed by a hang-up: how a refused call is told why.
    pub fn say_and_hang_up(text: impl Into<String>) -> Self {
        Self::new()
            .verb(Verb::Say {
                text: text.into(),
                voice: None,
                language: None,
            })
            .verb(Verb::Hangup)
    }

    /// Serializes the document, declaration first.
    pub fn to_xml(&self) -> String {
        let mut w = Writer::default();
        w.out.push_str(XML_DECLARATION);
        if self.verbs.is_empty() {
            w.out.push_str("<Response/>");
            return w.out;
        }
        w.out.push_str("<Response>");
        for verb in &self.verbs {
            w.verb(verb);
        }
        w.out.push_str("</Response>");
        w.out
    }
}

#[derive(Default)]
struct Writer {
    out: String,
}

impl Writer {
    fn verb(&mut self, verb: &Verb) {
        match verb {
            Verb::Redirect { url, method } => {
                self.element("Redirect", &[("method", Some(method.as_str()))], Some(url))
            }
            Verb::Dial { options, nouns } => {
                let timeout = options.timeout.map(|t| t.to_string());
                let time_limit = options.time_limit.map(|t| t.to_string());
                let attrs = [
                    ("callerId", options.caller_id.as_deref()),
                    ("timeout", timeout.as_deref()),
                    ("timeLimit", time_limit.as_deref()),
                    ("action", options.action.as_deref()),
                    ("method", options.method.map(Method::as_str)),
                    ("answerOnBridge", options.answer_on_bridge.map(bool_str)),
                    ("record", options.record.as_deref()),
                    ("ringTone", options.ring_tone.as_deref()),
                    ("hangupOnStar", options.hangup_on_star.map(bool_str)),
                ];
                self.open("Dial", &attrs, false);
                for noun in nouns {
                    match noun {
                        Noun::Number { number, byoc } => {
                            self.element("Number", &[("byoc", byoc.as_deref())], Some(number))
                        }
                        Noun::Sip { uri } => self.element("Sip", &[], Some(uri)),
                        Noun::Client { identity } => self.element("Client", &[], Some(identity)),
                    }
                }
                self.out.push_str("</Dial>");
            }
            Verb::Say {
                text,
                voice,
                language,
            } => self.element(
                "Say",
                &[
                    ("voice", voice.as_deref()),
                    ("language", language.as_deref()),
                ],
                Some(text),
            ),
            Verb::Play { url } => self.element("Play", &[], Some(url)),
            Verb::Enqueue { name, workflow_sid } => self.element(
                "Enqueue",
                &[("workflowSid", workflow_sid.as_deref())],
                name.as_deref(),
            ),
            Verb::Reject { reason } => {
                self.element("Reject", &[("reason", Some(reason.as_str()))], None)
            }
            Verb::Hangup => self.element("Hangup", &[], None),
        }
    }

    fn open(&mut self, name: &str, attrs: &[(&str, Option<&str>)], empty: bool) {
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attrs {
            if let Some(value) = value {
                let _ = write!(self.out, " {key}=\"");
                escape_into(&mut self.out, value);
                self.out.push('"');
            }
        }
        self.out.push_str(if empty { "/>" } else { ">" });
    }

    fn element(&mut self, name: &str, attrs: &[(&str, Option<&str>)], text: Option<&str>) {
        match text {
            None => self.open(name, attrs, true),
            Some(text) => {
                self.open(name, attrs, false);
                escape_into(&mut self.out, text);
                let _ = write!(self.out, "</{name}>");
            }
        }
    }
}

fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// Whether XML 1.0 can carry `c` at all.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes `s` for use in text or a double-quoted attribute; drops characters XML cannot carry.
pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if is_xml_char(c) => out.push(c),
            _ => {}
        }
    }
}

/// `escape_into` into a new string.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;
    use quick_xml::Reader;

    type Element = (String, Vec<(String, String)>);

    /// Parses `xml` (failing on anything malformed) into (element path, attributes) pairs.
    fn parse(xml: &str) -> Vec<Element> {
        let mut reader = Reader::from_str(xml);
        let mut out = Vec::new();
        let mut stack: Vec<String> = Vec::new();
        loop {
            let event = reader.read_event().expect("well-formed XML");
            match &event {
                Event::Start(e) | Event::Empty(e) => {
                    stack.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap());
                    let attrs = e
                        .attributes()
                        .map(|a| {
                            let a = a.unwrap();
                            (
                                String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                                a.unescape_value().unwrap().into_owned(),
                            )
                        })
                        .collect();
                    out.push((stack.join("/"), attrs));
                    if matches!(event, Event::Empty(_)) {
                        stack.pop();
                    }
                }
                Event::End(_) => {
                    stack.pop();
                }
                Event::Eof => break,
                _ => {}
            }
        }
        assert!(stack.is_empty(), "unclosed elements: {stack:?}");
        out
    }

    fn texts(xml: &str) -> Vec<String> {
        let mut reader = Reader::from_str(xml);
        let mut out = Vec::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Text(t) => out.push(t.unescape().unwrap().into_owned()),
                Event::Eof => break,
                _ => {}
            }
        }
        out
    }

    #[test]
    fn document_starts_with_the_declaration_and_has_a_response_root() {
        let xml = Response::reject(RejectReason::Busy).to_xml();
        assert!(xml.starts_with(XML_DECLARATION));
        assert_eq!(
            xml,
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Reject reason="busy"/></Response>"#
        );
        assert_eq!(
            Response::new().to_xml(),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#
        );
    }

    #[test]
    fn redirect_url_with_ampersands_is_escaped_and_round_trips() {
        let url = "https://webhooks.twilio.com/v1/Accounts/AC1/Flows/FW1?a=1&b=<2>&c=\"'";
        let xml = Response::redirect(url, Method::Post).to_xml();
        assert!(xml.contains("a=1&amp;b=&lt;2&gt;&amp;c=&quot;&apos;"));
        assert_eq!(texts(&xml), vec![url.to_string()]);
        let elems = parse(&xml);
        assert_eq!(elems[0].0, "Response");
        assert_eq!(elems[1].0, "Response/Redirect");
        assert_eq!(elems[1].1, vec![("method".into(), "POST".into())]);
    }

    #[test]
    fn dial_renders_every_attribute_and_noun() {
        let response = Response::new().verb(Verb::Dial {
            options: DialOptions {
                caller_id: Some("+13175550000".into()),
                timeout: Some(20),
                time_limit: Some(3600),
                action: Some("https://x/a?b=1&c=2".into()),
                method: Some(Method::Get),
                answer_on_bridge: Some(true),
                record: Some("record-from-answer".into()),
                ring_tone: Some("us".into()),
                hangup_on_star: Some(false),
            },
            nouns: vec![
                Noun::Number {
                    number: "+13175551234".into(),
                    byoc: Some("BY0123456789abcdef0123456789abcdef".into()),
                },
                Noun::Sip {
                    uri: "sip:alice@example.com;transport=tls".into(),
                },
                Noun::Client {
                    identity: "alice<&>".into(),
                },
            ],
        });
        let xml = response.to_xml();
        assert_eq!(
            xml,
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
                r#"<Dial callerId="+13175550000" timeout="20" timeLimit="3600" action="https://x/a?b=1&amp;c=2" method="GET" answerOnBridge="true" record="record-from-answer" ringTone="us" hangupOnStar="false">"#,
                r#"<Number byoc="BY0123456789abcdef0123456789abcdef">+13175551234</Number>"#,
                r#"<Sip>sip:alice@example.com;transport=tls</Sip>"#,
                r#"<Client>alice&lt;&amp;&gt;</Client>"#,
                r#"</Dial></Response>"#
            )
        );
        assert_eq!(
            texts(&xml),
            vec![
                "+13175551234",
                "sip:alice@example.com;transport=tls",
                "alice<&>"
            ]
        );
    }

    #[test]
    fn other_verbs_render() {
        let xml = Response::new()
            .verb(Verb::Say {
                text: "Hello & welcome".into(),
                voice: Some("Polly.Joanna".into()),
                language: Some("en-US".into()),
            })
            .verb(Verb::Play {
                url: "https://x/y.mp3".into(),
            })
            .verb(Verb::Enqueue {
                name: None,
                workflow_sid: Some("WW0123456789abcdef0123456789abcdef".into()),
            })
            .verb(Verb::Hangup)
            .to_xml();
        assert!(
            xml.contains(r#"<Say voice="Polly.Joanna" language="en-US">Hello &amp; welcome</Say>"#)
        );
        assert!(xml.contains(r#"<Play>https://x/y.mp3</Play>"#));
        assert!(xml.contains(r#"<Enqueue workflowSid="WW0123456789abcdef0123456789abcdef"/>"#));
        assert!(xml.ends_with("<Hangup/></Response>"));
        parse(&xml);
    }

    #[test]
    fn characters_xml_cannot_carry_are_dropped_so_the_document_stays_well_formed() {
        let xml = Response::say_and_hang_up("a\u{0}b\u{1b}c\td\u{FFFF}e").to_xml();
        assert_eq!(texts(&xml), vec!["abc\tde".to_string()]);
    }

    #[test]
    fn methods_and_reasons_parse_case_insensitively() {
        assert_eq!(Method::parse("get"), Some(Method::Get));
        assert_eq!(Method::parse("Post"), Some(Method::Post));
        assert_eq!(Method::parse("PUT"), None);
        assert_eq!(RejectReason::parse("BUSY"), Some(RejectReason::Busy));
        assert_eq!(RejectReason::parse("nope"), None);
    }
}
