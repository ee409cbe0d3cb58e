pub fn stamp(s: &str) -> String {
    super::redact::redact(s)
}
