//! The JSON route file: `{"routes": [ {flat route}, … ]}`.
//!
//! Loading runs at every cold start of a function with a bundled file, so each record is
//! validated as soon as the parser has read it and goes straight into the route table: the
//! records are never held as one array (for 1,000 routes that array alone is 670 KB, grown by
//! doubling), each key is hashed once, and only the metadata a record carries outlives it.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::number::NumberPlan;
use crate::route::{Route, RouteError, RouteErrorKind, RouteMeta, RouteRecord, RouteTable};

/// The JSON route file, as written by [`records_to_route_file`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    pub routes: Vec<RouteRecord>,
}

/// A loaded route file: its routes, indexed, and the metadata of those that carry some.
#[derive(Debug, Clone, Default)]
pub struct LoadedFile {
    pub table: RouteTable,
    /// Key → metadata, for the records that have any (exports write it; hand-written files
    /// usually have none).
    pub meta: Vec<(String, RouteMeta)>,
}

/// Why a route file could not be loaded. Every bad route is reported, not just the first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteFileError {
    /// Not a route file at all (JSON syntax, the file's shape); the parser's words and place.
    #[error("{0}")]
    Syntax(String),
    #[error("{} invalid route(s):\n{}", .0.len(), .0.iter().map(|(i, e)| format!("  routes[{i}]: {e}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<(usize, RouteError)>),
}

/// Parses and validates a JSON route file into a table.
pub fn parse_route_file(json: &str, plan: &NumberPlan) -> Result<RouteTable, RouteFileError> {
    load_route_file(json, plan).map(|loaded| loaded.table)
}

/// Parses and validates a JSON route file, keeping each route's store metadata.
pub fn load_route_file(json: &str, plan: &NumberPlan) -> Result<LoadedFile, RouteFileError> {
    // Sized once: growing the table by doubling rehashes it and touches fresh pages at a cold
    // start. The count of `"pattern"` is exact for a normal file; the shortest route,
    // `{"pattern":"*"},`, has 16 bytes, which bounds the hint whatever the text.
    let hint = memchr::memmem::find_iter(json.as_bytes(), b"\"pattern\"")
        .count()
        .min(json.len() / 16);
    let mut table = RouteTable::default();
    table.reserve(hint);
    let mut loader = Loader {
        plan,
        table,
        meta: Vec::new(),
        order: Vec::with_capacity(hint),
        errors: Vec::new(),
    };
    let mut de = serde_json::Deserializer::from_str(json);
    de.deserialize_map(FileVisitor(&mut loader))
        .and_then(|()| de.end())
        .map_err(|e| {
            schema_errors(json).unwrap_or_else(|| RouteFileError::Syntax(e.to_string()))
        })?;
    if loader.errors.is_empty() {
        Ok(LoadedFile {
            table: loader.table,
            meta: loader.meta,
        })
    } else {
        Err(RouteFileError::Invalid(loader.errors))
    }
}

/// When a route does not fit the schema (`"timeout": 20.5`, a number for a URL), every such
/// route with its index, pattern and field; `None` when the file itself is not a route file
/// (the parser's own message says best where). Error path only.
fn schema_errors(json: &str) -> Option<RouteFileError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw<'a> {
        #[serde(borrow)]
        routes: Vec<&'a serde_json::value::RawValue>,
    }
    let raw: Raw = serde_json::from_str(json).ok()?;
    let errors: Vec<(usize, RouteError)> = raw
        .routes
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            crate::route::record_from_json(r.get())
                .err()
                .map(|e| (i, e))
        })
        .collect();
    (!errors.is_empty()).then_some(RouteFileError::Invalid(errors))
}

/// Serializes routes as a route file (in the given order, pretty-printed).
pub fn to_route_file(routes: &[Arc<Route>]) -> String {
    records_to_route_file(routes.iter().map(|r| r.to_record()).collect())
}

/// Serializes records (possibly with metadata) as a route file.
pub fn records_to_route_file(routes: Vec<RouteRecord>) -> String {
    let mut writer = RouteFileWriter::new(Vec::new());
    for record in &routes {
        // Writing to a Vec cannot fail.
        writer.push(record).expect("write to memory");
    }
    String::from_utf8(writer.finish().expect("write to memory")).expect("JSON is UTF-8")
}

/// Writes a route file one record at a time, without holding the routes: the same text as
/// serde_json's pretty printer gives for a [`RouteFile`], and a final newline.
pub struct RouteFileWriter<W: std::io::Write> {
    out: W,
    records: usize,
    buf: Vec<u8>,
}

impl<W: std::io::Write> RouteFileWriter<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            records: 0,
            buf: Vec::new(),
        }
    }

    pub fn push(&mut self, record: &RouteRecord) -> std::io::Result<()> {
        if self.records == 0 {
            self.out.write_all(b"{\n  \"routes\": [")?;
        } else {
            self.out.write_all(b",")?;
        }
        self.records += 1;
        self.buf.clear();
        serde_json::to_writer_pretty(&mut self.buf, record).map_err(std::io::Error::other)?;
        // Indented two levels, as inside `{"routes": [ … ]}`.
        for line in self.buf.split(|&b| b == b'\n') {
            self.out.write_all(b"\n    ")?;
            self.out.write_all(line)?;
        }
        Ok(())
    }

    /// Closes the file and gives the output back.
    pub fn finish(mut self) -> std::io::Result<W> {
        if self.records == 0 {
            self.out.write_all(b"{\n  \"routes\": []\n}\n")?;
        } else {
            self.out.write_all(b"\n  ]\n}\n")?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

struct Loader<'p> {
    plan: &'p NumberPlan,
    table: RouteTable,
    meta: Vec<(String, RouteMeta)>,
    /// Each route's record index, to name the first of two routes with one key (found by
    /// identity, only when that happens).
    order: Vec<(usize, Arc<Route>)>,
    errors: Vec<(usize, RouteError)>,
}

impl Loader<'_> {
    fn add(&mut self, i: usize, mut record: RouteRecord) {
        let meta = record.take_meta();
        let route = match Route::from_record(record, self.plan) {
            Ok(route) => Arc::new(route),
            Err(e) => return self.errors.push((i, e)),
        };
        let key = route.key();
        let meta = meta.map(|meta| (key.clone(), meta));
        match self.table.try_insert_keyed(key, Arc::clone(&route)) {
            Ok(()) => {
                self.meta.extend(meta);
                self.order.push((i, route));
            }
            Err(first) => {
                let first = self
                    .order
                    .iter()
                    .find(|(_, r)| Arc::ptr_eq(r, &first))
                    .map_or(0, |(index, _)| *index);
                self.errors.push((
                    i,
                    RouteError {
                        pattern: route.key(),
                        kind: RouteErrorKind::InvalidField {
                            field: "pattern",
                            reason: format!("duplicate of routes[{first}]"),
                        },
                    },
                ));
            }
        }
    }
}

/// The top-level object: exactly one field, `routes`.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum Field {
    Routes,
}

struct FileVisitor<'l, 'p>(&'l mut Loader<'p>);

impl<'de> Visitor<'de> for FileVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a route file: an object with a `routes` array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut found = false;
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Routes if found => return Err(de::Error::duplicate_field("routes")),
                Field::Routes => {
                    found = true;
                    map.next_value_seed(RoutesSeed(&mut *self.0))?;
                }
            }
        }
        if found {
            Ok(())
        } else {
            Err(de::Error::missing_field("routes"))
        }
    }
}

struct RoutesSeed<'l, 'p>(&'l mut Loader<'p>);

impl<'de> DeserializeSeed<'de> for RoutesSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RoutesSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of routes")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while let Some(record) = seq.next_element::<RouteRecord>()? {
            self.0.add(i, record);
            i += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> NumberPlan {
        NumberPlan::default()
    }

    fn syntax(json: &str) -> String {
        match load_route_file(json, &plan()) {
            Err(RouteFileError::Syntax(m)) => m,
            other => panic!("{json}: expected a syntax error, got {other:?}"),
        }
    }

    /// The streaming writer writes exactly what serde_json's pretty printer does for the
    /// whole file (exports written before it read back the same, byte for byte).
    #[test]
    fn the_streaming_writer_matches_the_pretty_printer() {
        let example = include_str!("../../../infra/routes.example.json");
        let loaded: RouteFile = serde_json::from_str(example).unwrap();
        let mut tricky = loaded.routes[0].clone();
        tricky.description = Some("line\nbreak, \"quotes\", tab\t, é 📞".into());
        tricky.schedule = Some(r#"{"tz":"Europe/London","hours":[]}"#.into());
        for n in [0, 1, 2, loaded.routes.len()] {
            let mut routes: Vec<RouteRecord> = loaded.routes[..n].to_vec();
            if n == 2 {
                routes.push(tricky.clone());
            }
            let whole = serde_json::to_string_pretty(&RouteFile {
                routes: routes.clone(),
            })
            .unwrap()
                + "\n";
            assert_eq!(records_to_route_file(routes), whole, "{n} routes");
        }
    }

    #[test]
    fn the_file_shape_is_checked_like_the_derived_reader() {
        assert!(syntax("{").contains("EOF"));
        assert!(syntax(r#"{"routes":[],"extra":1}"#).contains("unknown field `extra`"));
        assert!(syntax("{}").contains("missing field `routes`"));
        assert!(syntax(r#"{"routes":[],"routes":[]}"#).contains("duplicate field `routes`"));
        assert!(syntax(r#"{"routes":{}}"#).contains("an array of routes"));
        assert!(syntax("[]").contains("an object with a `routes` array"));
        assert!(syntax(r#"{"routes":[]} x"#).contains("trailing characters"));
        // A route that does not fit the schema is named with its index and field.
        let e = load_route_file(r#"{"routes":[{"pattern":"*","nope":1}]}"#, &plan())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("routes[0]: route `*`: `nope`: unknown field `nope`"),
            "{e}"
        );
        // The derived reader accepts exactly what the streaming one accepts.
        for ok in [r#"{"routes":[]}"#, " {\"routes\" : [ ] } \n"] {
            assert!(load_route_file(ok, &plan()).unwrap().table.is_empty());
            serde_json::from_str::<RouteFile>(ok).unwrap();
        }
    }

    #[test]
    fn every_bad_route_is_reported_with_its_index_and_metadata_is_kept() {
        let json = r#"{"routes":[
            {"pattern":"+13175551234","url":"https://a.example/x","version":7,"updated_by":"ops"},
            {"pattern":"+13175551234","url":"https://b.example/"},
            {"pattern":"*","url":"ftp://c.example/"},
            {"pattern":"+1317*","url":"https://d.example/"}
        ]}"#;
        let Err(RouteFileError::Invalid(errors)) = load_route_file(json, &plan()) else {
            panic!("expected invalid routes");
        };
        let indexes: Vec<usize> = errors.iter().map(|(i, _)| *i).collect();
        assert_eq!(indexes, [1, 2]);
        assert!(errors[0].1.to_string().contains("duplicate of routes[0]"));

        let json = r#"{"routes":[
            {"pattern":"+13175551234","url":"https://a.example/x","version":7,"updated_by":"ops"},
            {"pattern":"*","url":"https://d.example/"}
        ]}"#;
        let loaded = load_route_file(json, &plan()).unwrap();
        assert_eq!(loaded.table.len(), 2);
        assert!(loaded.table.get("+13175551234").is_some());
        assert!(loaded.table.get("*").is_some());
        assert!(loaded.table.entries().all(|(key, r)| key == r.key()));
        // Only the record with metadata has an entry.
        assert_eq!(
            loaded.meta,
            [(
                "+13175551234".to_string(),
                RouteMeta {
                    version: 7,
                    updated_at: String::new(),
                    updated_by: "ops".into()
                }
            )]
        );
    }

    #[test]
    fn a_duplicate_names_the_first_route_with_its_key() {
        // Invalid records in between shift record indexes away from table order.
        let json = r#"{"routes":[
            {"pattern":"bad pattern!","url":"https://a.example/"},
            {"pattern":"+1317*","url":"https://a.example/"},
            {"pattern":"*","url":"https://b.example/"},
            {"pattern":"+1317*","url":"https://c.example/"},
            {"pattern":"*","url":"https://d.example/"}
        ]}"#;
        let Err(RouteFileError::Invalid(errors)) = load_route_file(json, &plan()) else {
            panic!("expected invalid routes");
        };
        let found: Vec<(usize, String)> = errors.iter().map(|(i, e)| (*i, e.to_string())).collect();
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0].0, 0);
        assert_eq!(found[1].0, 3);
        assert!(found[1].1.contains("`+1317*`") && found[1].1.contains("duplicate of routes[1]"));
        assert_eq!(found[2].0, 4);
        assert!(found[2].1.contains("duplicate of routes[2]"));
    }
}

#[cfg(test)]
mod schema {
    use super::*;

    /// Schema errors name the route index, the pattern and the field, in
    /// words, not serde's internals.
    #[test]
    fn schema_errors_name_the_route_and_the_field() {
        let e = parse_route_file(
            r#"{"routes":[{"pattern":"+13175551234","action":"hangup"},
                {"pattern":"+13175551235","action":"dial","number":"+13175550000","timeout":20.5},
                {"pattern":"+13175551237","url":5}]}"#,
            &NumberPlan::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("routes[1]: route `+13175551235`: `timeout`: `20.5` is not a whole number"),
            "{e}"
        );
        assert!(
            e.contains("routes[2]: route `+13175551237`: `url`: invalid type: integer `5`, expected a string"),
            "{e}"
        );
        assert!(!e.contains("untagged") && !e.contains("Raw"), "{e}");
        // Real syntax errors keep the parser's position.
        let e = parse_route_file(r#"{"routes":[{"pattern":"*",}]}"#, &NumberPlan::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1 column"), "{e}");
    }
}
