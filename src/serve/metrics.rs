//! Request counters and a latency histogram, rendered in Prometheus' text format.

use std::collections::BTreeMap;
use std::sync::Mutex;

const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Inner {
    // Keys are the server's fixed path labels and variant names: no allocation per request.
    requests: BTreeMap<(&'static str, u16), u64>,
    predictions: BTreeMap<&'static str, u64>,
    bucket_counts: [u64; BUCKETS.len()],
    latency_sum: f64,
    latency_count: u64,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    pub fn observe(&self, path: &'static str, status: u16, seconds: f64) {
        let mut m = self.inner.lock().expect("metrics lock");
        *m.requests.entry((path, status)).or_default() += 1;
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                m.bucket_counts[i] += 1;
            }
        }
        m.latency_sum += seconds;
        m.latency_count += 1;
    }

    /// Rows predicted by a model variant (champion or challenger).
    pub fn predicted(&self, variant: &'static str, rows: usize) {
        let mut m = self.inner.lock().expect("metrics lock");
        *m.predictions.entry(variant).or_default() += rows as u64;
    }

    /// The Prometheus exposition; `models` are (variant, name, version) of what is served.
    pub fn render(&self, models: &[(&str, String, String)]) -> String {
        let m = self.inner.lock().expect("metrics lock");
        let mut out = String::new();
        out.push_str("# HELP mlx_requests_total HTTP requests by path and status.\n# TYPE mlx_requests_total counter\n");
        for ((path, status), n) in &m.requests {
            out.push_str(&format!(
                "mlx_requests_total{{path=\"{path}\",status=\"{status}\"}} {n}\n"
            ));
        }
        out.push_str("# HELP mlx_predictions_total Rows predicted by model variant.\n# TYPE mlx_predictions_total counter\n");
        for (variant, n) in &m.predictions {
            out.push_str(&format!(
                "mlx_predictions_total{{variant=\"{variant}\"}} {n}\n"
            ));
        }
        out.push_str("# HELP mlx_request_duration_seconds Request latency.\n# TYPE mlx_request_duration_seconds histogram\n");
        for (i, b) in BUCKETS.iter().enumerate() {
            out.push_str(&format!(
                "mlx_request_duration_seconds_bucket{{le=\"{b}\"}} {}\n",
                m.bucket_counts[i]
            ));
        }
        out.push_str(&format!(
            "mlx_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n",
            m.latency_count
        ));
        out.push_str(&format!(
            "mlx_request_duration_seconds_sum {}\n",
            m.latency_sum
        ));
        out.push_str(&format!(
            "mlx_request_duration_seconds_count {}\n",
            m.latency_count
        ));
        out.push_str(
            "# HELP mlx_model_info The model each variant serves.\n# TYPE mlx_model_info gauge\n",
        );
        for (variant, name, version) in models {
            out.push_str(&format!(
                "mlx_model_info{{variant=\"{variant}\",name=\"{name}\",version=\"{version}\"}} 1\n"
            ));
        }
        out
    }
}
