//! Tracking entities with MLflow's names and meanings: experiments, runs, metrics, view types.

use serde::Serialize;
use std::collections::BTreeMap;

/// `lifecycle_stage` of experiments and runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lifecycle {
    Active,
    Deleted,
}

impl Lifecycle {
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Active => "active",
            Lifecycle::Deleted => "deleted",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Lifecycle::Active),
            "deleted" => Some(Lifecycle::Deleted),
            _ => None,
        }
    }
}

/// Which lifecycle stages a listing includes (MLflow's `ViewType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewType {
    #[default]
    ActiveOnly,
    DeletedOnly,
    All,
}

impl ViewType {
    pub fn admits(self, stage: Lifecycle) -> bool {
        match self {
            ViewType::ActiveOnly => stage == Lifecycle::Active,
            ViewType::DeletedOnly => stage == Lifecycle::Deleted,
            ViewType::All => true,
        }
    }
}

/// Run status; stored in `meta.yaml` as MLflow's proto enum integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RunStatus {
    Running,
    Scheduled,
    Finished,
    Failed,
    Killed,
}

impl RunStatus {
    pub fn code(self) -> i64 {
        match self {
            RunStatus::Running => 1,
            RunStatus::Scheduled => 2,
            RunStatus::Finished => 3,
            RunStatus::Failed => 4,
            RunStatus::Killed => 5,
        }
    }
    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            1 => RunStatus::Running,
            2 => RunStatus::Scheduled,
            3 => RunStatus::Finished,
            4 => RunStatus::Failed,
            5 => RunStatus::Killed,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "RUNNING" => RunStatus::Running,
            "SCHEDULED" => RunStatus::Scheduled,
            "FINISHED" => RunStatus::Finished,
            "FAILED" => RunStatus::Failed,
            "KILLED" => RunStatus::Killed,
            _ => return None,
        })
    }
    pub fn is_terminated(self) -> bool {
        matches!(
            self,
            RunStatus::Finished | RunStatus::Failed | RunStatus::Killed
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Experiment {
    pub experiment_id: String,
    pub name: String,
    pub artifact_location: String,
    pub lifecycle_stage: Lifecycle,
    pub creation_time: Option<i64>,
    pub last_update_time: Option<i64>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub run_id: String,
    pub run_name: String,
    pub experiment_id: String,
    pub user_id: String,
    pub status: RunStatus,
    pub start_time: i64,
    pub end_time: Option<i64>,
    pub artifact_uri: String,
    pub lifecycle_stage: Lifecycle,
}

impl RunInfo {
    /// Wall time of the run: end - start, or None while it runs.
    pub fn duration_ms(&self) -> Option<i64> {
        self.end_time.map(|end| end - self.start_time)
    }
}

/// One logged point of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MetricPoint {
    pub timestamp: i64,
    #[serde(serialize_with = "serialize_float")]
    pub value: f64,
    pub step: i64,
}

impl MetricPoint {
    /// MLflow's "latest value" order: the max over (step, timestamp, value).
    pub fn is_later_than(&self, other: &MetricPoint) -> bool {
        (self.step, self.timestamp)
            .cmp(&(other.step, other.timestamp))
            .then(self.value.total_cmp(&other.value))
            .is_gt()
    }
}

/// JSON has no NaN or infinity: write them as strings, as MLflow's REST API does.
pub fn serialize_float<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else if v.is_nan() {
        s.serialize_str("NaN")
    } else if *v > 0.0 {
        s.serialize_str("Infinity")
    } else {
        s.serialize_str("-Infinity")
    }
}

/// A float as MLflow's REST API writes it in JSON: NaN and infinities as strings.
pub fn float_json(v: f64) -> serde_json::Value {
    if v.is_finite() {
        serde_json::json!(v)
    } else if v.is_nan() {
        serde_json::json!("NaN")
    } else if v > 0.0 {
        serde_json::json!("Infinity")
    } else {
        serde_json::json!("-Infinity")
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RunData {
    /// Latest value of each metric.
    pub metrics: BTreeMap<String, MetricPoint>,
    pub params: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

/// A dataset the run used (`inputs/` + `<exp>/datasets/`).
#[derive(Debug, Clone, Serialize)]
pub struct DatasetInput {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub context: Option<String>,
    /// The dataset record's JSON-in-string fields (kept so `mlx sync` can copy the dataset whole).
    #[serde(skip)]
    pub source: String,
    #[serde(skip)]
    pub schema: String,
    #[serde(skip)]
    pub profile: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub info: RunInfo,
    pub data: RunData,
    pub inputs: Vec<DatasetInput>,
    /// Logged model ids this run produced (`outputs/`).
    pub outputs: Vec<String>,
}

#[cfg(test)]
impl Run {
    /// For unit tests: a finished, active run of experiment 0 holding `metrics` (key, value) at step 0.
    pub fn for_test(id: &str, metrics: &[(&str, f64)]) -> Run {
        let mut data = RunData::default();
        for &(k, value) in metrics {
            let point = MetricPoint {
                timestamp: 0,
                value,
                step: 0,
            };
            data.metrics.insert(k.to_string(), point);
        }
        Run {
            info: RunInfo {
                run_id: id.into(),
                run_name: String::new(),
                experiment_id: "0".into(),
                user_id: String::new(),
                status: RunStatus::Finished,
                start_time: 0,
                end_time: None,
                artifact_uri: String::new(),
                lifecycle_stage: Lifecycle::Active,
            },
            data,
            inputs: Vec::new(),
            outputs: Vec::new(),
        }
    }
}

/// One entry of an artifact listing, as `mlflow artifacts list` prints it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ArtifactEntry {
    pub path: String,
    pub is_dir: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
}

/// A dataset record (`<exp>/datasets/<id>/meta.yaml`): MLflow's name, digest and JSON-in-string fields.
#[derive(Debug, Clone, Serialize)]
pub struct Dataset {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    /// JSON text, e.g. `{"uri": "/data/titanic.csv"}`.
    pub source: String,
    /// JSON text: `{"mlflow_colspec": [...]}`.
    pub schema: String,
    /// JSON text: `{"num_rows": N, "num_elements": M}`.
    pub profile: String,
}

/// A model logged by a run (MLflow 3's `<exp>/models/<model_id>/`).
#[derive(Debug, Clone, Serialize)]
pub struct LoggedModel {
    pub model_id: String,
    pub name: String,
    pub experiment_id: String,
    pub source_run_id: String,
    pub artifact_location: String,
}

/// A registered model version.
#[derive(Debug, Clone, Serialize)]
pub struct ModelVersion {
    pub name: String,
    pub version: u64,
    pub source: String,
    pub run_id: Option<String>,
    pub model_id: Option<String>,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: Option<i64>,
    pub description: Option<String>,
    pub current_stage: String,
    pub status: String,
    pub tags: BTreeMap<String, String>,
    /// Aliases pointing at this version.
    pub aliases: Vec<String>,
}

impl ModelVersion {
    /// MLflow marks deleted versions with this stage and keeps their files.
    pub fn is_deleted(&self) -> bool {
        self.current_stage == "Deleted_Internal"
    }
}

/// A registered model.
#[derive(Debug, Clone, Serialize)]
pub struct RegisteredModel {
    pub name: String,
    pub description: Option<String>,
    pub creation_timestamp: Option<i64>,
    pub last_updated_timestamp: Option<i64>,
    pub tags: BTreeMap<String, String>,
    pub aliases: BTreeMap<String, u64>,
    pub latest_version: Option<u64>,
}

/// One move of an alias, as recorded in the alias history.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct AliasMove {
    pub alias: String,
    pub from: Option<u64>,
    pub to: Option<u64>,
    pub user: String,
    pub timestamp: i64,
    /// "set", "rollback" or "delete".
    pub kind: String,
}

/// What a tag belongs to, for [`crate::store::TrackingStore::delete_tag`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagOwner {
    Run(String),
    Experiment(String),
    Model(String),
    Version(String, u64),
}
