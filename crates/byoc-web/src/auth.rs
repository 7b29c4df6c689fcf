//! Who may call the webhooks: the account's auth token (and, during a rotation, the one
//! replacing it) and the webhook shared keys, read from the settings, and the check of
//! `X-Twilio-Signature` with them.

use std::fmt;

use byoc_core::params::{query_param, Params};
use byoc_core::signature::{
    verify_body_with_keys, verify_with_keys, Algorithm, SignatureError, SignatureSettings,
    SigningKey,
};

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
/// rotated, the one replacing it (Twilio's secondary token, then its new primary); and the
/// webhook shared keys (`TWILIO_WEBHOOK_SHARED_KEYS`).
#[derive(Debug, Clone)]
pub struct Tokens {
    pub current: AuthToken,
    /// Boxed: set only during a rotation, and it keeps `Auth` small.
    pub next: Option<Box<AuthToken>>,
    pub shared: Vec<SharedKey>,
}

/// A webhook shared key: its id (which `X-Twilio-Webhooks-Signature-Settings` names) and its
/// secret, ready for either algorithm. `Debug` shows the id alone.
#[derive(Clone)]
pub struct SharedKey {
    pub id: String,
    /// `key:<id>`, the call line's `signed_by` (made once, for the process's life).
    label: &'static str,
    sha1: SigningKey,
    sha256: SigningKey,
}

impl SharedKey {
    pub fn new(id: &str, secret: &str) -> Self {
        Self {
            id: id.to_string(),
            label: Box::leak(format!("key:{id}").into_boxed_str()),
            sha1: SigningKey::with_algorithm(secret, Algorithm::HmacSha1),
            sha256: SigningKey::with_algorithm(secret, Algorithm::HmacSha256),
        }
    }

    fn key(&self, algorithm: Algorithm) -> &SigningKey {
        match algorithm {
            Algorithm::HmacSha1 => &self.sha1,
            Algorithm::HmacSha256 => &self.sha256,
        }
    }

    /// `KEY_ID=SECRET` pairs, separated by commas (a secret may hold `=`).
    pub fn parse_list(text: &str) -> Result<Vec<SharedKey>, String> {
        let mut keys: Vec<SharedKey> = Vec::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let Some((id, secret)) = item.split_once('=') else {
                return Err("each item is KEY_ID=SECRET".into());
            };
            let (id, secret) = (id.trim(), secret.trim());
            if id.is_empty() || secret.is_empty() || id.contains(char::is_whitespace) {
                return Err(format!(
                    "`{id}=…`: a key id and a secret, neither blank, are needed"
                ));
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(format!("the key id `{id}` is given twice"));
            }
            keys.push(SharedKey::new(id, secret));
        }
        Ok(keys)
    }
}

impl fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedKey({}, <redacted>)", self.id)
    }
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
    /// A webhook shared key: `key:<its id>`.
    SharedKey(&'static str),
}

impl SignedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            SignedBy::Unchecked => "unchecked",
            SignedBy::Token => "token",
            SignedBy::TokenNext => "token_next",
            SignedBy::SharedKey(label) => label,
        }
    }
}

impl Tokens {
    pub fn new(current: AuthToken) -> Self {
        Self {
            current,
            next: None,
            shared: Vec::new(),
        }
    }

    /// Checks a request: a body covered by `bodySHA256` in the URL (whatever its content type,
    /// so a JSON-signed URL cannot be replayed with another body), else the form (or GET)
    /// parameters. `settings` is `X-Twilio-Webhooks-Signature-Settings`, read only when shared
    /// keys are configured (without them no key could match, and a call pays nothing for it).
    pub fn check(
        &self,
        url: &str,
        params: &Params,
        body: &[u8],
        is_json: bool,
        signature: Option<&str>,
        settings: impl FnOnce() -> Option<String>,
    ) -> Result<SignedBy, SignatureError> {
        let covered = is_json || query_param(url, "bodySHA256").is_some();
        if !self.shared.is_empty() {
            if let Some(header) = settings() {
                let named = SignatureSettings::parse(&header);
                if let Some(id) = named.key {
                    let key = self
                        .shared
                        .iter()
                        .find(|k| k.id == id)
                        .ok_or_else(|| SignatureError::UnknownKey(id.to_string()))?;
                    let algorithm = Algorithm::named(named.algorithm).ok_or_else(|| {
                        SignatureError::UnsupportedAlgorithm(named.algorithm.to_string())
                    })?;
                    let keys = [key.key(algorithm)];
                    return if covered {
                        verify_body_with_keys(&keys, url, body, signature)
                    } else {
                        verify_with_keys(&keys, url, params, signature)
                    }
                    .map(|_| SignedBy::SharedKey(key.label));
                }
            }
        }
        if covered {
            self.verify_body(url, body, signature)
        } else {
            self.verify(url, params, signature)
        }
    }

    /// Checks a form (or GET) request with the auth token(s); each token is tried once per
    /// form of the URL.
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
    /// Verify `X-Twilio-Signature` with these tokens (boxed: keys hold HMAC states).
    Verify(Box<Tokens>),
    /// Accept unsigned requests (local use, or `ALLOW_UNSIGNED=true`).
    Unsigned,
    /// No token and unsigned requests not allowed: refuse everything (a deployment mistake).
    Misconfigured,
}

impl Auth {
    /// How requests are checked, from `TWILIO_AUTH_TOKEN`, `TWILIO_AUTH_TOKEN_NEXT` and
    /// `ALLOW_UNSIGNED` (read through `get`; blank is unset), `TWILIO_WEBHOOK_SHARED_KEYS`, and
    /// where the process runs: a Lambda with no token refuses everything unless unsigned
    /// requests are allowed. `raw` reads a setting untrimmed: a token of only spaces is refused
    /// here, loudly, rather than read as no token.
    pub fn from_lookup(
        runtime: Runtime,
        get: impl Fn(&str) -> Option<String>,
        raw: impl Fn(&str) -> Option<String>,
        allow_unsigned: bool,
    ) -> Result<Auth, ConfigError> {
        for name in ["TWILIO_AUTH_TOKEN", "TWILIO_AUTH_TOKEN_NEXT"] {
            let value = raw(name).unwrap_or_default();
            if !value.is_empty() && value.trim().is_empty() {
                return Err(ConfigError {
                    name,
                    reason: "is only spaces: set the account's auth token, or leave it unset"
                        .into(),
                });
            }
        }
        let next = get("TWILIO_AUTH_TOKEN_NEXT").map(|t| Box::new(AuthToken::new(t)));
        let shared = match get("TWILIO_WEBHOOK_SHARED_KEYS") {
            None => Vec::new(),
            Some(text) => SharedKey::parse_list(&text).map_err(|reason| ConfigError {
                name: "TWILIO_WEBHOOK_SHARED_KEYS",
                reason,
            })?,
        };
        if !shared.is_empty() && get("TWILIO_AUTH_TOKEN").is_none() {
            return Err(ConfigError {
                name: "TWILIO_WEBHOOK_SHARED_KEYS",
                reason: "is set but TWILIO_AUTH_TOKEN is not: the keys sign beside the auth \
                         token (requests without a shared key are signed with the token)"
                    .into(),
            });
        }
        Ok(match (get("TWILIO_AUTH_TOKEN"), runtime, allow_unsigned) {
            (Some(token), _, _) => Auth::Verify(Box::new(Tokens {
                current: AuthToken::new(token),
                next,
                shared,
            })),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(vars: &[(&str, &str)]) -> Result<Auth, ConfigError> {
        let raw = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        let get = |name: &str| {
            raw(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Auth::from_lookup(Runtime::Lambda, get, raw, false)
    }

    #[test]
    fn a_token_of_spaces_is_refused_at_start_not_read_as_none() {
        let e = auth(&[("TWILIO_AUTH_TOKEN", "   ")]).unwrap_err();
        assert_eq!(e.name, "TWILIO_AUTH_TOKEN");
        assert!(e.reason.contains("only spaces"), "{e}");
        let e = auth(&[
            ("TWILIO_AUTH_TOKEN", "t"),
            ("TWILIO_AUTH_TOKEN_NEXT", " \t"),
        ])
        .unwrap_err();
        assert_eq!(e.name, "TWILIO_AUTH_TOKEN_NEXT");
        assert!(matches!(auth(&[]), Ok(Auth::Misconfigured)));
    }

    #[test]
    fn shared_keys_are_read_beside_the_token_and_never_shown() {
        let Ok(Auth::Verify(tokens)) = auth(&[
            ("TWILIO_AUTH_TOKEN", "t"),
            ("TWILIO_WEBHOOK_SHARED_KEYS", " k1=s3cret==, k2=other "),
        ]) else {
            panic!("not verified")
        };
        let ids: Vec<&str> = tokens.shared.iter().map(|k| k.id.as_str()).collect();
        assert_eq!(ids, ["k1", "k2"]);
        assert!(!format!("{tokens:?}").contains("s3cret"));
        for (bad, why) in [
            ("k1", "KEY_ID=SECRET"),
            ("=s", "neither blank"),
            ("k1=a,k1=b", "twice"),
        ] {
            let e = auth(&[
                ("TWILIO_AUTH_TOKEN", "t"),
                ("TWILIO_WEBHOOK_SHARED_KEYS", bad),
            ])
            .unwrap_err();
            assert_eq!(e.name, "TWILIO_WEBHOOK_SHARED_KEYS");
            assert!(e.reason.contains(why), "{bad}: {e}");
        }
        let e = auth(&[("TWILIO_WEBHOOK_SHARED_KEYS", "k=s")]).unwrap_err();
        assert!(e.reason.contains("TWILIO_AUTH_TOKEN is not"), "{e}");
    }
}
