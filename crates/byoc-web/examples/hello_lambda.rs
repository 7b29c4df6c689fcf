//! The baseline for cold-start measurements: a hello-world `lambda_http` function built with the
//! same profile and features as the real ones (see docs/performance.md).

use lambda_http::{run, service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_request: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
