//! How `byoc` fails: a named exit code for each kind of failure, and the hint printed with it.

use std::process::ExitCode;

use byoc_store::{AdminError, StoreError};

use crate::twilio::api::TwilioError;

/// `byoc`'s exit codes. Scripts branch on them; `byoc --help` lists them ([`EXIT_CODES_HELP`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    Success = 0,
    /// No such route, history or SIP domain; a number that cannot be read; `byoc twilio
    /// check` found a problem.
    NotFound = 1,
    /// Invalid input or configuration, including a call refused by the outbound policy and an
    /// unconfirmed prune.
    Invalid = 2,
    /// A conflicting edit: the route exists, or changed since it was read.
    Conflict = 3,
    /// The store or Twilio could not be reached; every trunk of a test call failed.
    Unreachable = 4,
    /// Twilio refused the request.
    Refused = 5,
}

/// What `byoc --help` says about exit codes.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  not found: no such route, history or SIP domain; an unreadable number; `twilio check` found a problem
  2  invalid input or configuration (a call refused by the outbound policy, an unconfirmed prune)
  3  conflict: the route exists, or changed since it was read
  4  unreachable: the route store or Twilio; every trunk of `byoc call` failed
  5  refused by Twilio";

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// A failure with its exit code.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn new(exit: Exit, error: impl Into<anyhow::Error>) -> Self {
        Self {
            exit,
            error: error.into(),
        }
    }
}

/// The exit code of a store error.
pub fn store_exit(e: &StoreError) -> Exit {
    match e {
        StoreError::NotFound { .. } => Exit::NotFound,
        StoreError::Exists { .. }
        | StoreError::VersionMismatch { .. }
        | StoreError::Conflict { .. } => Exit::Conflict,
        StoreError::Unavailable(_) => Exit::Unreachable,
        _ => Exit::Invalid,
    }
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        let error: anyhow::Error = e.into();
        let exit = if let Some(e) = error.downcast_ref::<TwilioError>() {
            e.exit()
        } else if let Some(e) = error.downcast_ref::<StoreError>() {
            store_exit(e)
        } else if let Some(AdminError::Store(e) | AdminError::Partial { source: e, .. }) =
            error.downcast_ref::<AdminError>()
        {
            store_exit(e)
        } else {
            Exit::Invalid
        };
        Self { exit, error }
    }
}

pub type CliResult = Result<ExitCode, Failure>;

/// Prints a failure as `byoc: error: …` (with its causes) and any hint; its exit code.
pub fn report(Failure { exit, error }: Failure) -> ExitCode {
    // The reader of our output went away (`| head`): not an error of ours.
    if error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    {
        return ExitCode::SUCCESS;
    }
    eprintln!("byoc: error: {error:#}");
    let store =
        error
            .downcast_ref::<StoreError>()
            .or_else(|| match error.downcast_ref::<AdminError>() {
                Some(AdminError::Store(e) | AdminError::Partial { source: e, .. }) => Some(e),
                _ => None,
            });
    let hint = store
        .and_then(byoc_store::admin::hint)
        .or_else(|| error.downcast_ref::<TwilioError>().and_then(|e| e.hint()));
    if let Some(hint) = hint {
        eprintln!("byoc: hint: {hint}");
    }
    exit.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_get_their_named_exit_codes() {
        let code = |e: anyhow::Error| Failure::from(e).exit;
        let store = |e: StoreError| code(e.into());
        assert_eq!(
            store(StoreError::NotFound {
                pattern: "*".into()
            }),
            Exit::NotFound
        );
        assert_eq!(
            store(StoreError::Exists {
                pattern: "*".into(),
                version: 1
            }),
            Exit::Conflict
        );
        assert_eq!(
            store(StoreError::Unavailable("x".into())),
            Exit::Unreachable
        );
        assert_eq!(
            store(StoreError::NoTable { table: "t".into() }),
            Exit::Invalid
        );
        let wrapped = AdminError::Store(StoreError::VersionMismatch {
            pattern: "*".into(),
            expected: 1,
            actual: 2,
        });
        assert_eq!(code(wrapped.into()), Exit::Conflict);
        assert_eq!(code(anyhow::anyhow!("bad flag")), Exit::Invalid);
        // The help lists every code by its number.
        for exit in [
            Exit::Success,
            Exit::NotFound,
            Exit::Invalid,
            Exit::Conflict,
            Exit::Unreachable,
            Exit::Refused,
        ] {
            assert!(
                EXIT_CODES_HELP.contains(&format!("\n  {}  ", exit as u8)),
                "{exit:?}"
            );
        }
    }
}
