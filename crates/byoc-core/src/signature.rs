//! `X-Twilio-Signature` verification.
//!
//! Twilio signs each webhook with HMAC-SHA1 keyed by the account's auth token over:
//! the full URL it requested (scheme, host, path, raw query exactly as sent), then, for a form POST,
//! every body parameter as `name` + `value` with names sorted bytewise (a repeated name contributes
//! each of its values, sorted). The result is base64 (standard, padded).
//!
//! Twilio is not consistent about default ports, so a URL is accepted as given, with the default
//! port stripped and with it added (`:443` for https, `:80` for http), as the official helper
//! libraries do.
//!
//! JSON bodies: Twilio appends `bodySHA256=<hex sha256 of the raw body>` to the URL and signs the
//! URL alone; the body is checked against that hash.
//!
//! Shared keys ("Sign webhooks with shared keys"): a request signed with one carries
//! `X-Twilio-Webhooks-Signature-Settings: key=<shared key id>,algorithm=HMAC_SHA256` (or
//! `HMAC_SHA1`); the signature is the same construction with that key's secret and algorithm
//! (twilio-python 9.13's `get_signature_algorithm` and `compute_signature(…, algorithm)`).
//!
//! Twilio's helper libraries differ in small ways the signed content does not: twilio-python
//! signs a repeated parameter's distinct values once each, others every value; a host may be
//! written in mixed case; a URL may end in a bare `?`. When the URL as given does not match,
//! those forms are tried too.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::params::{query_param, Params};

type HmacSha1 = Hmac<Sha1>;
type HmacSha256 = Hmac<Sha256>;

/// The header Twilio puts its signature in.
pub const HEADER: &str = "X-Twilio-Signature";
/// The header naming the shared key and algorithm of a request signed with a shared key.
pub const SETTINGS_HEADER: &str = "X-Twilio-Webhooks-Signature-Settings";

/// The HMAC a webhook is signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// The auth token's (and a shared key's, when it says so).
    HmacSha1,
    HmacSha256,
}

impl Algorithm {
    /// The algorithm as Twilio names it (`HMAC_SHA1`, `HMAC_SHA256`; any case).
    pub fn named(name: &str) -> Option<Self> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("HMAC_SHA1") {
            Some(Algorithm::HmacSha1)
        } else if name.eq_ignore_ascii_case("HMAC_SHA256") {
            Some(Algorithm::HmacSha256)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HmacSha1 => "HMAC_SHA1",
            Algorithm::HmacSha256 => "HMAC_SHA256",
        }
    }
}

/// What `X-Twilio-Webhooks-Signature-Settings` says: the shared key's id, if any, and the
/// algorithm's name (`HMAC_SHA1` when the header names none, as twilio-python reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureSettings<'a> {
    pub key: Option<&'a str>,
    pub algorithm: &'a str,
}

impl<'a> SignatureSettings<'a> {
    /// Reads the header's `name=value` pairs, separated by commas.
    pub fn parse(header: &'a str) -> Self {
        let mut settings = SignatureSettings {
            key: None,
            algorithm: "HMAC_SHA1",
        };
        for part in header.split(',') {
            let Some((name, value)) = part.split_once('=') else {
                continue;
            };
            let value = value.trim();
            match name.trim() {
                "algorithm" if !value.is_empty() => settings.algorithm = value,
                "key" if !value.is_empty() => settings.key = Some(value),
                _ => {}
            }
        }
        settings
    }
}

/// Why a request's signature was refused. The messages are safe to return to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Twilio-Signature header")]
    Missing,
    #[error("X-Twilio-Signature is not a base64 HMAC-SHA1 or HMAC-SHA256")]
    Malformed,
    #[error("signed with a shared key this deployment does not have (`{0}`): add it to TWILIO_WEBHOOK_SHARED_KEYS")]
    UnknownKey(String),
    #[error("signed with the algorithm `{0}`, which is not HMAC_SHA1 or HMAC_SHA256")]
    UnsupportedAlgorithm(String),
    #[error("X-Twilio-Signature does not match this request")]
    Mismatch,
    #[error("a JSON body must be covered by a bodySHA256 query parameter")]
    BodyHashMissing,
    #[error("the body does not match its bodySHA256")]
    BodyHashMismatch,
}

/// An auth token (or a shared key's secret) ready to sign with: HMAC's key schedule (the inner
/// and outer padded key blocks) is computed once, so a call hashes only its own message. The
/// secret's text is not kept, and `Debug` shows nothing of it.
#[derive(Clone)]
pub struct SigningKey(Running);

/// An HMAC of either algorithm, keyed, part-way through a message.
#[derive(Clone)]
enum Running {
    Sha1(HmacSha1),
    Sha256(HmacSha256),
}

impl Running {
    fn update(&mut self, data: &[u8]) {
        match self {
            Running::Sha1(mac) => mac.update(data),
            Running::Sha256(mac) => mac.update(data),
        }
    }

    /// Compared in constant time (a length that is not the algorithm's never matches).
    fn matches(self, expected: &[u8]) -> bool {
        match self {
            Running::Sha1(mac) => mac.verify_slice(expected).is_ok(),
            Running::Sha256(mac) => mac.verify_slice(expected).is_ok(),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Running::Sha1(mac) => mac.finalize().into_bytes().to_vec(),
            Running::Sha256(mac) => mac.finalize().into_bytes().to_vec(),
        }
    }
}

impl SigningKey {
    /// The auth token's key (HMAC-SHA1).
    pub fn new(auth_token: &str) -> Self {
        Self::with_algorithm(auth_token, Algorithm::HmacSha1)
    }

    /// A secret's key for `algorithm`.
    pub fn with_algorithm(secret: &str, algorithm: Algorithm) -> Self {
        // HMAC accepts keys of any length, so this cannot fail.
        let key = secret.as_bytes();
        Self(match algorithm {
            Algorithm::HmacSha1 => {
                Running::Sha1(HmacSha1::new_from_slice(key).expect("HMAC takes any key"))
            }
            Algorithm::HmacSha256 => {
                Running::Sha256(HmacSha256::new_from_slice(key).expect("HMAC takes any key"))
            }
        })
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.0 {
            Running::Sha1(_) => Algorithm::HmacSha1,
            Running::Sha256(_) => Algorithm::HmacSha256,
        }
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// The signature Twilio would send for a form request (`params` empty for GET).
pub fn sign(auth_token: &str, url: &str, params: &Params) -> String {
    sign_with(&SigningKey::new(auth_token), url, params)
}

/// [`sign`] with any key (a shared key's, HMAC-SHA256).
pub fn sign_with(key: &SigningKey, url: &str, params: &Params) -> String {
    let pairs = sorted(params);
    STANDARD.encode(mac(key, url, &pairs).finish())
}

/// Checks `signature` for a form-encoded (or GET) request to `url`.
pub fn verify(
    auth_token: &str,
    url: &str,
    params: &Params,
    signature: Option<&str>,
) -> Result<(), SignatureError> {
    verify_with_key(&SigningKey::new(auth_token), url, params, signature)
}

/// [`verify`] with a key prepared once ([`SigningKey`]): what a server does per request.
pub fn verify_with_key(
    key: &SigningKey,
    url: &str,
    params: &Params,
    signature: Option<&str>,
) -> Result<(), SignatureError> {
    verify_with_keys(&[key], url, params, signature).map(|_| ())
}

/// [`verify_with_key`] for an auth token and the one replacing it (a rotation): the index in
/// `keys` of the key that signed. The parameters are sorted once; each key is tried once per
/// form of the URL, so a second key costs one more HMAC only when the first does not match.
pub fn verify_with_keys(
    keys: &[&SigningKey],
    url: &str,
    params: &Params,
    signature: Option<&str>,
) -> Result<usize, SignatureError> {
    let (buf, len) = decode(signature)?;
    let expected = &buf[..len];
    let pairs = sorted(params);
    // Compared in constant time. The URL as given first: the other forms (the default port,
    // the host in lower case, a bare `?`; a repeated value once) are built only when it does
    // not match.
    let matching = |url: &str, pairs: &[(&str, &str)]| {
        keys.iter()
            .position(|key| mac(key, url, pairs).matches(expected))
    };
    if let Some(index) = matching(url, &pairs) {
        return Ok(index);
    }
    let mut distinct = pairs.clone();
    distinct.dedup();
    let forms: &[&[(&str, &str)]] = if distinct.len() < pairs.len() {
        &[&pairs, &distinct]
    } else {
        &[&pairs]
    };
    let urls = url_variants(url);
    urls.iter()
        .enumerate()
        .flat_map(|(i, candidate)| forms.iter().map(move |form| (i, candidate, form)))
        .filter(|(i, _, form)| *i > 0 || form.len() != pairs.len())
        .find_map(|(_, candidate, form)| matching(candidate, form))
        .ok_or(SignatureError::Mismatch)
}

/// Checks `signature` for a request whose raw body (e.g. JSON) is covered by `bodySHA256` in the
/// URL: the URL alone is signed, the body must hash to the value in the URL.
pub fn verify_with_body(
    auth_token: &str,
    url: &str,
    body: &[u8],
    signature: Option<&str>,
) -> Result<(), SignatureError> {
    verify_body_with_key(&SigningKey::new(auth_token), url, body, signature)
}

/// [`verify_with_body`] with a key prepared once.
pub fn verify_body_with_key(
    key: &SigningKey,
    url: &str,
    body: &[u8],
    signature: Option<&str>,
) -> Result<(), SignatureError> {
    verify_body_with_keys(&[key], url, body, signature).map(|_| ())
}

/// [`verify_body_with_key`] for several keys: the index of the key that signed.
pub fn verify_body_with_keys(
    keys: &[&SigningKey],
    url: &str,
    body: &[u8],
    signature: Option<&str>,
) -> Result<usize, SignatureError> {
    let index = verify_with_keys(keys, url, &Params::new(), signature)?;
    let claimed = query_param(url, "bodySHA256").ok_or(SignatureError::BodyHashMissing)?;
    if claimed.eq_ignore_ascii_case(&body_sha256(body)) {
        Ok(index)
    } else {
        Err(SignatureError::BodyHashMismatch)
    }
}

/// Lowercase hex SHA-256 of `body`, as Twilio puts it in `bodySHA256`.
pub fn body_sha256(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
    }
    out
}

/// The bytes of an HMAC-SHA1 (20) or HMAC-SHA256 (32) signature, decoded on the stack, and
/// their length.
fn decode(signature: Option<&str>) -> Result<([u8; 36], usize), SignatureError> {
    let signature = signature.map(str::trim).unwrap_or_default();
    if signature.is_empty() {
        return Err(SignatureError::Missing);
    }
    // Room for any base64 text a 32-byte value could be written as; longer text does not fit
    // and is malformed anyway.
    let mut buf = [0u8; 36];
    match STANDARD.decode_slice(signature, &mut buf) {
        Ok(len @ (20 | 32)) => Ok((buf, len)),
        _ => Err(SignatureError::Malformed),
    }
}

/// The parameters in signing order: names bytewise, then a repeated name's values.
fn sorted(params: &Params) -> Vec<(&str, &str)> {
    let mut pairs: Vec<(&str, &str)> = params.iter().collect();
    pairs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()).then(a.1.cmp(b.1)));
    pairs
}

fn mac(key: &SigningKey, url: &str, pairs: &[(&str, &str)]) -> Running {
    let mut mac = key.0.clone();
    mac.update(url.as_bytes());
    for (name, value) in pairs {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// `url` as given, then without its default port, or with the default port added; then with
/// the host in lower case (as some libraries sign it) and, without a query, a bare `?` (a
/// webhook URL written with one).
pub fn url_variants(url: &str) -> Vec<String> {
    let mut out = port_variants(url);
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        if authority.bytes().any(|b| b.is_ascii_uppercase()) {
            let lower = format!("{scheme}://{}{tail}", authority.to_ascii_lowercase());
            out.extend(port_variants(&lower));
        }
    }
    if !url.contains('?') {
        let bare = format!("{url}?");
        out.extend(port_variants(&bare));
    }
    out
}

/// `url` as given, then without its default port, or with the default port added.
fn port_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_string()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return out;
    };
    let default_port = if scheme.eq_ignore_ascii_case("https") {
        "443"
    } else if scheme.eq_ignore_ascii_case("http") {
        "80"
    } else {
        return out;
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    // The host may be an IPv6 literal (`[::1]:8443`): a port follows the last `]`.
    let host_end = authority.rfind(']').map_or(0, |i| i + 1);
    match authority[host_end..].rfind(':') {
        Some(colon) => {
            let colon = host_end + colon;
            if &authority[colon + 1..] == default_port {
                out.push(format!("{scheme}://{}{tail}", &authority[..colon]));
            }
        }
        None => out.push(format!("{scheme}://{authority}:{default_port}{tail}")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn params() -> Params {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn either_key_of_a_rotation_verifies_and_says_which() {
        let old = SigningKey::new(TOKEN);
        let new = SigningKey::new("the-new-token");
        let by_old = sign(TOKEN, URL, &params());
        let by_new = sign("the-new-token", URL, &params());
        let keys = [&old, &new];
        assert_eq!(
            verify_with_keys(&keys, URL, &params(), Some(&by_old)),
            Ok(0)
        );
        assert_eq!(
            verify_with_keys(&keys, URL, &params(), Some(&by_new)),
            Ok(1)
        );
        assert_eq!(
            verify_with_keys(&keys[..1], URL, &params(), Some(&by_new)),
            Err(SignatureError::Mismatch)
        );
        let third = sign("someone-else", URL, &params());
        assert_eq!(
            verify_with_keys(&keys, URL, &params(), Some(&third)),
            Err(SignatureError::Mismatch)
        );
        // Signed for the URL with its default port: found among the variants, for either key.
        let with_port = sign(
            "the-new-token",
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &params(),
        );
        assert_eq!(
            verify_with_keys(&keys, URL, &params(), Some(&with_port)),
            Ok(1)
        );
    }

    #[test]
    fn design_vector_plain() {
        assert_eq!(sign(TOKEN, URL, &params()), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert_eq!(
            verify(TOKEN, URL, &params(), Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")),
            Ok(())
        );
    }

    #[test]
    fn design_vector_signed_with_port_443_accepted_without_it_and_back() {
        let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        assert_eq!(
            sign(TOKEN, with_port, &params()),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        );
        assert_eq!(
            verify(TOKEN, URL, &params(), Some("kvajT1Ptam85bY51eRf/AJRuM3w=")),
            Ok(())
        );
        assert_eq!(
            verify(
                TOKEN,
                with_port,
                &params(),
                Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
            ),
            Ok(())
        );
    }

    #[test]
    fn design_vector_http_port_80() {
        let url = "http://mycompany.com:80/myapp.php?foo=1&bar=2";
        assert_eq!(sign(TOKEN, url, &params()), "0ZXoZLH/DfblKGATFgpif+LLRf4=");
        let without = "http://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            verify(
                TOKEN,
                without,
                &params(),
                Some("0ZXoZLH/DfblKGATFgpif+LLRf4=")
            ),
            Ok(())
        );
    }

    #[test]
    fn design_vector_custom_port_is_never_altered() {
        let url = "http://mycompany.com:1234/myapp.php?foo=1&bar=2";
        assert_eq!(sign(TOKEN, url, &params()), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=");
        assert_eq!(
            verify(TOKEN, url, &params(), Some("Zmvh+3yNM1Phv2jhDCwEM3q5ebU=")),
            Ok(())
        );
        assert_eq!(url_variants(url), vec![url.to_string()]);
    }

    #[test]
    fn design_vector_repeated_parameters() {
        let p: Params = [
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ]
        .into_iter()
        .collect();
        assert_eq!(sign(TOKEN, URL, &p), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
        assert_eq!(
            verify(TOKEN, URL, &p, Some("IK+Dwps556ElfBT0I3Rgjkr1wJU=")),
            Ok(())
        );
    }

    #[test]
    fn design_vector_json_body() {
        let body = br#"{"property": "value", "boolean": true}"#;
        let hash = body_sha256(body);
        assert_eq!(
            hash,
            "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
        );
        let url = format!("{URL}&bodySHA256={hash}");
        assert_eq!(
            sign(TOKEN, &url, &Params::new()),
            "a9nBmqA0ju/hNViExpshrM61xv4="
        );
        assert_eq!(
            verify_with_body(TOKEN, &url, body, Some("a9nBmqA0ju/hNViExpshrM61xv4=")),
            Ok(())
        );
        assert_eq!(
            verify_with_body(TOKEN, &url, b"{}", Some("a9nBmqA0ju/hNViExpshrM61xv4=")),
            Err(SignatureError::BodyHashMismatch)
        );
        let sig = sign(TOKEN, URL, &Params::new());
        assert_eq!(
            verify_with_body(TOKEN, URL, body, Some(&sig)),
            Err(SignatureError::BodyHashMissing)
        );
    }

    #[test]
    fn forgeries_are_refused() {
        let good = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
        assert_eq!(
            verify(TOKEN, URL, &params(), None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(TOKEN, URL, &params(), Some(" ")),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(TOKEN, URL, &params(), Some("not base64!")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(TOKEN, URL, &params(), Some("AAAA")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify("54321", URL, &params(), Some(good)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                TOKEN,
                "https://mycompany.com/myapp.php?foo=1&bar=3",
                &params(),
                Some(good)
            ),
            Err(SignatureError::Mismatch)
        );
        let mut changed = params();
        changed.push("Extra", "1");
        assert_eq!(
            verify(TOKEN, URL, &changed, Some(good)),
            Err(SignatureError::Mismatch)
        );
        let swapped = "RSOYDt4T1cUTdK1PDd93/VVr8B9=";
        assert_ne!(verify(TOKEN, URL, &params(), Some(swapped)), Ok(()));
    }

    #[test]
    fn default_port_variants() {
        assert_eq!(
            port_variants("https://h.example/p?q=1"),
            vec!["https://h.example/p?q=1", "https://h.example:443/p?q=1"]
        );
        assert_eq!(
            port_variants("https://h.example:443"),
            vec!["https://h.example:443", "https://h.example"]
        );
        assert_eq!(
            port_variants("http://[::1]:80/x"),
            vec!["http://[::1]:80/x", "http://[::1]/x"]
        );
        assert_eq!(port_variants("ftp://h/x"), vec!["ftp://h/x"]);
        assert_eq!(port_variants("garbage"), vec!["garbage"]);
        // Then a host in lower case, and a bare `?` when there is no query.
        assert_eq!(
            url_variants("https://Voice.Example.com/inbound"),
            vec![
                "https://Voice.Example.com/inbound",
                "https://Voice.Example.com:443/inbound",
                "https://voice.example.com/inbound",
                "https://voice.example.com:443/inbound",
                "https://Voice.Example.com/inbound?",
                "https://Voice.Example.com:443/inbound?",
            ]
        );
    }

    /// Vectors made with twilio-python 9.13's own `RequestValidator.compute_signature(url,
    /// params, algorithm)`.
    #[test]
    fn shared_keys_sign_with_hmac_sha256_as_twilio_python_does() {
        const SHA256: &str = "033hgUJA9M/hXIZsYjwkerEP/DBm35nEri5FhCYjA5s=";
        let key = SigningKey::with_algorithm(TOKEN, Algorithm::HmacSha256);
        assert_eq!(key.algorithm(), Algorithm::HmacSha256);
        assert_eq!(sign_with(&key, URL, &params()), SHA256);
        assert_eq!(
            verify_with_keys(&[&key], URL, &params(), Some(SHA256)),
            Ok(0)
        );
        // The same secret's SHA-1 key does not take a SHA-256 signature, nor the reverse.
        let sha1 = SigningKey::new(TOKEN);
        assert_eq!(
            verify_with_keys(&[&sha1], URL, &params(), Some(SHA256)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_with_keys(
                &[&key],
                URL,
                &params(),
                Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")
            ),
            Err(SignatureError::Mismatch)
        );
        // Neither 20 nor 32 bytes: malformed.
        assert_eq!(
            verify_with_keys(
                &[&key],
                URL,
                &params(),
                Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            ),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn signature_settings_are_read_as_twilio_python_reads_them() {
        let s = SignatureSettings::parse("key=webhooks_sharedkey_1, algorithm=HMAC_SHA256");
        assert_eq!(s.key, Some("webhooks_sharedkey_1"));
        assert_eq!(Algorithm::named(s.algorithm), Some(Algorithm::HmacSha256));
        let none = SignatureSettings::parse("");
        assert_eq!((none.key, none.algorithm), (None, "HMAC_SHA1"));
        let odd = SignatureSettings::parse("algorithm=,key=k,junk");
        assert_eq!((odd.key, odd.algorithm), (Some("k"), "HMAC_SHA1"));
        assert_eq!(Algorithm::named("hmac_sha1"), Some(Algorithm::HmacSha1));
        assert_eq!(Algorithm::named("HMAC_SHA512"), None);
    }

    /// What the helper libraries sign differently, each accepted: a repeated value signed once
    /// (twilio-python), a host in lower case (a URL written in mixed case), a bare `?`.
    #[test]
    fn the_helper_libraries_small_differences_are_accepted() {
        let repeated: Params = [("A", "1"), ("A", "1"), ("B", "2")].into_iter().collect();
        let distinct: Params = [("A", "1"), ("B", "2")].into_iter().collect();
        let url = "https://voice.example.com/inbound";
        for signed in [sign(TOKEN, url, &repeated), sign(TOKEN, url, &distinct)] {
            assert_eq!(verify(TOKEN, url, &repeated, Some(&signed)), Ok(()));
        }
        // A value repeated with another value in between is not a duplicate to drop.
        let other: Params = [("A", "1"), ("A", "2")].into_iter().collect();
        let one: Params = [("A", "1")].into_iter().collect();
        assert_eq!(
            verify(TOKEN, url, &other, Some(&sign(TOKEN, url, &one))),
            Err(SignatureError::Mismatch)
        );
        let mixed = "https://Voice.Example.com/inbound";
        assert_eq!(
            verify(TOKEN, mixed, &distinct, Some(&sign(TOKEN, url, &distinct))),
            Ok(())
        );
        let bare = sign(TOKEN, "https://voice.example.com/inbound?", &distinct);
        assert_eq!(verify(TOKEN, url, &distinct, Some(&bare)), Ok(()));
        // A signature for another host is still refused.
        let elsewhere = sign(TOKEN, "https://evil.example.com/inbound", &distinct);
        assert_eq!(
            verify(TOKEN, url, &distinct, Some(&elsewhere)),
            Err(SignatureError::Mismatch)
        );
    }
}
