//! TwiML parsed into elements, so tests assert structure rather than bytes.

use quick_xml::events::Event;
use quick_xml::Reader;

/// One element: its path from the root (`Response/Dial/Number`), attributes and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub path: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a TwiML document, panicking with the document if it is not well-formed XML with a
/// single `<Response>` root preceded by the XML declaration.
pub fn parse(xml: &str) -> Vec<Element> {
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
        "no XML declaration first: {xml}"
    );
    let mut reader = Reader::from_str(xml);
    let mut out: Vec<Element> = Vec::new();
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut roots = 0;
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("malformed TwiML ({e}): {xml}"));
        match &event {
            Event::Start(e) | Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if stack.is_empty() {
                    roots += 1;
                    assert_eq!(name, "Response", "root must be <Response>: {xml}");
                }
                let attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap_or_else(|e| panic!("bad attribute ({e}): {xml}"));
                        (
                            String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                            a.unescape_value()
                                .expect("attribute unescapes")
                                .into_owned(),
                        )
                    })
                    .collect();
                let mut path: Vec<&str> = stack.iter().map(|(n, _)| n.as_str()).collect();
                path.push(&name);
                out.push(Element {
                    path: path.join("/"),
                    attrs,
                    text: String::new(),
                });
                if matches!(event, Event::Start(_)) {
                    stack.push((name, out.len() - 1));
                }
            }
            Event::Text(t) => {
                let text = t.unescape().expect("text unescapes").into_owned();
                if let Some((_, index)) = stack.last() {
                    out[*index].text.push_str(&text);
                } else {
                    assert!(text.trim().is_empty(), "text outside <Response>: {xml}");
                }
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(stack.is_empty(), "unclosed elements: {xml}");
    assert_eq!(roots, 1, "exactly one root element: {xml}");
    out
}

/// The element at `path`, panicking if absent.
pub fn find<'a>(elements: &'a [Element], path: &str) -> &'a Element {
    elements
        .iter()
        .find(|e| e.path == path)
        .unwrap_or_else(|| panic!("no <{path}> in {elements:?}"))
}

/// Whether any element has this path.
pub fn has(elements: &[Element], path: &str) -> bool {
    elements.iter().any(|e| e.path == path)
}
