//! MLflow's proto-JSON read and written: experiments, runs, metrics, registered models and versions
//! from the server's answers, and the small value shapes (key-value lists, int64 as strings,
//! "NaN"/"Infinity" floats) requests and answers use.

use crate::store::entities::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub(super) fn array(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

pub(super) fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

pub(super) fn opt_str(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// proto3 JSON: int64 may come as a number or a string.
pub(super) fn number(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str()?.parse().ok())
}

/// Floats: a number, or "NaN"/"Infinity"/"-Infinity" as strings.
pub(super) fn float(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => match s.as_str() {
            "Infinity" | "inf" => f64::INFINITY,
            "-Infinity" | "-inf" => f64::NEG_INFINITY,
            other => other.parse().unwrap_or(f64::NAN),
        },
        _ => f64::NAN,
    }
}

pub(super) fn kv_map(v: &Value) -> BTreeMap<String, String> {
    array(v)
        .iter()
        .filter_map(|kv| Some((kv["key"].as_str()?.to_string(), str_of(&kv["value"]))))
        .collect()
}

pub(super) fn kv_list<'a>(pairs: impl IntoIterator<Item = (&'a String, &'a String)>) -> Value {
    Value::Array(
        pairs
            .into_iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

pub(super) fn view_name(view: ViewType) -> &'static str {
    match view {
        ViewType::ActiveOnly => "ACTIVE_ONLY",
        ViewType::DeletedOnly => "DELETED_ONLY",
        ViewType::All => "ALL",
    }
}

pub(super) fn parse_experiment(v: &Value) -> Experiment {
    Experiment {
        experiment_id: str_of(&v["experiment_id"]),
        name: str_of(&v["name"]),
        artifact_location: str_of(&v["artifact_location"]),
        lifecycle_stage: Lifecycle::parse(v["lifecycle_stage"].as_str().unwrap_or("active"))
            .unwrap_or(Lifecycle::Active),
        creation_time: number(&v["creation_time"]),
        last_update_time: number(&v["last_update_time"]),
        tags: kv_map(&v["tags"]),
    }
}

pub(super) fn parse_run_info(v: &Value) -> RunInfo {
    RunInfo {
        run_id: opt_str(&v["run_id"]).unwrap_or_else(|| str_of(&v["run_uuid"])),
        run_name: str_of(&v["run_name"]),
        experiment_id: str_of(&v["experiment_id"]),
        user_id: str_of(&v["user_id"]),
        status: v["status"]
            .as_str()
            .and_then(RunStatus::parse)
            .unwrap_or(RunStatus::Running),
        start_time: number(&v["start_time"]).unwrap_or(0),
        end_time: number(&v["end_time"]),
        artifact_uri: str_of(&v["artifact_uri"]),
        lifecycle_stage: Lifecycle::parse(v["lifecycle_stage"].as_str().unwrap_or("active"))
            .unwrap_or(Lifecycle::Active),
    }
}

pub(super) fn parse_metric(v: &Value) -> MetricPoint {
    MetricPoint {
        timestamp: number(&v["timestamp"]).unwrap_or(0),
        value: float(&v["value"]),
        step: number(&v["step"]).unwrap_or(0),
    }
}

pub(super) fn parse_run(v: &Value) -> Run {
    let data = &v["data"];
    let mut metrics = BTreeMap::new();
    for m in array(&data["metrics"]) {
        if let Some(k) = m["key"].as_str() {
            metrics.insert(k.to_string(), parse_metric(m));
        }
    }
    let inputs = array(&v["inputs"]["dataset_inputs"])
        .iter()
        .map(|d| {
            let ds = &d["dataset"];
            DatasetInput {
                name: str_of(&ds["name"]),
                digest: str_of(&ds["digest"]),
                source_type: str_of(&ds["source_type"]),
                context: kv_map(&d["tags"]).remove("mlflow.data.context"),
                source: str_of(&ds["source"]),
                schema: str_of(&ds["schema"]),
                profile: str_of(&ds["profile"]),
            }
        })
        .collect();
    let outputs = array(&v["outputs"]["model_outputs"])
        .iter()
        .filter_map(|o| opt_str(&o["model_id"]))
        .collect();
    Run {
        info: parse_run_info(&v["info"]),
        data: RunData {
            metrics,
            params: kv_map(&data["params"]),
            tags: kv_map(&data["tags"]),
        },
        inputs,
        outputs,
    }
}

pub(super) fn parse_version(v: &Value) -> ModelVersion {
    ModelVersion {
        name: str_of(&v["name"]),
        version: number(&v["version"]).unwrap_or(0) as u64,
        source: str_of(&v["source"]),
        run_id: opt_str(&v["run_id"]),
        model_id: opt_str(&v["model_id"]),
        creation_timestamp: number(&v["creation_timestamp"]).unwrap_or(0),
        last_updated_timestamp: number(&v["last_updated_timestamp"]),
        description: opt_str(&v["description"]),
        current_stage: opt_str(&v["current_stage"]).unwrap_or_else(|| "None".into()),
        status: opt_str(&v["status"]).unwrap_or_else(|| "READY".into()),
        tags: kv_map(&v["tags"]),
        aliases: array(&v["aliases"])
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect(),
    }
}

pub(super) fn parse_registered_model(v: &Value) -> RegisteredModel {
    RegisteredModel {
        name: str_of(&v["name"]),
        description: opt_str(&v["description"]),
        creation_timestamp: number(&v["creation_timestamp"]),
        last_updated_timestamp: number(&v["last_updated_timestamp"]),
        tags: kv_map(&v["tags"]),
        aliases: array(&v["aliases"])
            .iter()
            .filter_map(|a| {
                Some((
                    a["alias"].as_str()?.to_string(),
                    number(&a["version"])? as u64,
                ))
            })
            .collect(),
        latest_version: array(&v["latest_versions"])
            .iter()
            .filter_map(|lv| number(&lv["version"]))
            .max()
            .map(|n| n as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_and_numbers_from_proto_json() {
        assert!(float(&json!("NaN")).is_nan());
        assert_eq!(float(&json!("-Infinity")), f64::NEG_INFINITY);
        assert_eq!(float(&json!(0.25)), 0.25);
        assert_eq!(number(&json!("12")), Some(12));
        assert_eq!(number(&json!(12)), Some(12));
        assert_eq!(float_json(f64::INFINITY), json!("Infinity"));
    }
}
