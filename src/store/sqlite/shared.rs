//! Small helpers every entity file of the SQLite store shares: a row's lifecycle stage, the SQL condition of
//! a view, the time now, and the error for a tag that is not there.

use super::*;

/// A row's `lifecycle_stage` (active when it is missing or unknown).
pub(super) fn stage(text: Option<String>) -> Lifecycle {
    text.as_deref()
        .and_then(Lifecycle::parse)
        .unwrap_or(Lifecycle::Active)
}

/// The SQL condition on `lifecycle_stage` a view admits.
pub(super) fn view_sql(view: ViewType) -> &'static str {
    match view {
        ViewType::ActiveOnly => "lifecycle_stage = 'active'",
        ViewType::DeletedOnly => "lifecycle_stage = 'deleted'",
        ViewType::All => "1",
    }
}

pub(super) fn now() -> i64 {
    crate::store::now_ms()
}

/// The error for a tag to delete that `what` does not have (`removed` rows were deleted).
pub(super) fn no_tag_unless_removed(removed: usize, key: &str, what: &str) -> R<()> {
    if removed == 0 {
        return Err(StoreError::InvalidValue {
            what: "tag".into(),
            why: format!("no tag '{key}' on {what}"),
        }
        .into());
    }
    Ok(())
}
