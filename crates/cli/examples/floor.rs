//! The bare-HTTP floor `infra/bench/floor.sh` measures `byoc serve` against: the same HTTP stack
//! (axum over hyper, tokio's multi-threaded runtime) answering every request with a fixed TwiML
//! body, and nothing else: no body read, no signature, no lookup, no log line.

use axum::http::header;

const TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Redirect method=\"POST\">https://example.com/flow/1?a=1&amp;b=2</Redirect></Response>";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("floor: listening on http://{}", listener.local_addr()?);
    let app = axum::Router::new()
        .fallback(|| async { ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], TWIML) });
    axum::serve(listener, app).await
}
