use super::{data::Table, extra};
pub struct Task;
