pub fn argmax(xs: &[f64]) -> usize {
    super::super::core::Task;
    0
}
