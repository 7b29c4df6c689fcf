//! `byoc serve`'s and the CLI's log format: text lines whose request values are quoted.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::FormatFields;

/// Field formatting for the text logs (`byoc serve`): values that come from a request (a
/// refusal reason quoting `TIMEOUT`, a `CallSid`) are written quoted and escaped, so a line
/// break or a ` key=value` inside one cannot forge a log line or a field. Plain tokens
/// (numbers, outcomes) stay bare for readability. String fields are written straight from the
/// event, with no copy.
pub fn text_fields() -> TextFields {
    TextFields
}

pub struct TextFields;

impl<'w> FormatFields<'w> for TextFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = TextVisitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct TextVisitor<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl TextVisitor<'_> {
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        let separator = if std::mem::take(&mut self.first) {
            ""
        } else {
            " "
        };
        self.result = (|| {
            self.writer.write_str(separator)?;
            if field.name() != "message" {
                self.writer.write_str(field.name())?;
                self.writer.write_char('=')?;
            }
            value(&mut self.writer)
        })();
    }
}

impl Visit for TextVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.field(field, |w| write_escaped(w, value));
        } else {
            // `{:?}` of a `&str`: quoted, every quote, backslash and control character escaped.
            // Most values (SIDs, numbers, outcomes) need no escape: written in one piece.
            if value
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' || b == b' ')
            {
                self.field(field, |w| {
                    w.write_char('"')?;
                    w.write_str(value)?;
                    w.write_char('"')
                });
            } else {
                self.field(field, |w| write!(w, "{value:?}"));
            }
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |w| write!(w, "{value}"));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |w| write!(w, "{value}"));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |w| write!(w, "{value}"));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.field(field, |w| write_escaped(w, &text));
        } else if is_bare(&text) || is_debug_str(&text) {
            self.field(field, |w| w.write_str(&text));
        } else {
            self.field(field, |w| write!(w, "{text:?}"));
        }
    }
}

pub(super) fn is_bare(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:+-/,@*".contains(&b))
}

/// A `&str` field as `{:?}` writes it: quoted, with every quote, backslash and control
/// character escaped.
pub(super) fn is_debug_str(text: &str) -> bool {
    let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
        return false;
    };
    let mut escaped = false;
    for c in inner.chars() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => return false,
            (false, c) if c.is_control() => return false,
            _ => {}
        }
    }
    !escaped
}

fn write_escaped(writer: &mut impl fmt::Write, text: &str) -> fmt::Result {
    if !text.chars().any(char::is_control) {
        return writer.write_str(text);
    }
    for c in text.chars() {
        if c.is_control() {
            write!(writer, "{}", c.escape_default())?;
        } else {
            writer.write_char(c)?;
        }
    }
    Ok(())
}
