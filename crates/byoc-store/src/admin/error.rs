//! Why an admin operation failed, and what a person can do about a store error.

use byoc_core::import::{FormatError, ImportError};
use byoc_core::RouteError;

use crate::StoreError;

/// Why an admin operation did nothing (or, for [`AdminError::Partial`], stopped).
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The store refused or could not answer (conflicts, a missing route or table...).
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Format(#[from] FormatError),
    /// An import's rows, every bad one with its line.
    #[error("{format} input: {rows}")]
    Rows {
        format: &'static str,
        rows: ImportError,
    },
    /// The route the edit would write is invalid (the error names the field).
    #[error(transparent)]
    Route(#[from] RouteError),
    /// The edit itself makes no sense (a field both set and cleared, two scopes...): `field`
    /// is the record field it is about.
    #[error("{message}")]
    Edit { field: String, message: String },
    /// An edit of one route would write another (the scope is part of the key).
    #[error("this would write the route `{to}`, not `{from}`: the scope is part of the route's key; to move a route, create the new one and delete the old")]
    Moved { from: String, to: String },
    /// An export could not be written (a full disk, a closed pipe).
    #[error("cannot write the export: {0}")]
    Write(std::io::Error),
    /// An import stopped part-way (the store failed): `written` writes were made before, in
    /// order, and stay made. Running the import again writes the rest.
    #[error("{source} (after {written} change(s) were written: run the import again, with --dry-run first, to see what is left)")]
    Partial { written: usize, source: StoreError },
    /// A prune deleting the `*` route or many routes, not confirmed.
    #[error("the prune would delete {0}; nothing written")]
    PruneUnconfirmed(String),
}

impl AdminError {
    /// The record field the error is about, if any (a form shows the message beside it).
    pub fn field(&self) -> Option<&str> {
        match self {
            AdminError::Route(e) => Some(e.kind.field()).filter(|f| !f.is_empty()),
            AdminError::Edit { field, .. } => Some(field),
            AdminError::Moved { .. } => Some("pattern"),
            _ => None,
        }
    }
}

/// What to do about a store error, for a person at the CLI or the console (the store's own
/// messages say only what happened, so the Lambda logs can use them too).
pub fn hint(error: &StoreError) -> Option<String> {
    match error {
        StoreError::NoTable { table } => Some(format!(
            "create it with `byoc table create --table {table}` (or deploy template.yaml), \
             or check --table / ROUTES_TABLE, AWS_REGION and any local endpoint \
             (AWS_ENDPOINT_URL_DYNAMODB, DYNAMODB_ENDPOINT_URL)"
        )),
        StoreError::Exists { version, .. } => Some(format!(
            "pass --replace, or --expect-version {version} to update that version"
        )),
        StoreError::Corrupt { pattern, .. } => Some(format!(
            "its calls get the degraded answer until it is fixed: write it anew with \
             `byoc routes put {pattern} --action … --replace`, or `byoc routes delete {pattern}`"
        )),
        _ => None,
    }
}

/// An error and its causes on one line, `outer: cause: root cause`.
pub fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_name_every_cause_and_hints_name_the_command() {
        let e = StoreError::Io {
            path: "r.json".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        };
        assert_eq!(cause_chain(&e), "cannot read route file r.json: gone");
        let missing = StoreError::NoTable {
            table: "routes".into(),
        };
        assert!(hint(&missing)
            .unwrap()
            .contains("byoc table create --table routes"));
        let corrupt = StoreError::Corrupt {
            pattern: "+1317*".into(),
            reason: "bad".into(),
        };
        let text = hint(&corrupt).unwrap();
        assert!(text.contains("anew with `byoc routes put +1317*"), "{text}");
        assert!(hint(&StoreError::Unavailable("x".into())).is_none());
    }
}
