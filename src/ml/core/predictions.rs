//! What a model answers for a batch of rows.

/// Predictions for a batch of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// Labels (classification) or values (regression), as JSON values of the label type.
    pub values: Vec<serde_json::Value>,
    /// Class probabilities, row-major (classification only).
    pub proba: Option<Vec<f64>>,
}
