//! A small TwiML writer.
//!
//! Every text node and attribute value is escaped (`& < > " '`): route URLs routinely carry `&` in
//! their query strings, and a single unescaped one makes Twilio play "an application error has
//! occurred" instead of routing the call. Characters that XML 1.0 cannot carry at all (most C0
//! controls) are dropped: validation refuses them earlier, this is the last line of defence that
//! keeps the document well-formed.

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
    /// `<Number byoc="BY…" sendDigits="ww12">+E164</Number>`
    Number {
        number: String,
        byoc: Option<String>,
        /// DTMF played once the number answers (`w` waits half a second): an extension.
        send_digits: Option<String>,
    },
    /// `<Sip>sip:…</Sip>`
    Sip { uri: String },
    /// `<Client>identity</Client>`
    Client { identity: String },
    /// `<Application><ApplicationSid>AP…</ApplicationSid><Parameter …/>…</Application>`
    Application {
        sid: String,
        parameters: Vec<(String, String)>,
    },
    /// `<Conference>name</Conference>`
    Conference { name: String },
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
        /// TaskRouter task attributes (a JSON object), as `<Task>`.
        task: Option<String>,
    },
    /// `<Refer><Sip>uri</Sip></Refer>`: hands the call back to the SIP peer (SIP REFER).
    Refer {
        uri: String,
    },
    /// A fragment of TwiML verbs written as given. Only for fragments already checked to be
    /// well-formed (see `route::check_twiml`), so the document stays well-formed.
    Raw(String),
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
        // One allocation for a typical answer (a redirect or a dial is 150–300 bytes).
        let mut w = Writer {
            out: String::with_capacity(320),
        };
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
                        Noun::Number {
                            number,
                            byoc,
                            send_digits,
                        } => self.element(
                            "Number",
                            &[
                                ("byoc", byoc.as_deref()),
                                ("sendDigits", send_digits.as_deref()),
                            ],
                            Some(number),
                        ),
                        Noun::Sip { uri } => self.element("Sip", &[], Some(uri)),
                        Noun::Client { identity } => self.element("Client", &[], Some(identity)),
                        Noun::Application { sid, parameters } => {
                            self.out.push_str("<Application>");
                            self.element("ApplicationSid", &[], Some(sid));
                            for (name, value) in parameters {
                                self.element(
                                    "Parameter",
                                    &[("name", Some(name)), ("value", Some(value))],
                                    None,
                                );
                            }
                            self.out.push_str("</Application>");
                        }
                        Noun::Conference { name } => self.element("Conference", &[], Some(name)),
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
            Verb::Enqueue {
                name,
                workflow_sid,
                task,
            } => match task {
                None => self.element(
                    "Enqueue",
                    &[("workflowSid", workflow_sid.as_deref())],
                    name.as_deref(),
                ),
                Some(task) => {
                    // With a task, Twilio takes the queue from the workflow; a name is ignored.
                    self.open(
                        "Enqueue",
                        &[("workflowSid", workflow_sid.as_deref())],
                        false,
                    );
                    self.element("Task", &[], Some(task));
                    self.out.push_str("</Enqueue>");
                }
            },
            Verb::Refer { uri } => {
                self.out.push_str("<Refer>");
                self.element("Sip", &[], Some(uri));
                self.out.push_str("</Refer>");
            }
            Verb::Raw(fragment) => self.out.push_str(fragment),
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
                self.out.push(' ');
                self.out.push_str(key);
                self.out.push_str("=\"");
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
                self.out.push_str("</");
                self.out.push_str(name);
                self.out.push('>');
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
/// Copies the runs between special characters whole (a URL is mostly one run).
pub fn escape_into(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        let (replacement, width) = match bytes[i] {
            b'&' => ("&amp;", 1),
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'"' => ("&quot;", 1),
            b'\'' => ("&apos;", 1),
            // As references, so an XML parser keeps them: it would turn a raw line break in an
            // attribute into a space, and `\r\n` in text into `\n`.
            b'\t' => ("&#9;", 1),
            b'\n' => ("&#10;", 1),
            b'\r' => ("&#13;", 1),
            // Other control characters, and U+FFFE / U+FFFF (EF BF BE / EF BF BF): not XML.
            0..=0x1f => ("", 1),
            0xEF if matches!(bytes.get(i + 1..i + 3), Some([0xBF, 0xBE | 0xBF])) => ("", 3),
            _ => {
                i += 1;
                continue;
            }
        };
        out.push_str(&s[run..i]);
        out.push_str(replacement);
        i += width;
        run = i;
    }
    out.push_str(&s[run..]);
}

/// `escape_into` into a new string.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

/// A character reference such as `&#x1;` names a character XML 1.0 cannot carry: the parser
/// accepts it, Twilio's would not.
fn check_xml_chars(text: &str) -> Result<(), String> {
    match text.chars().find(|c| !is_xml_char(*c)) {
        Some(c) => Err(format!(
            "U+{:04X} is not a character XML 1.0 allows",
            c as u32
        )),
        None => Ok(()),
    }
}

/// Verbs a `twiml` route may use at the top level (same source as [`FRAGMENT_NOUNS`]; the
/// deprecated `<Sms>` verb left out).
pub const FRAGMENT_VERBS: &[&str] = &[
    "Connect", "Dial", "Echo", "Enqueue", "Gather", "Hangup", "Leave", "Pause", "Pay", "Play",
    "Record", "Redirect", "Refer", "Reject", "Say", "Start", "Stop",
];

/// Elements a `twiml` route may use inside a verb (nouns, and SSML inside `<Say>`).
///
/// Source: the elements of Twilio's TwiML Voice schema as its helper library generates them
/// (twilio-ruby `lib/twilio-ruby/twiml/voice_response.rb`, every `@name`, at dd1cc09 of
/// 2026-08-20), plus `<Connect><Assistant>` from the library's later releases; retired
/// `Autopilot` left out. Checked 2026-12-05.
pub const FRAGMENT_NOUNS: &[&str] = &[
    "AiSession",
    "Application",
    "ApplicationSid",
    "Assistant",
    "Client",
    "Conference",
    "Config",
    "Conversation",
    "ConversationRelay",
    "ConversationRelaySession",
    "Header",
    "Headers",
    "Identity",
    "Language",
    "Number",
    "Parameter",
    "Pause",
    "Play",
    "Prompt",
    "Queue",
    "Recording",
    "Room",
    "Say",
    "Sim",
    "Sip",
    "Siprec",
    "Stream",
    "Task",
    "Transcription",
    "Uri",
    "VirtualAgent",
    "WhatsApp",
    "break",
    "emphasis",
    "lang",
    "p",
    "phoneme",
    "prosody",
    "s",
    "say-as",
    "sub",
    "w",
    "amazon:domain",
    "amazon:effect",
];

/// The URL of the first top-level `<Redirect>` of a checked fragment (see [`check_fragment`]),
/// the point where the call leaves the fragment's TwiML.
pub fn first_redirect(fragment: &str) -> Option<String> {
    use quick_xml::events::Event;

    let mut reader = quick_xml::Reader::from_str(fragment);
    let mut depth = 0usize;
    let mut in_redirect = false;
    let mut url = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                in_redirect = depth == 0 && e.name().as_ref() == b"Redirect";
                depth += 1;
            }
            Event::Text(t) if in_redirect => url.push_str(&t.unescape().ok()?),
            Event::CData(t) if in_redirect => url.push_str(&String::from_utf8_lossy(&t)),
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if in_redirect && depth == 0 {
                    return Some(url.trim().to_string());
                }
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// Attributes whose value Twilio fetches or posts to.
const URL_ATTRIBUTES: &[&str] = &[
    "action",
    "url",
    "statusCallback",
    "recordingStatusCallback",
    "waitUrl",
    "transcribeCallback",
    "partialResultCallback",
    "amdStatusCallback",
];

/// The relative URLs in a checked fragment (`<Gather action="/menu">`, `<Play>/hold.mp3</Play>`,
/// `<Redirect>next</Redirect>`): Twilio resolves them against the URL that answered, here the
/// router's own webhook, where they do not exist. A fragment moved from a Twilio Function or
/// flex-inbound-sip-router, where they named that service's own paths, breaks silently.
pub fn relative_urls(fragment: &str) -> Vec<String> {
    use quick_xml::events::Event;

    let absolute = |u: &str| {
        let u = u.trim();
        u.is_empty()
            || ["https://", "http://", "wss://", "ws://"]
                .iter()
                .any(|s| u.starts_with(s))
    };
    let mut found = Vec::new();
    let mut reader = quick_xml::Reader::from_str(fragment);
    let mut text_of: Option<String> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                for attr in e.attributes().flatten() {
                    let key = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
                    if URL_ATTRIBUTES.contains(&key.as_str()) {
                        if let Ok(value) = attr.unescape_value() {
                            if !absolute(&value) {
                                found.push(format!("<{name} {key}=\"{value}\">"));
                            }
                        }
                    }
                }
                text_of = matches!(name.as_str(), "Play" | "Redirect").then_some(name);
            }
            Ok(Event::Text(t)) => {
                if let (Some(name), Ok(text)) = (&text_of, t.unescape()) {
                    if !absolute(&text) {
                        found.push(format!("<{name}>{}</{name}>", text.trim()));
                    }
                }
            }
            Ok(Event::End(_)) => text_of = None,
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    found
}

/// Checks a TwiML fragment for a `twiml` route: well-formed XML (known entities only, no
/// DOCTYPE or processing instructions), one or more top-level verbs of [`FRAGMENT_VERBS`],
/// elements inside them from [`FRAGMENT_NOUNS`], no text outside the verbs. Such a fragment can
/// be written inside `<Response>` as given and the document stays well-formed.
pub fn check_fragment(fragment: &str) -> Result<(), String> {
    use quick_xml::events::Event;

    let mut reader = quick_xml::Reader::from_str(fragment);
    let mut stack: Vec<String> = Vec::new();
    let mut verbs = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| {
            format!(
                "not well-formed XML at byte {}: {e}",
                reader.error_position()
            )
        })?;
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e), false),
            Event::Empty(e) => (Some(e), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
            if name == "Response" {
                return Err("write the verbs without the enclosing <Response>".into());
            }
            let allowed = if stack.is_empty() {
                verbs += 1;
                FRAGMENT_VERBS
            } else {
                FRAGMENT_NOUNS
            };
            if !allowed.contains(&name.as_str()) {
                let place = if stack.is_empty() {
                    "a verb"
                } else {
                    "allowed inside a verb"
                };
                return Err(format!("<{name}> is not {place} a twiml route may use"));
            }
            for attr in e.attributes() {
                let attr = attr.map_err(|e| format!("<{name}>: bad attribute: {e}"))?;
                let value = attr
                    .unescape_value()
                    .map_err(|e| format!("<{name}>: bad attribute value: {e}"))?;
                check_xml_chars(&value).map_err(|e| format!("<{name}>: attribute value: {e}"))?;
            }
            if !empty {
                stack.push(name);
            }
            continue;
        }
        match event {
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| format!("bad text: {e}"))?;
                check_xml_chars(&text)?;
                if stack.is_empty() && !text.trim().is_empty() {
                    return Err(format!("text outside a verb: `{}`", text.trim()));
                }
            }
            Event::CData(_) | Event::Comment(_) if !stack.is_empty() => {}
            Event::Comment(_) => {}
            Event::Eof => break,
            Event::Decl(_) => return Err("no XML declaration inside a fragment".into()),
            Event::DocType(_) => return Err("DOCTYPE is not allowed".into()),
            Event::PI(_) => return Err("processing instructions are not allowed".into()),
            other => return Err(format!("unexpected {other:?}")),
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("<{open}> is not closed"));
    }
    if verbs == 0 {
        return Err("no TwiML verb (such as <Say> or <Dial>)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;
    use quick_xml::Reader;

    /// The escape as first written, one character at a time: the reference for the fast one.
    fn escape_by_char(s: &str) -> String {
        let mut out = String::new();
        for c in s.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&apos;"),
                '\t' => out.push_str("&#9;"),
                '\n' => out.push_str("&#10;"),
                '\r' => out.push_str("&#13;"),
                c if is_xml_char(c) => out.push(c),
                _ => {}
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn escape_matches_the_character_by_character_reference(s in "\\PC*|[&<>\"'\t\n\r\u{0}-\u{1f}\u{fffe}\u{ffff}\u{fffd}a-z]*") {
            proptest::prop_assert_eq!(escape(&s), escape_by_char(&s));
        }
    }

    #[test]
    fn escape_handles_every_special_case() {
        let s = "a&b<c>d\"e'f\tg\nh\ri\u{1}j\u{fffe}k\u{ffff}l\u{fffd}m\u{10000}";
        assert_eq!(escape(s), escape_by_char(s));
        assert_eq!(
            escape(s),
            "a&amp;b&lt;c&gt;d&quot;e&apos;f&#9;g&#10;h&#13;ijkl\u{fffd}m\u{10000}"
        );
    }

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
                    send_digits: None,
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
                task: None,
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

    #[test]
    fn line_breaks_are_written_as_references() {
        let xml = Response::new()
            .verb(Verb::Say {
                text: "a\r\nb\tc".into(),
                voice: Some("x\ny".into()),
                language: None,
            })
            .to_xml();
        assert!(
            xml.contains(r#"<Say voice="x&#10;y">a&#13;&#10;b&#9;c</Say>"#),
            "{xml}"
        );
    }

    #[test]
    fn relative_urls_are_found() {
        let fragment = r#"<Gather action="/menu" method="POST"><Play>/hold.mp3</Play></Gather><Play>https://x/a.mp3</Play><Redirect>next</Redirect><Dial action="https://x/done"><Number url="whisper">+13175551234</Number></Dial>"#;
        assert_eq!(
            relative_urls(fragment),
            [
                r#"<Gather action="/menu">"#,
                "<Play>/hold.mp3</Play>",
                "<Redirect>next</Redirect>",
                r#"<Number url="whisper">"#,
            ]
        );
        assert!(relative_urls("<Say>Hi</Say><Play>https://x/a.mp3</Play>").is_empty());
    }

    #[test]
    fn fragments_are_checked() {
        for ok in [
            "<Say>Hi</Say>",
            "  <Say voice=\"alice\">Hi &amp; bye</Say>\n<Hangup/>",
            "<Dial timeout=\"10\"><Queue>support</Queue></Dial>",
            "<Say><prosody rate=\"slow\">Hi</prosody></Say><!-- note -->",
            "<Gather input=\"dtmf\"><Say>Press 1</Say></Gather><Redirect>https://x/y</Redirect>",
            // Every noun of Twilio's schema that the first checker did not know.
            "<Connect><Conversation serviceInstanceSid=\"IS0123\"/></Connect>",
            "<Connect><Assistant id=\"aia_asst_1\"/></Connect>",
            "<Connect><AiSession aiConnector=\"x\" aiSessionConfiguration=\"y\"/></Connect>",
            "<Dial><Sim>DE0123456789abcdef0123456789abcdef</Sim></Dial>",
            "<Dial><WhatsApp>+13175551234</WhatsApp></Dial>",
            "<Pay><Prompt for=\"payment-card-number\"><Say>Card number</Say></Prompt></Pay>",
            "<Start><Recording recordingStatusCallback=\"https://x/r\"/></Start>",
        ] {
            assert_eq!(check_fragment(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "no TwiML verb"),
            ("hello", "text outside a verb"),
            ("<Say>Hi", "not closed"),
            ("<Say>Hi</Play>", "not well-formed"),
            (
                "<Response><Say>Hi</Say></Response>",
                "without the enclosing <Response>",
            ),
            ("<Script>x</Script>", "<Script> is not a verb"),
            ("<Dial><Script/></Dial>", "not allowed inside a verb"),
            ("<Say>&nbsp;</Say>", "bad text"),
            ("<!DOCTYPE x [<!ENTITY e \"e\">]><Say>&e;</Say>", "DOCTYPE"),
            ("<?php x ?><Say/>", "processing instructions"),
            ("<Say a=\"1\" a=\"2\">x</Say>", "bad attribute"),
            (
                "<Say>&#x1;</Say>",
                "U+0001 is not a character XML 1.0 allows",
            ),
            ("<Say voice=\"&#xFFFE;\">x</Say>", "U+FFFE"),
        ] {
            let err = check_fragment(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
