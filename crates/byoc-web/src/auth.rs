//! Who may call the webhooks: the account's auth token (and, during a rotation, the one
//! replacing it), read from the settings, and the check of `X-Twilio-Signature` with them.

use std::fmt;

use byoc_core::params::Params;
use byoc_core::signature::{verify_body_with_keys, verify_with_keys, SignatureError, SigningKey};

use crate::config::{ConfigError, Runtime};

/// The auth token. Its `Debug` never shows the value, so it cannot leak into logs.
#[derive(Clone)]
pub struct AuthToken(String, SigningKey);

impl AuthToken {
    pub fn new(token: impl Into<String>) -> Self {
        let token = token.into();
        let key = SigningKey::new(&token);
        Self(token, key)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The token ready to verify with, prepared once.
    pub fn key(&self) -> &SigningKey {
        &self.1
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

/// The tokens a signature may be made with: the account's auth token and, while it is being
/// rotated, the one replacing it (Twilio's secondary token, then its new primary).
#[derive(Debug, Clone)]
pub struct Tokens {
    pub current: AuthToken,
    /// Boxed: set only during a rotation, and it keeps `Auth` small.
    pub next: Option<Box<AuthToken>>,
}

/// Which token signed a request, for the call's log line (never the token itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedBy {
    /// Not checked (`Auth::Unsigned`).
    Unchecked,
    /// `TWILIO_AUTH_TOKEN`.
    Token,
    /// `TWILIO_AUTH_TOKEN_NEXT`.
    TokenNext,
}

impl SignedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            SignedBy::Unchecked => "unchecked",
            SignedBy::Token => "token",
            SignedBy::TokenNext => "token_next",
        }
    }
}

impl Tokens {
    pub fn new(current: AuthToken) -> Self {
        Self {
            current,
            next: None,
        }
    }

    /// Checks a form (or GET) request; each token is tried once per form of the URL.
    pub fn verify(
        &self,
        url: &str,
        params: &Params,
        signature: Option<&str>,
    ) -> Result<SignedBy, SignatureError> {
        match &self.next {
            None => verify_with_keys(&[self.current.key()], url, params, signature),
            Some(next) => {
                verify_with_keys(&[self.current.key(), next.key()], url, params, signature)
            }
        }
        .map(Self::signer)
    }

    /// Checks a request whose body (JSON) is covered by `bodySHA256` in the URL.
    pub fn verify_body(
        &self,
        url: &str,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<SignedBy, SignatureError> {
        match &self.next {
            None => verify_body_with_keys(&[self.current.key()], url, body, signature),
            Some(next) => {
                verify_body_with_keys(&[self.current.key(), next.key()], url, body, signature)
            }
        }
        .map(Self::signer)
    }

    fn signer(index: usize) -> SignedBy {
        if index == 0 {
            SignedBy::Token
        } else {
            SignedBy::TokenNext
        }
    }
}

/// How requests are authenticated.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Verify `X-Twilio-Signature` with these tokens.
    Verify(Tokens),
    /// Accept unsigned requests (local use, or `ALLOW_UNSIGNED=true`).
    Unsigned,
    /// No token and unsigned requests not allowed: refuse everything (a deployment mistake).
    Misconfigured,
}

impl Auth {
    /// How requests are checked, from `TWILIO_AUTH_TOKEN`, `TWILIO_AUTH_TOKEN_NEXT` and
    /// `ALLOW_UNSIGNED` (read through `get`; blank is unset), and where the process runs: a
    /// Lambda with no token refuses everything unless unsigned requests are allowed.
    pub fn from_lookup(
        runtime: Runtime,
        get: impl Fn(&str) -> Option<String>,
        allow_unsigned: bool,
    ) -> Result<Auth, ConfigError> {
        let next = get("TWILIO_AUTH_TOKEN_NEXT").map(|t| Box::new(AuthToken::new(t)));
        Ok(match (get("TWILIO_AUTH_TOKEN"), runtime, allow_unsigned) {
            (Some(token), _, _) => Auth::Verify(Tokens {
                current: AuthToken::new(token),
                next,
            }),
            // A half-done rotation: refusing beats verifying with a token nobody meant alone.
            (None, _, _) if next.is_some() => {
                return Err(ConfigError {
                    name: "TWILIO_AUTH_TOKEN_NEXT",
                    reason: "is set but TWILIO_AUTH_TOKEN is not: set both during a rotation, \
                             then the new token as TWILIO_AUTH_TOKEN alone"
                        .into(),
                })
            }
            (None, Runtime::Local, _) | (None, Runtime::Lambda, true) => Auth::Unsigned,
            (None, Runtime::Lambda, false) => Auth::Misconfigured,
        })
    }
}
