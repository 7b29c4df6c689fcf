//! The outbound Lambda: answers a Studio TwiML Redirect widget with
//! `<Dial><Number byoc="BY…">+E164</Number></Dial>`. Glue only; the behaviour lives in byoc-core
//! and byoc-web. It never reads routes, so it opens no route store.

use byoc_web::App;

fn main() {
    byoc_web::lambda::main("outbound", |config| async move {
        tracing::info!("outbound ready");
        Ok::<_, std::convert::Infallible>(App::for_outbound(config))
    })
}
