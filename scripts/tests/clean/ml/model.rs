use super::{
    core::{self, Task},
    data::Table,
};
use crate::redact::redact;

pub fn load() -> Table {
    let _ = redact("x");
    Table
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::super::data::Table;

    #[test]
    fn loads() {
        let _ = load();
    }
}
