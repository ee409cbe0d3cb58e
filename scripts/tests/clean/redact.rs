pub fn redact(s: &str) -> String {
    crate::timefmt::stamp(s)
}
