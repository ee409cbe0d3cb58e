pub fn stamp(s: &str) -> String {
    s.to_string()
}
