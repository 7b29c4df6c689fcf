//! Reading and writing route sets in the formats people bring: the JSON route file, CSV, and the
//! config file of Twilio's flex-inbound-sip-router; and the diff an import would apply.
//!
//! Every row is validated before anything is written, and every bad row is reported with its line
//! number, so one run shows everything to fix.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::number::NumberPlan;
use crate::route::{Route, RouteRecord};

/// An input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{"routes": [ {flat route}, … ]}`
    Json,
    /// Header row `pattern,action,…` then one route per row.
    Csv,
    /// flex-inbound-sip-router: `{"routes":[{"address","comment","type","destination"}],
    /// "default":{"type","destination"}}` (its `config.private.json`), or its `admin/list`
    /// response, which holds the same object under `data` (the live configuration).
    Flex,
}

/// A format name that is not one of ours, or a format routes cannot be written in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("format `{given}`: expected {expected}")]
    Unknown {
        given: String,
        expected: &'static str,
    },
    #[error("routes cannot be exported in the {} format: export json or csv", .0.name())]
    NotWritable(Format),
}

impl Format {
    /// Every format, in the order help texts list them.
    pub const ALL: [Format; 3] = [Format::Json, Format::Csv, Format::Flex];
    /// The names an import takes (`auto` detects the format).
    pub const IMPORT_NAMES: [&'static str; 4] = ["auto", "json", "csv", "flex"];
    /// The names an export takes.
    pub const EXPORT_NAMES: [&'static str; 2] = ["json", "csv"];

    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Flex => "flex",
        }
    }

    /// The format named `name` (any case).
    pub fn named(name: &str) -> Option<Format> {
        let name = name.trim();
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// The format an import reads: the one named, else (`auto`, blank, nothing) the one
    /// [`Format::detect`] sees in the file name and text.
    pub fn for_import(
        name: Option<&str>,
        file_name: &str,
        text: &str,
    ) -> Result<Format, FormatError> {
        match name.map(str::trim) {
            None | Some("") => Ok(Format::detect(file_name, text)),
            Some(n) if n.eq_ignore_ascii_case("auto") => Ok(Format::detect(file_name, text)),
            Some(n) => Format::named(n).ok_or_else(|| FormatError::Unknown {
                given: n.to_string(),
                expected: "auto, json, csv or flex",
            }),
        }
    }

    /// The format an export writes (json or csv).
    pub fn for_export(name: &str) -> Result<Format, FormatError> {
        match Format::named(name) {
            Some(Format::Flex) => Err(FormatError::NotWritable(Format::Flex)),
            Some(format) => Ok(format),
            None => Err(FormatError::Unknown {
                given: name.trim().to_string(),
                expected: "json or csv",
            }),
        }
    }

    /// Routes written in this format: what an import reads back.
    pub fn write(self, routes: &[Arc<Route>]) -> Result<String, FormatError> {
        match self {
            Format::Json => Ok(crate::route_file::to_route_file(routes)),
            Format::Csv => Ok(to_csv(routes)),
            Format::Flex => Err(FormatError::NotWritable(self)),
        }
    }

    /// The media type of a file in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json | Format::Flex => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    /// Guesses the format from the file name and content.
    pub fn detect(file_name: &str, text: &str) -> Format {
        if file_name.to_ascii_lowercase().ends_with(".csv") {
            return Format::Csv;
        }
        let trimmed = text.trim_start();
        // A `.json` file, or text that opens an array, is JSON even when it is not an object:
        // the JSON reader then says what it expected, where CSV would read nonsense.
        if (trimmed.starts_with('[') || file_name.to_ascii_lowercase().ends_with(".json"))
            && !trimmed.starts_with('{')
        {
            return Format::Json;
        }
        if !trimmed.starts_with('{') {
            return Format::Csv;
        }
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) => {
                let v = if v["data"].is_object() {
                    &v["data"]
                } else {
                    &v
                };
                let first = &v["routes"][0];
                if v.get("default").is_some()
                    || first.get("address").is_some()
                    || first.get("destination").is_some()
                {
                    Format::Flex
                } else {
                    Format::Json
                }
            }
            Err(_) => Format::Json,
        }
    }
}

/// The CSV columns, in the order `export` writes them.
pub const CSV_COLUMNS: [&str; 27] = crate::route::RECORD_COLUMNS;

/// Metadata columns a CSV export from another tool may carry; read and ignored.
const CSV_METADATA_COLUMNS: [&str; 3] = ["version", "updated_at", "updated_by"];

/// One bad row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line in the input.
    pub line: usize,
    pub message: String,
}

/// Every bad row of an input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ImportError {
    pub errors: Vec<RowError>,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} invalid row(s); nothing was written:",
            self.errors.len()
        )?;
        for e in &self.errors {
            write!(f, "\n  line {}: {}", e.line, e.message)?;
        }
        Ok(())
    }
}

fn row_error(line: usize, message: impl Into<String>) -> ImportError {
    ImportError {
        errors: vec![RowError {
            line,
            message: message.into(),
        }],
    }
}

/// Warnings about routes that are valid but will not work as their authors expect: a pattern
/// of digits read as a literal address, not a number of the home country (an import with the
/// wrong `DEFAULT_COUNTRY_CODE`: `01612345678` under `+1`), and relative URLs inside `twiml`
/// routes (Twilio resolves them against the router's own webhook). Shown by the import, never
/// refusing it.
pub fn warnings(routes: &[Route], plan: &NumberPlan) -> Vec<String> {
    let literals = routes.iter().filter_map(|route| {
        let key = route.key();
        let digits = key.split('@').next().unwrap_or("");
        (digits.len() >= crate::number::NATIONAL_MIN_DIGITS
            && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| {
            format!(
                "route `{key}` is a literal address, not a number: its digits are not a number as dialled in the home country {} (DEFAULT_COUNTRY_CODE); a carrier's `To` will not match it unless it sends exactly these characters",
                plan.describe()
            )
        })
    });
    let relative = routes
        .iter()
        .filter_map(|route| match &route.action {
            crate::Action::Twiml { twiml } => Some((route.key(), twiml)),
            _ => None,
        })
        .flat_map(|(key, twiml)| {
            crate::twiml::relative_urls(twiml).into_iter().map(move |u| {
                format!("route `{key}`: relative URL in {u}: Twilio resolves it against the router's webhook, where it does not exist; write it in full (https://…)")
            })
        });
    literals.chain(relative).collect()
}

/// Parses and validates `text`; all rows must be valid and patterns unique.
pub fn parse(text: &str, format: Format, plan: &NumberPlan) -> Result<Vec<Route>, ImportError> {
    let mut routes = Vec::new();
    parse_each(text, format, plan, &mut |route| routes.push(route))?;
    Ok(routes)
}

/// [`parse`], handing each valid route to `each` as its row is read: no row is held beyond
/// its route (an import of a million routes may keep them in a smaller form). Nothing is
/// handed over when the text cannot be read at all; when some rows are bad, the routes of
/// the good ones may have been handed over before the error comes back.
pub fn parse_each(
    text: &str,
    format: Format,
    plan: &NumberPlan,
    each: &mut dyn FnMut(Route),
) -> Result<(), ImportError> {
    let mut errors = Vec::new();
    let mut seen = SeenKeys::default();
    let mut row = |line: usize, row: Result<RouteRecord, String>| {
        // Duplicates are found even among invalid rows: by canonical key when the route is
        // valid, else by the pattern as written.
        let raw_pattern = row.as_ref().ok().map(|r| r.pattern.trim().to_string());
        let result = row.and_then(|r| Route::from_record(r, plan).map_err(|e| e.to_string()));
        let key = match &result {
            Ok(route) => Some(route.key()),
            Err(_) => raw_pattern,
        };
        if let Some(key) = key.filter(|k| !k.is_empty()) {
            if let Some(first) = seen.first(key.as_str(), line) {
                errors.push(RowError {
                    line,
                    message: format!("route `{key}`: duplicate of line {first}"),
                });
                return;
            }
        }
        match result {
            // Once a row is bad the import is refused: the rest are only checked.
            Ok(route) if errors.is_empty() => each(route),
            Ok(_) => {}
            Err(message) => errors.push(RowError { line, message }),
        }
    };
    match format {
        Format::Json => json_rows(text, &mut row)?,
        Format::Csv => csv_rows(text, &mut row)?,
        Format::Flex => flex_rows(text, plan, &mut row)?,
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ImportError { errors })
    }
}

/// The keys an import has read, with the line of each: a number key (`+` and up to 15
/// digits, maybe `*`: nearly every key) is packed into a `u64`, the rest kept as text, so a
/// million keys take tens of megabytes, not a hundred.
#[derive(Default)]
struct SeenKeys {
    numbers: HashMap<u64, usize>,
    others: HashMap<String, usize>,
}

impl SeenKeys {
    /// The line `key` was first read on, if it was; else records it as read on `line`.
    fn first(&mut self, key: &str, line: usize) -> Option<usize> {
        // Rows can share a line (a JSON file on one line): whether the key was there is what
        // counts, not the line.
        fn note<K: std::hash::Hash + Eq>(
            map: &mut HashMap<K, usize>,
            key: K,
            line: usize,
        ) -> Option<usize> {
            match map.entry(key) {
                std::collections::hash_map::Entry::Occupied(first) => Some(*first.get()),
                std::collections::hash_map::Entry::Vacant(free) => {
                    free.insert(line);
                    None
                }
            }
        }
        match Self::packed(key) {
            Some(n) => note(&mut self.numbers, n, line),
            None => note(&mut self.others, key.to_string(), line),
        }
    }

    /// `+digits` or `+digits*` as the digits' value, their count (leading zeros count) and
    /// the star: one number per key, and no two keys share one.
    fn packed(key: &str) -> Option<u64> {
        let digits = key.strip_prefix('+')?;
        let (digits, star) = match digits.strip_suffix('*') {
            Some(d) => (d, 1u64),
            None => (digits, 0),
        };
        if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let value = digits.parse::<u64>().ok()?;
        Some(value | (digits.len() as u64) << 50 | star << 55)
    }
}

/// Where the row readers hand each row: its line and its record, or why it cannot be read.
type RowSink<'s> = dyn FnMut(usize, Result<RouteRecord, String>) + 's;

/// Line numbers of the raw values of one text, which mostly come in order: each call counts
/// only the newlines since the previous value (counting from the start each time made a
/// 10,000-route import take minutes).
struct LineCounter<'a> {
    text: &'a str,
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            offset: 0,
            line: 1,
        }
    }

    fn line_of(&mut self, raw: &RawValue) -> usize {
        let offset = (raw.get().as_ptr() as usize).saturating_sub(self.text.as_ptr() as usize);
        if offset < self.offset {
            // Out of order (a Flex `default` written before its `routes`): count from the start.
            self.offset = 0;
            self.line = 1;
        }
        if let Some(between) = self.text.get(self.offset..offset) {
            self.line += between.bytes().filter(|b| *b == b'\n').count();
            self.offset = offset;
        }
        self.line
    }
}

/// A serde_json error's message without its own `at line L column C`, for errors that give
/// the position once, as the row's line.
fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The line in `outer` of line `line` of `inner`, a slice of it.
fn line_in(outer: &str, inner: &str, line: usize) -> usize {
    let before = (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize);
    outer
        .get(..before)
        .map_or(0, |b| b.bytes().filter(|c| *c == b'\n').count())
        + line.max(1)
}

fn syntax(e: serde_json::Error) -> ImportError {
    row_error(e.line().max(1), format!("not valid here: {e}"))
}

fn json_rows(text: &str, row: &mut RowSink) -> Result<(), ImportError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File<'a> {
        #[serde(borrow)]
        routes: Vec<&'a RawValue>,
    }
    if !text.trim_start().starts_with('{') {
        return Err(row_error(
            1,
            r#"a route file is a JSON object {"routes": [{"pattern": …}, …]}, not this"#,
        ));
    }
    let file: File = serde_json::from_str(text).map_err(syntax)?;
    let mut lines = LineCounter::new(text);
    for raw in file.routes {
        let line = lines.line_of(raw);
        row(
            line,
            crate::route::record_from_json(raw.get()).map_err(|e| e.to_string()),
        );
    }
    Ok(())
}

/// Cells a spreadsheet would evaluate as a formula start with one of these (OWASP's list for
/// CSV injection).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether a spreadsheet would read `cell` as a formula, looking past the `'`s that neutralise
/// one. `+` and digits (a number or a pattern such as `+1317*`) is not a formula.
fn formula_like(cell: &str) -> bool {
    let rest = cell.trim_start_matches('\'');
    if !rest.starts_with(FORMULA_STARTS) {
        return false;
    }
    let plain_number = rest.strip_prefix('+').is_some_and(|digits| {
        let digits = digits.strip_suffix('*').unwrap_or(digits);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    });
    !plain_number
}

/// A cell as `export` writes it: one more leading `'` on a formula-like cell, so a
/// spreadsheet shows `=HYPERLINK(…)` as text instead of running it. [`csv_cell_in`] takes it
/// off again, so the round trip is exact (a cell that really begins with `'=` gets `''=`).
pub fn csv_cell_out(cell: &str) -> std::borrow::Cow<'_, str> {
    if formula_like(cell) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// The inverse of [`csv_cell_out`].
pub fn csv_cell_in(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if formula_like(cell) => rest,
        _ => cell,
    }
}

/// [`decode_text`], taking the bytes: UTF-8 becomes the text in place, not a copy (an
/// import of a million routes holds its file once).
pub fn decode_text_owned(mut bytes: Vec<u8>) -> Result<String, String> {
    let bom = bytes.starts_with(&[0xEF, 0xBB, 0xBF]);
    let plain = !bytes.contains(&0)
        && !bytes.starts_with(&[0xFF, 0xFE])
        && !bytes.starts_with(&[0xFE, 0xFF]);
    if !bom && !plain {
        return decode_text(&bytes);
    }
    if bom {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        let e = e.utf8_error();
        if bom {
            format!("not UTF-8 text: {e}")
        } else {
            format!("not UTF-8 text ({e}); save it as UTF-8 (\"CSV UTF-8\" in a spreadsheet)")
        }
    })
}

/// The text of an import file: UTF-8 (a byte-order mark is dropped) or UTF-16 with a
/// byte-order mark (what "Unicode text" in a spreadsheet saves), else a clear refusal.
pub fn decode_text(bytes: &[u8]) -> Result<String, String> {
    let utf16 = |little: bool, body: &[u8]| -> Result<String, String> {
        if !body.len().is_multiple_of(2) {
            return Err("the file is UTF-16 with an odd number of bytes: it is cut short".into());
        }
        let units = body.chunks_exact(2).map(|c| {
            if little {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|_| "the file is UTF-16 but holds an invalid character".to_string())
    };
    match bytes {
        [0xFF, 0xFE, 0, 0, ..] | [0, 0, 0xFE, 0xFF, ..] => {
            Err("the file is UTF-32: save it as UTF-8 (\"CSV UTF-8\" in a spreadsheet)".into())
        }
        [0xEF, 0xBB, 0xBF, rest @ ..] => std::str::from_utf8(rest)
            .map(str::to_string)
            .map_err(|e| format!("not UTF-8 text: {e}")),
        [0xFF, 0xFE, rest @ ..] => utf16(true, rest),
        [0xFE, 0xFF, rest @ ..] => utf16(false, rest),
        // NUL bytes first: UTF-16 (or UTF-32) without a byte-order mark, whatever else it holds.
        _ if bytes.contains(&0) => Err(
            "the file has NUL bytes: it looks like UTF-16 or UTF-32 without a byte-order mark; save it as UTF-8 (\"CSV UTF-8\" in a spreadsheet)".into(),
        ),
        _ => std::str::from_utf8(bytes).map(str::to_string).map_err(|e| {
            format!("not UTF-8 text ({e}); save it as UTF-8 (\"CSV UTF-8\" in a spreadsheet)")
        }),
    }
}

fn csv_rows(text: &str, row: &mut RowSink) -> Result<(), ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    // Header names in any case (`Pattern,Action,URL` from a spreadsheet).
    let headers: csv::StringRecord = reader
        .headers()
        .map_err(|e| row_error(1, format!("cannot read the header row: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_ascii_lowercase())
        .collect();
    let unknown: Vec<&str> = headers
        .iter()
        .filter(|h| !CSV_COLUMNS.contains(h) && !CSV_METADATA_COLUMNS.contains(h))
        .collect();
    if !unknown.is_empty() {
        return Err(row_error(
            1,
            format!(
                "unknown column(s) {}; expected some of: {}",
                unknown.join(", "),
                CSV_COLUMNS.join(",")
            ),
        ));
    }
    if !headers.iter().any(|h| h == "pattern") {
        return Err(row_error(1, "the header row has no `pattern` column"));
    }
    // Lines from byte offsets: the csv crate's own line count is one short per row under
    // CRLF line endings (Excel, Windows) and counts skipped blank lines oddly. Offsets only
    // grow, so newlines are counted once.
    let (mut counted_to, mut counted_lines) = (0usize, 1usize);
    let mut line_at = |byte: u64| -> usize {
        let mut byte = (byte as usize).min(text.len());
        // A record's position can be the start of blank lines the reader skipped before it.
        while matches!(text.as_bytes().get(byte), Some(b'\r' | b'\n')) {
            byte += 1;
        }
        if byte >= counted_to {
            counted_lines += text.as_bytes()[counted_to..byte]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            counted_to = byte;
        }
        counted_lines
    };
    for result in reader.records() {
        match result {
            Ok(record) => {
                let line = record.position().map_or(0, |p| line_at(p.byte()));
                let record: csv::StringRecord = record.iter().map(csv_cell_in).collect();
                let parsed = record
                    .deserialize::<RouteRecord>(Some(&headers))
                    .map_err(|e| {
                        let pattern = headers
                            .iter()
                            .position(|h| h == "pattern")
                            .and_then(|i| record.get(i))
                            .unwrap_or("");
                        // The column and what is wrong, without the csv crate's framing.
                        let csv::ErrorKind::Deserialize { err, .. } = e.kind() else {
                            return format!("route `{pattern}`: {e}");
                        };
                        let what = err.kind().to_string();
                        match err.field().and_then(|i| headers.get(i as usize)) {
                            Some(column) if !what.starts_with('`') => {
                                format!("route `{pattern}`: `{column}`: {what}")
                            }
                            _ => format!("route `{pattern}`: {what}"),
                        }
                    });
                row(line, parsed);
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| line_at(p.byte()));
                row(line, Err(format!("unreadable row: {e}")));
            }
        }
    }
    Ok(())
}

/// What a flex-inbound-sip-router configuration looks like, for the error that refuses
/// anything else.
const FLEX_EXPECTED: &str = r#"a flex-inbound-sip-router configuration: {"routes": [{"address", "type", "destination", "comment"}, …], "default": {"type", "destination"}} (config.private.json), or the admin/list response that holds it under "data""#;

fn flex_rows(text: &str, plan: &NumberPlan, sink: &mut RowSink) -> Result<(), ImportError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File<'a> {
        #[serde(borrow, default)]
        routes: Option<Vec<&'a RawValue>>,
        #[serde(borrow, default)]
        default: Option<&'a RawValue>,
    }
    /// FSR's `admin/list` answer: the configuration under `data`, beside fields such as the
    /// asset `version` that say nothing about routes.
    #[derive(Deserialize)]
    struct Listed<'a> {
        #[serde(borrow)]
        data: &'a RawValue,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Entry {
        #[serde(default)]
        address: Option<String>,
        #[serde(default)]
        comment: Option<String>,
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        destination: Option<String>,
    }
    let inner = match serde_json::from_str::<Listed>(text) {
        Ok(listed) => listed.data.get(),
        Err(_) => text,
    };
    let file: File = serde_json::from_str(inner).map_err(|e| {
        if e.is_data() {
            // The same position the other errors give: the line of the text, then the reason.
            row_error(
                line_in(text, inner, e.line()),
                format!("not {FLEX_EXPECTED}: {}", strip_position(&e)),
            )
        } else {
            syntax(e)
        }
    })?;
    if file.routes.is_none() && file.default.is_none() {
        return Err(row_error(1, format!("not {FLEX_EXPECTED}: it has neither")));
    }
    let entries = file
        .routes
        .unwrap_or_default()
        .into_iter()
        .map(|raw| (raw, false))
        .chain(file.default.map(|raw| (raw, true)));
    let mut lines = LineCounter::new(text);
    let mut written: HashMap<String, (usize, String)> = HashMap::new();
    for (raw, is_default) in entries {
        let line = lines.line_of(raw);
        let row = serde_json::from_str::<Entry>(raw.get())
            .map_err(|e| strip_position(&e))
            .and_then(|entry| {
                let pattern = if is_default {
                    "*".to_string()
                } else {
                    let address = entry
                        .address
                        .as_deref()
                        .ok_or("a route needs an `address`")?;
                    let key = plan
                        .normalize(address)
                        .map_err(|e| format!("address `{address}`: {e}"))?
                        .to_string();
                    // FSR compared addresses as strings; here they are numbers, so two rows
                    // written differently can be one route: say so.
                    match written.get(&key) {
                        Some((first, first_address)) if first_address != address.trim() => {
                            return Err(format!(
                                "route `{key}`: duplicate of line {first} (`{first_address}` and `{}` are the same number once normalized)",
                                address.trim()
                            ));
                        }
                        Some(_) => {}
                        None => {
                            written.insert(key.clone(), (line, address.trim().to_string()));
                        }
                    }
                    key
                };
                let destination = entry.destination.clone().unwrap_or_default();
                let mut record = RouteRecord {
                    pattern: pattern.clone(),
                    description: entry.comment.clone(),
                    ..RouteRecord::default()
                };
                match entry.kind.as_str() {
                    "webhook" => {
                        record.action = Some("redirect".into());
                        record.url = Some(destination);
                    }
                    "dial-sip" => {
                        record.action = Some("sip".into());
                        record.uri = Some(destination);
                    }
                    "say" => {
                        record.action = Some("say".into());
                        record.text = Some(destination);
                    }
                    "dial-client" => {
                        record.action = Some("client".into());
                        record.identity = Some(destination);
                    }
                    "dial-application" => {
                        record.action = Some("application".into());
                        record.application = Some(destination);
                    }
                    "play" => {
                        record.action = Some("play".into());
                        record.url = Some(destination);
                    }
                    "refer" => {
                        record.action = Some("refer".into());
                        record.uri = Some(destination);
                    }
                    "twiml" => {
                        record.action = Some("twiml".into());
                        record.twiml = Some(destination);
                    }
                    other => return Err(format!("route `{pattern}`: unknown type `{other}`")),
                }
                Ok(record)
            });
        sink(line, row);
    }
    Ok(())
}

/// What an import would change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub added: Vec<Route>,
    /// (current, new)
    pub changed: Vec<(Route, Route)>,
    /// Present in the store, absent from the input.
    pub absent: Vec<Route>,
    pub unchanged: usize,
}

/// Routes as CSV with the [`CSV_COLUMNS`] header.
pub fn to_csv(routes: &[Arc<Route>]) -> String {
    let mut writer = CsvRoutes::new(Vec::new());
    for route in routes {
        // Writing to a Vec cannot fail.
        writer.push(&route.to_record()).expect("write to memory");
    }
    String::from_utf8(writer.finish().expect("flush to memory")).expect("CSV of UTF-8 is UTF-8")
}

/// Writes routes as CSV one at a time (what [`to_csv`] writes, without holding them all): the
/// header first, then a row per [`CsvRoutes::push`].
pub struct CsvRoutes<W: std::io::Write> {
    writer: csv::Writer<W>,
    header: bool,
}

impl<W: std::io::Write> CsvRoutes<W> {
    pub fn new(out: W) -> Self {
        Self {
            writer: csv::Writer::from_writer(out),
            header: false,
        }
    }

    pub fn push(&mut self, r: &RouteRecord) -> std::io::Result<()> {
        if !self.header {
            self.writer.write_record(CSV_COLUMNS)?;
            self.header = true;
        }
        let timeout = r.timeout.map(|t| t.to_string());
        let cells: [Option<&str>; 27] = [
            Some(r.pattern.as_str()),
            r.action.as_deref(),
            r.url.as_deref(),
            r.method.as_deref(),
            r.number.as_deref(),
            r.byoc.as_deref(),
            r.caller_id.as_deref(),
            timeout.as_deref(),
            r.uri.as_deref(),
            r.text.as_deref(),
            r.voice.as_deref(),
            r.language.as_deref(),
            r.reason.as_deref(),
            r.identity.as_deref(),
            r.application.as_deref(),
            r.parameters.as_deref(),
            r.workflow.as_deref(),
            r.task_attributes.as_deref(),
            r.name.as_deref(),
            r.twiml.as_deref(),
            r.schedule.as_deref(),
            r.targets.as_deref(),
            r.final_action.as_deref(),
            r.shares.as_deref(),
            r.callers.as_deref(),
            r.scope.as_deref(),
            r.description.as_deref(),
        ];
        self.writer
            .write_record(cells.iter().map(|c| {
                let cell = csv_cell_out(c.unwrap_or(""));
                cell.as_bytes().to_vec()
            }))
            .map_err(std::io::Error::other)
    }

    /// Flushes, and gives the output back (the header alone when no route was pushed).
    pub fn finish(mut self) -> std::io::Result<W> {
        if !self.header {
            self.writer.write_record(CSV_COLUMNS)?;
        }
        self.writer
            .into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route_file::to_route_file;

    fn plan() -> NumberPlan {
        NumberPlan::default()
    }

    #[test]
    fn formats_are_detected() {
        assert_eq!(Format::detect("r.csv", "pattern,action\n"), Format::Csv);
        assert_eq!(
            Format::detect("r.json", r#"{"routes":[{"pattern":"*"}]}"#),
            Format::Json
        );
        assert_eq!(
            Format::detect(
                "c.json",
                r#"{"routes":[{"address":"+1","type":"webhook"}]}"#
            ),
            Format::Flex
        );
        assert_eq!(
            Format::detect("c.json", r#"{"routes":[],"default":{}}"#),
            Format::Flex
        );
        assert_eq!(Format::detect("r.txt", "pattern,url\n"), Format::Csv);
    }

    #[test]
    fn formats_are_chosen_by_name_or_detected() {
        let csv = "pattern,url\n";
        assert_eq!(Format::for_import(None, "r.txt", csv), Ok(Format::Csv));
        assert_eq!(
            Format::for_import(Some(" AUTO "), "r.txt", csv),
            Ok(Format::Csv)
        );
        assert_eq!(Format::for_import(Some(""), "r.txt", csv), Ok(Format::Csv));
        assert_eq!(
            Format::for_import(Some("Flex"), "r.txt", csv),
            Ok(Format::Flex)
        );
        let unknown = Format::for_import(Some("xml"), "r.xml", "").unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "format `xml`: expected auto, json, csv or flex"
        );
        assert_eq!(Format::for_export("CSV"), Ok(Format::Csv));
        assert_eq!(
            Format::for_export("flex"),
            Err(FormatError::NotWritable(Format::Flex))
        );
        assert!(Format::for_export("auto").is_err());
        // What an export writes, the import of that name reads back.
        let routes: Vec<Arc<Route>> = parse(
            r#"{"routes":[{"pattern":"+13175551234","url":"https://example.com/a"},{"pattern":"*","action":"reject"}]}"#,
            Format::Json,
            &plan(),
        )
        .unwrap()
        .into_iter()
        .map(Arc::new)
        .collect();
        for name in Format::EXPORT_NAMES {
            let format = Format::for_export(name).unwrap();
            let text = format.write(&routes).unwrap();
            let back = parse(
                &text,
                Format::for_import(None, &format!("r.{name}"), &text).unwrap(),
                &plan(),
            )
            .unwrap();
            assert_eq!(back.len(), 2, "{name}");
            assert_eq!(*routes[0], back[0], "{name}");
        }
    }

    #[test]
    fn flex_lines_are_right_when_the_default_comes_first() {
        let text = "{\n\"default\": {},\n\"routes\": [\n{\"address\": \"+13175551234\"}\n]}";
        let err = parse(text, Format::Flex, &plan()).unwrap_err();
        let lines: Vec<usize> = err.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![4, 2], "{err}");
    }

    #[test]
    fn json_errors_carry_line_numbers_and_all_rows_are_checked() {
        let text = "{\"routes\": [\n  {\"pattern\": \"*\", \"url\": \"https://x/\"},\n  {\"pattern\": \"+1317*\", \"url\": \"bad\"},\n  {\"pattern\": \"+1\", \"urll\": \"x\"},\n  {\"pattern\": \"*\", \"action\": \"hangup\"}\n]}";
        let err = parse(text, Format::Json, &plan()).unwrap_err();
        let lines: Vec<usize> = err.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5], "{err}");
        assert!(
            err.errors[1].message.contains("unknown field `urll`"),
            "{err}"
        );
        assert!(
            err.errors[2].message.contains("duplicate of line 2"),
            "{err}"
        );
        assert!(err
            .to_string()
            .starts_with("3 invalid row(s); nothing was written:"));
    }

    #[test]
    fn csv_reads_sparse_columns_and_reports_lines() {
        let text = "pattern,action,url,number,timeout,description\n*,redirect,https://x/,,,\n+1317*,dial,,+13175550000,20,Indy\n+1212*,dial,,3175550000,,\n";
        let err = parse(text, Format::Csv, &plan()).unwrap_err();
        assert_eq!(err.errors.len(), 1);
        assert_eq!(err.errors[0].line, 4);
        assert!(err.errors[0].message.contains("+13175550000"), "{err}");
        let ok = "pattern,url\n*,https://x/?a=1&b=2\n";
        let routes = parse(ok, Format::Csv, &plan()).unwrap();
        assert_eq!(routes.len(), 1);
        let err = parse("pattern,color\n*,red\n", Format::Csv, &plan()).unwrap_err();
        assert!(err.errors[0].message.contains("unknown column(s) color"));
        let err = parse("action,url\nredirect,https://x/\n", Format::Csv, &plan()).unwrap_err();
        assert!(err.errors[0].message.contains("no `pattern` column"));
    }

    #[test]
    fn csv_line_numbers_are_right_with_crlf_line_endings() {
        for eol in ["\n", "\r\n"] {
            let text = [
                "pattern,url",
                "+13175551234,https://x/a",
                "",
                "+13175551235,nope",
                "+13175551236,\"https://x/\nb\"",
                "+13175551237,nope",
                "",
            ]
            .join(eol);
            let err = parse(&text, Format::Csv, &plan()).unwrap_err();
            let lines: Vec<usize> = err.errors.iter().map(|e| e.line).collect();
            assert_eq!(lines, [4, 5, 7], "{eol:?}: {err}");
        }
    }

    #[test]
    fn only_a_flex_configuration_is_read_as_one() {
        // FSR's admin/list answer: the live configuration under `data`.
        let listed = r#"{"data": {"routes": [
  {"address": "+13175551234", "type": "webhook", "destination": "https://x/main"}
], "default": {"type": "say", "destination": "Closed"}}, "version": "ZN0123456789abcdef0123456789abcdef", "success": true}"#;
        assert_eq!(Format::detect("list.json", listed), Format::Flex);
        let routes = parse(listed, Format::Flex, &plan()).unwrap();
        assert_eq!(routes.len(), 2);
        // Line numbers are the answer's own, wherever `data` starts.
        let pretty = "{\n  \"success\": true,\n  \"data\": {\n    \"routes\": [\n      {\"address\": \"+13175551234\", \"type\": \"fax\"}\n    ]\n  }\n}";
        let err = parse(pretty, Format::Flex, &plan()).unwrap_err();
        assert_eq!(err.errors[0].line, 5, "{err}");
        // Any other object is refused, naming what was expected: nothing is read as "no routes".
        for text in [
            r#"{"rutes": [{"address": "+13175551234", "type": "webhook", "destination": "https://x"}]}"#,
            r#"{}"#,
            r#"{"data": {"items": []}}"#,
            r#"{"routes": [], "default": {"type": "say", "destination": "x"}, "extra": 1}"#,
        ] {
            let err = parse(text, Format::Flex, &plan()).unwrap_err();
            let message = &err.errors[0].message;
            assert!(
                message.contains("not a flex-inbound-sip-router configuration"),
                "{text}: {message}"
            );
        }
        // Unknown fields of a route are named, with one position: the row's line.
        let text = "{\"routes\": [\n  {\"address\": \"+13175551234\", \"type\": \"webhook\", \"destination\": \"https://x\", \"enabled\": false}\n]}";
        let err = parse(text, Format::Flex, &plan()).unwrap_err();
        assert_eq!(err.errors[0].line, 2);
        assert!(err.errors[0].message.contains("unknown field `enabled`"));
        assert!(!err.errors[0].message.contains("column"), "{err}");
        // Two addresses that are one number say so.
        let text = r#"{"routes": [
  {"address": "3175551249", "type": "webhook", "destination": "https://x/a"},
  {"address": "+13175551249", "type": "webhook", "destination": "https://x/b"}
]}"#;
        let err = parse(text, Format::Flex, &plan()).unwrap_err();
        assert!(
            err.errors[0]
                .message
                .contains("`3175551249` and `+13175551249` are the same number once normalized"),
            "{err}"
        );
        // A `.json` file holding an array is JSON, refused with what a route file is.
        assert_eq!(Format::detect("r.json", "[]"), Format::Json);
        let err = parse("[]", Format::Json, &plan()).unwrap_err();
        assert!(err.errors[0].message.contains("JSON object"), "{err}");
    }

    #[test]
    fn flex_configs_import_with_every_type() {
        let text = r#"{
  "routes": [
    {"address": "+13175551234", "comment": "Main", "type": "webhook", "destination": "https://x/main"},
    {"address": "3175550000", "type": "dial-sip", "destination": "sip:ext@pbx.example.com"},
    {"address": "support", "type": "say", "destination": "Closed"},
    {"address": "+13175550001", "type": "dial-client", "destination": "alice"},
    {"address": "+13175550002", "type": "dial-application", "destination": "AP0123456789abcdef0123456789abcdef"},
    {"address": "+13175550003", "type": "play", "destination": "https://x/hold.mp3"},
    {"address": "+13175550004", "type": "refer", "destination": "sip:desk@pbx.example.com"},
    {"address": "+13175550005", "type": "twiml", "destination": "<Say>Hi</Say><Hangup/>"}
  ],
  "default": {"type": "webhook", "destination": "https://x/default"}
}"#;
        let routes = parse(text, Format::Flex, &plan()).unwrap();
        let got: Vec<(String, &str)> = routes
            .iter()
            .map(|r| (r.pattern.key(), r.action.kind()))
            .collect();
        let want = [
            ("+13175551234", "redirect"),
            ("+13175550000", "sip"),
            ("support", "say"),
            ("+13175550001", "client"),
            ("+13175550002", "application"),
            ("+13175550003", "play"),
            ("+13175550004", "refer"),
            ("+13175550005", "twiml"),
            ("*", "redirect"),
        ];
        let want: Vec<(String, &str)> = want.iter().map(|(p, k)| (p.to_string(), *k)).collect();
        assert_eq!(got, want);
        assert_eq!(routes[0].description.as_deref(), Some("Main"));

        let bad = text
            .replace(r#""type": "play""#, r#""type": "fax""#)
            .replace("<Hangup/>", "<Hangup>");
        let err = parse(&bad, Format::Flex, &plan()).unwrap_err();
        let messages: Vec<(usize, &str)> = err
            .errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(messages[0].0, 8);
        assert!(messages[0].1.contains("unknown type `fax`"));
        assert_eq!(messages[1].0, 10);
        assert!(messages[1].1.contains("`twiml`"), "{}", messages[1].1);
    }

    #[test]
    fn csv_exports_neutralise_formulas_and_read_them_back_exactly() {
        let text = r#"{"routes":[
            {"pattern":"+13175551234","action":"say","text":"=1+2","description":"=HYPERLINK(\"http://evil\",\"x\")"},
            {"pattern":"+13175551235","action":"say","text":"'=already quoted","description":"@SUM(A1)"},
            {"pattern":"+1317555*","action":"say","text":"-minus","description":"+ plus, then text"},
            {"pattern":"*","action":"say","text":"\tTab","description":"''=two quotes"}
        ]}"#;
        let routes: Vec<Arc<Route>> = parse(text, Format::Json, &plan())
            .unwrap()
            .into_iter()
            .map(Arc::new)
            .collect();
        let csv = to_csv(&routes);
        assert!(csv.contains("'=HYPERLINK"), "{csv}");
        assert!(csv.contains("'@SUM(A1)"), "{csv}");
        assert!(csv.contains("''=already quoted"), "{csv}");
        // Numbers and patterns stay as they are.
        assert!(csv.contains("\n+13175551234,"), "{csv}");
        assert!(csv.contains("\n+1317555*,"), "{csv}");
        for line in csv.lines().skip(1) {
            for cell in line.split(',') {
                let cell = cell.trim_start_matches('"');
                assert!(!cell.starts_with(['=', '@', '-', '\t']), "{cell} in {line}");
            }
        }
        let back: Vec<Route> = parse(&csv, Format::Csv, &plan()).unwrap();
        let routes: Vec<Route> = routes.iter().map(|r| (**r).clone()).collect();
        assert_eq!(back, routes);
    }

    #[test]
    fn spreadsheet_habits_are_read_or_refused_clearly() {
        // Header names in any case, a UTF-8 byte-order mark.
        let routes = parse(
            "\u{feff}Pattern,Action,URL\n+13175551234,Redirect,https://example.com/a\n",
            Format::Csv,
            &plan(),
        )
        .unwrap();
        assert_eq!(routes[0].key(), "+13175551234");
        // A number turned into scientific notation.
        let e = parse(
            "pattern,url\n1.31756E+10,https://example.com/a\n",
            Format::Csv,
            &plan(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("scientific notation"), "{e}");
        // UTF-16 is read; NUL bytes without a byte-order mark are refused clearly.
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in "pattern,url\n".encode_utf16() {
            utf16.extend(unit.to_le_bytes());
        }
        assert_eq!(decode_text(&utf16).unwrap(), "pattern,url\n");
        assert!(decode_text(&utf16[2..]).unwrap_err().contains("UTF-16"));
        assert!(decode_text(&[0xC3, 0x28])
            .unwrap_err()
            .contains("not UTF-8"));
        assert_eq!(decode_text(b"\xEF\xBB\xBFabc").unwrap(), "abc");
        assert!(decode_text(b"\xFF\xFE\0\0p\0\0\0")
            .unwrap_err()
            .contains("UTF-32"));
        // NUL bytes are named as such even when the rest is not valid UTF-8.
        assert!(decode_text(b"p\0\xE9\0").unwrap_err().contains("NUL bytes"));
    }

    #[test]
    fn exports_read_back_unchanged() {
        let text = r#"{"routes":[
            {"pattern":"*","url":"https://x/default?a=1&b=2"},
            {"pattern":"+1317*","action":"dial","number":"+13175550000","byoc":"BY0123456789abcdef0123456789abcdef","timeout":20,"description":"Indy, \"the\" city"},
            {"pattern":"sales","action":"say","text":"Line one\nline two","voice":"Polly.Amy","language":"en-GB"},
            {"pattern":"+1900*","action":"reject","reason":"busy"},
            {"pattern":"+1976*","action":"hangup"}
        ]}"#;
        let routes: Vec<Arc<Route>> = parse(text, Format::Json, &plan())
            .unwrap()
            .into_iter()
            .map(Arc::new)
            .collect();
        let csv = to_csv(&routes);
        let back: Vec<Arc<Route>> = parse(&csv, Format::Csv, &plan())
            .unwrap()
            .into_iter()
            .map(Arc::new)
            .collect();
        assert_eq!(routes, back);
        let json = to_route_file(&routes);
        let back2: Vec<Arc<Route>> = parse(&json, Format::Json, &plan())
            .unwrap()
            .into_iter()
            .map(Arc::new)
            .collect();
        assert_eq!(routes, back2);
    }

    #[test]
    fn keys_read_are_packed_one_number_each() {
        let mut seen = SeenKeys::default();
        for (i, key) in [
            "+1317",
            "+01317",
            "+1317*",
            "+13175551234",
            "4321",
            "+1317@a.example",
            "*",
        ]
        .iter()
        .enumerate()
        {
            assert_eq!(seen.first(key, i + 1), None, "{key}");
        }
        assert_eq!(seen.first("+01317", 9), Some(2));
        assert_eq!(seen.first("+1317*", 1), Some(3));
        assert_eq!(seen.first("*", 9), Some(7));
        assert_eq!(seen.first("+1317@a.example", 9), Some(6));
        assert_eq!(seen.first("+999999999999999", 10), None);
        assert_eq!(seen.first("+999999999999999", 10), Some(10));
        assert!(SeenKeys::packed("+1234567890123456").is_none());
        // Rows on one line are still two rows.
        let one_line = r#"{"routes":[{"pattern":"+13175551234","action":"hangup"},{"pattern":"+13175551234","action":"hangup"}]}"#;
        let err = parse(one_line, Format::Json, &NumberPlan::default()).unwrap_err();
        assert!(err.to_string().contains("duplicate of line 1"), "{err}");
    }

    #[test]
    fn owned_bytes_decode_as_borrowed_ones_do() {
        for bytes in [
            b"pattern\n+1317\n".to_vec(),
            b"\xEF\xBB\xBFpattern\n".to_vec(),
            b"\xEF\xBB\xBF\xFF".to_vec(),
            b"caf\xC3".to_vec(),
            b"\xFF\xFEp\x00a\x00".to_vec(),
            b"\xFE\xFF\x00p".to_vec(),
            b"p\x00a\x00".to_vec(),
            b"\xFF\xFE\x00\x00".to_vec(),
            Vec::new(),
        ] {
            assert_eq!(
                decode_text_owned(bytes.clone()),
                decode_text(&bytes),
                "{bytes:?}"
            );
        }
    }
}
