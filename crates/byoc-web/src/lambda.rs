//! The adapter between `lambda_http` (API Gateway HTTP API payload 2.0 and REST payload 1.0
//! events) and [`App::handle`].

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use lambda_http::{service_fn, Body, Request, Response};

use crate::App;

/// Serves `app` on the Lambda Runtime API until the runtime stops the process.
pub async fn run(app: Arc<App>) -> Result<(), lambda_http::Error> {
    lambda_http::run(service_fn(move |request: Request| {
        let app = Arc::clone(&app);
        async move { Ok::<_, Infallible>(handle(&app, request).await) }
    }))
    .await
}

/// One event through the shared handler. `lambda_http` has already decoded a base64 body.
pub async fn handle(app: &App, request: Request) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(binary) => Bytes::from(binary),
        #[allow(unreachable_patterns)]
        other => Bytes::copy_from_slice(other.as_ref()),
    };
    let response = app.handle(http::Request::from_parts(parts, bytes)).await;
    response.map(Body::Text)
}
