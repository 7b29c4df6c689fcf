//! The public URL Twilio requested (for signatures) and the URLs built from it.

/// The absolute URL of `/inbound/next` beside the endpoint at `url` (same scheme, host and
/// stage prefix), for failover chains' `<Dial action>`.
pub fn next_url(url: &str) -> String {
    let base = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .trim_end_matches('/');
    for tail in ["/inbound/next", "/inbound/status", "/inbound/fallback"] {
        if let Some(stem) = base.strip_suffix(tail) {
            return format!("{stem}/inbound/next");
        }
    }
    match base.strip_suffix("/inbound") {
        Some(stem) => format!("{stem}/inbound/next"),
        None => format!("{base}/inbound/next"),
    }
}

/// The absolute URL of `/outbound/next` beside the outbound endpoint at `url`, for a failed-over
/// call's `<Dial action>`.
pub fn outbound_next_url(url: &str) -> String {
    let base = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .trim_end_matches('/');
    let stem = base
        .strip_suffix("/outbound/next")
        .or_else(|| base.strip_suffix("/outbound"))
        .unwrap_or(base);
    format!("{stem}/outbound/next")
}

/// The URL Twilio requested, for the signature: `public_base` + path + raw query when a public
/// base URL is configured (custom domains); else the request's own absolute URI (what
/// `lambda_http` builds from Host, `X-Forwarded-Proto`, stage and `rawQueryString`); else
/// `X-Forwarded-Proto` (default `http`) + `Host` + path + raw query (the local server).
/// The query string is used exactly as received, never re-encoded.
pub fn public_url(parts: &http::request::Parts, public_base: Option<&str>) -> String {
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    if let Some(base) = public_base {
        // A custom domain's API mapping key (`https://voice.example.com/router`) may or may not
        // reach us in the path (AWS does not document which for HTTP APIs, and the observed
        // answer has changed): add it only when the path does not already start with it.
        let base_path = base
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("");
        let has_prefix = !base_path.is_empty()
            && path_and_query
                .strip_prefix(base_path)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']));
        if has_prefix {
            let origin = &base[..base.len() - base_path.len()];
            return format!("{origin}{path_and_query}");
        }
        return format!("{base}{path_and_query}");
    }
    if let (Some(scheme), Some(authority)) = (parts.uri.scheme_str(), parts.uri.authority()) {
        return format!("{scheme}://{authority}{path_and_query}");
    }
    let header_str = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or("").trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let scheme = header_str("x-forwarded-proto").unwrap_or_else(|| "http".to_string());
    let host = header_str("host").unwrap_or_else(|| "localhost".to_string());
    format!("{scheme}://{host}{path_and_query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbound_step_sits_beside_the_outbound_endpoint() {
        for (url, next) in [
            (
                "https://h.example.com/outbound?OUTBOUND_DID=%2B1",
                "https://h.example.com/outbound/next",
            ),
            (
                "https://h.example.com/Prod/outbound/",
                "https://h.example.com/Prod/outbound/next",
            ),
            (
                "https://voice.example.com/router/outbound/next?BYOC_ATTEMPT=1",
                "https://voice.example.com/router/outbound/next",
            ),
        ] {
            assert_eq!(outbound_next_url(url), next, "{url}");
        }
    }
}
