//! The JSON route file: `{"routes": [ {flat route}, … ]}`.
//!
//! Loading runs at every cold start of a function with a bundled file, so each record is
//! validated as soon as the parser has read it: the records are never held as one array (for
//! 1,000 routes that array alone is 670 KB, grown by doubling), and only the three metadata
//! fields of a record outlive its validation.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::number::NumberPlan;
use crate::route::{Route, RouteError, RouteErrorKind, RouteRecord, RouteTable};

/// The JSON route file, as written by [`records_to_route_file`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    pub routes: Vec<RouteRecord>,
}

/// The store metadata a route file may carry beside each route (written by exports).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordMeta {
    pub version: Option<u64>,
    pub updated_at: Option<String>,
    pub updated_by: Option<String>,
}

/// A validated route of a route file, with its table key (computed once) and metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedRoute {
    /// `route.key()`.
    pub key: String,
    /// Shared from the start: the table holds it as is (no 200-byte move per route).
    pub route: Arc<Route>,
    pub meta: RecordMeta,
}

impl RecordMeta {
    /// No metadata in the record (a hand-written file).
    pub fn is_empty(&self) -> bool {
        self.version.is_none() && self.updated_at.is_none() && self.updated_by.is_none()
    }
}

/// Why a route file could not be loaded. Every bad route is reported, not just the first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteFileError {
    #[error("the route file is not valid: {0}")]
    Syntax(String),
    #[error("{} invalid route(s):\n{}", .0.len(), .0.iter().map(|(i, e)| format!("  routes[{i}]: {e}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<(usize, RouteError)>),
}

/// Parses and validates a JSON route file into a table (the loader has already refused
/// duplicates and built every key).
pub fn parse_route_file(json: &str, plan: &NumberPlan) -> Result<RouteTable, RouteFileError> {
    let routes = load_route_file(json, plan)?;
    let mut table = RouteTable::default();
    table.reserve(routes.len());
    for loaded in routes {
        table.insert_keyed(loaded.key, loaded.route);
    }
    Ok(table)
}

/// Parses and validates a JSON route file, keeping each route's store metadata.
pub fn load_route_file(json: &str, plan: &NumberPlan) -> Result<Vec<LoadedRoute>, RouteFileError> {
    // Sized once: growing these by doubling touches fresh pages at a cold start. The count of
    // `"pattern"` is exact for a normal file; the shortest route, `{"pattern":"*"},`, has 16
    // bytes, which bounds the hint whatever the text.
    let hint = json.matches("\"pattern\"").count().min(json.len() / 16);
    let mut loader = Loader {
        plan,
        routes: Vec::with_capacity(hint),
        errors: Vec::new(),
        seen: HashMap::with_capacity(hint),
    };
    let mut de = serde_json::Deserializer::from_str(json);
    de.deserialize_map(FileVisitor(&mut loader))
        .and_then(|()| de.end())
        .map_err(|e| RouteFileError::Syntax(e.to_string()))?;
    if loader.errors.is_empty() {
        // The keys move from the duplicate check to the routes: one allocation per route.
        let mut routes = loader.routes;
        for (key, (_, slot)) in loader.seen {
            routes[slot].key = key;
        }
        Ok(routes)
    } else {
        Err(RouteFileError::Invalid(loader.errors))
    }
}

/// Serializes routes as a route file (in the given order, pretty-printed).
pub fn to_route_file(routes: &[Arc<Route>]) -> String {
    records_to_route_file(routes.iter().map(|r| r.to_record()).collect())
}

/// Serializes records (possibly with metadata) as a route file.
pub fn records_to_route_file(routes: Vec<RouteRecord>) -> String {
    // Serializing plain strings and numbers cannot fail.
    serde_json::to_string_pretty(&RouteFile { routes }).expect("route records serialize") + "\n"
}

struct Loader<'p> {
    plan: &'p NumberPlan,
    /// Keys are filled in from `seen` at the end.
    routes: Vec<LoadedRoute>,
    errors: Vec<(usize, RouteError)>,
    /// Key → (record index of the first route with it, to name both in a duplicate error;
    /// its slot in `routes`).
    seen: HashMap<String, (usize, usize)>,
}

impl Loader<'_> {
    fn add(&mut self, i: usize, mut record: RouteRecord) {
        let meta = RecordMeta {
            version: record.version.take(),
            updated_at: record.updated_at.take(),
            updated_by: record.updated_by.take(),
        };
        match Route::from_record(record, self.plan) {
            Ok(route) => {
                let key = route.key();
                if let Some(&(first, _)) = self.seen.get(&key) {
                    self.errors.push((
                        i,
                        RouteError {
                            pattern: key,
                            kind: RouteErrorKind::InvalidField {
                                field: "pattern",
                                reason: format!("duplicate of routes[{first}]"),
                            },
                        },
                    ));
                } else {
                    self.seen.insert(key, (i, self.routes.len()));
                    self.routes.push(LoadedRoute {
                        key: String::new(),
                        route: Arc::new(route),
                        meta,
                    });
                }
            }
            Err(e) => self.errors.push((i, e)),
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

    #[test]
    fn the_file_shape_is_checked_like_the_derived_reader() {
        assert!(syntax("{").contains("EOF"));
        assert!(syntax(r#"{"routes":[],"extra":1}"#).contains("unknown field `extra`"));
        assert!(syntax("{}").contains("missing field `routes`"));
        assert!(syntax(r#"{"routes":[],"routes":[]}"#).contains("duplicate field `routes`"));
        assert!(syntax(r#"{"routes":{}}"#).contains("an array of routes"));
        assert!(syntax("[]").contains("an object with a `routes` array"));
        assert!(syntax(r#"{"routes":[]} x"#).contains("trailing characters"));
        assert!(syntax(r#"{"routes":[{"pattern":"*","nope":1}]}"#).contains("unknown field `nope`"));
        // The derived reader accepts exactly what the streaming one accepts.
        for ok in [r#"{"routes":[]}"#, " {\"routes\" : [ ] } \n"] {
            assert!(load_route_file(ok, &plan()).unwrap().is_empty());
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
        let routes = load_route_file(json, &plan()).unwrap();
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[0].key, "+13175551234");
        assert_eq!(routes[1].key, "*");
        assert!(routes.iter().all(|r| r.key == r.route.key()));
        assert_eq!(
            routes[0].meta,
            RecordMeta {
                version: Some(7),
                updated_at: None,
                updated_by: Some("ops".into())
            }
        );
        assert!(routes[1].meta.is_empty());
    }
}
