//! The leaf of `ml/`: the small types and arithmetic every other part of `ml/` shares — the task, the
//! named choices, the error types, predictions, and one `argmax`/`softmax`/`sigmoid`. It imports nothing
//! else in `ml/`, so anything may import it without making a circle.

pub mod choice;
pub mod error;
pub mod math;
pub mod params;
pub mod predictions;
pub mod task;

pub use choice::Choice;
pub use error::{DataError, ModelError, PreprocessError};
pub use math::{argmax, sigmoid, softmax, softmax_in_place};
pub use predictions::Predictions;
pub use task::Task;
