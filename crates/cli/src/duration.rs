//! Durations as people write them: `3s`, `500ms`, `1m30s`, `1.5s`, `2h` (humantime style).

use std::time::Duration;

/// Parses a duration: one or more `<number><unit>` parts, units `ms`, `s`, `m`, `h` (also
/// `sec`, `min`, `us`). `0` alone is allowed; any other number needs a unit.
pub fn parse(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err("empty duration (write e.g. 3s or 500ms)".into());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("{input:?}: expected a number at {rest:?}"));
        }
        let number: f64 =
            rest[..num_len].parse().map_err(|_| format!("{input:?}: bad number {:?}", &rest[..num_len]))?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        let seconds_per = match &rest[..unit_len] {
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hrs" => 3600.0,
            "" => return Err(format!("{input:?}: missing unit (ms, s, m or h)")),
            other => return Err(format!("{input:?}: unknown unit {other:?} (ms, s, m or h)")),
        };
        rest = rest[unit_len..].trim_start();
        total += number * seconds_per;
    }
    if !total.is_finite() || total > 1e9 {
        return Err(format!("{input:?}: too long"));
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_people_write() {
        assert_eq!(parse("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("1m 5s"), Ok(Duration::from_secs(65)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_garbage_without_panicking() {
        for bad in ["", "3", "s", "3x", "1..2s", "-1s", "1e400s", "ms3", "9999999999999h"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
