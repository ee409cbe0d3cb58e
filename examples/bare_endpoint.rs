//! The serving ceiling for bench/serve_bench.sh: a bare axum endpoint that parses a one-row JSON body and
//! does a 4-feature dot product (the reference point), run side by side with `mlx serve`.
//!
//! Usage: cargo run --release --example bare_endpoint -- PORT

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;

async fn invocations(body: Bytes) -> String {
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let row = &doc["dataframe_records"][0];
    let weights = [
        ("Pclass", -0.9),
        ("Sex", 2.5),
        ("Age", -0.03),
        ("Fare", 0.002),
    ];
    let z: f64 = weights
        .iter()
        .map(|(k, w)| {
            let x = match &row[*k] {
                serde_json::Value::String(s) => f64::from(u8::from(s == "female")),
                v => v.as_f64().unwrap_or(0.0),
            };
            w * x
        })
        .sum();
    format!("{{\"predictions\": [{}]}}", u8::from(z > 0.0))
}

#[tokio::main]
async fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(5097);
    let app = Router::new().route("/invocations", post(invocations));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
