//! The JSON lines on stdout: one object per event, `{"event": …, "at_ms": …, "meet_id": …, …}`.
//!
//! Lines are written whole under the stdout lock and flushed at once, so a reader (a test, a
//! script) sees each event as it happens.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Writes one event line. `fields` is a JSON object whose members follow `meet_id`.
pub fn emit(event: &str, meet_id: Option<&str>, fields: Value) {
    emit_at(event, now_ms(), meet_id, fields);
}

/// [`emit`] for something that happened at `at_ms` (reported a moment later).
pub fn emit_at(event: &str, at_ms: i64, meet_id: Option<&str>, fields: Value) {
    let line = format_line(event, at_ms, meet_id, &fields);
    let mut out = std::io::stdout().lock();
    // stdout gone (the reader hung up): nothing sensible left to do with the line.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn format_line(event: &str, at_ms: i64, meet_id: Option<&str>, fields: &Value) -> String {
    let mut line = format!(
        "{{\"event\":{},\"at_ms\":{at_ms},\"meet_id\":{}",
        Value::from(event),
        meet_id.map_or(Value::Null, Value::from)
    );
    if let Value::Object(map) = fields {
        for (k, v) in map {
            if matches!(k.as_str(), "event" | "at_ms" | "meet_id") {
                continue;
            }
            line.push(',');
            line.push_str(&Value::from(k.as_str()).to_string());
            line.push(':');
            line.push_str(&v.to_string());
        }
    }
    line.push('}');
    line
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn a_line_is_one_json_object_with_the_common_fields_first() {
        let line = format_line("ring", 42, Some("mt_1"), &json!({"deadline": 7, "event": "ignored"}));
        assert!(line.starts_with(r#"{"event":"ring","at_ms":42,"meet_id":"mt_1""#), "{line}");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["deadline"], 7);
        assert_eq!(v["event"], "ring");
        let none = format_line("signed_in", 1, None, &json!({}));
        assert_eq!(none, r#"{"event":"signed_in","at_ms":1,"meet_id":null}"#);
    }
}
