//! A fixed range of UDP ports for media sockets: a firewall in front of the server opens one
//! range (`--media-ports 40000-40999`) instead of every ephemeral port.

use std::fmt;
use std::str::FromStr;

/// UDP ports `start..=end` (both included, never port 0). Written and parsed as `START-END`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    start: u16,
    end: u16,
}

/// Why a port range was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortRangeError {
    #[error("expected START-END, e.g. 40000-40999 (got {0:?})")]
    Format(String),
    #[error("{0:?} is not a port number (1-65535)")]
    Port(String),
    #[error("the range {start}-{end} is empty: it must start at or below its end")]
    Empty { start: u16, end: u16 },
}

impl PortRange {
    /// Ports `start..=end`.
    pub fn new(start: u16, end: u16) -> Result<PortRange, PortRangeError> {
        if start == 0 {
            return Err(PortRangeError::Port("0".into()));
        }
        if start > end {
            return Err(PortRangeError::Empty { start, end });
        }
        Ok(PortRange { start, end })
    }

    pub fn start(&self) -> u16 {
        self.start
    }

    pub fn end(&self) -> u16 {
        self.end
    }

    /// How many ports the range holds (at least 1).
    pub fn len(&self) -> usize {
        usize::from(self.end - self.start) + 1
    }

    /// Never: a range holds at least one port.
    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn contains(&self, port: u16) -> bool {
        (self.start..=self.end).contains(&port)
    }

    /// Every port of the range once, beginning at the one `offset` places from the start
    /// (modulo the length) and wrapping around: callers spread consecutive binds over the
    /// range instead of probing the same taken ports first every time.
    pub fn rotated(&self, offset: usize) -> impl Iterator<Item = u16> {
        let (start, len) = (self.start, self.len());
        (0..len).map(move |i| {
            let k = (offset % len + i) % len;
            // k < len ≤ 65535 - start + 1, so this stays within u16.
            start + k as u16
        })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

impl FromStr for PortRange {
    type Err = PortRangeError;

    /// `START-END`, e.g. `40000-40999`; a single port `N` is the range `N-N`.
    fn from_str(s: &str) -> Result<PortRange, PortRangeError> {
        let s = s.trim();
        let (start, end) = match s.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None if !s.is_empty() => (s, s),
            None => return Err(PortRangeError::Format(s.to_owned())),
        };
        if start.is_empty() || end.is_empty() {
            return Err(PortRangeError::Format(s.to_owned()));
        }
        let port = |p: &str| match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(PortRangeError::Port(p.to_owned())),
        };
        PortRange::new(port(start)?, port(end)?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn ranges_parse_as_start_dash_end() {
        let r: PortRange = "40000-40999".parse().unwrap();
        assert_eq!((r.start(), r.end(), r.len()), (40000, 40999, 1000));
        assert_eq!(r.to_string(), "40000-40999");
        assert_eq!(" 5000 - 5001 ".parse::<PortRange>().unwrap(), PortRange::new(5000, 5001).unwrap());
        assert_eq!("7000".parse::<PortRange>().unwrap().len(), 1);
        assert_eq!("1-65535".parse::<PortRange>().unwrap().len(), 65535);
    }

    #[test]
    fn bad_ranges_say_what_is_wrong() {
        assert_eq!("".parse::<PortRange>(), Err(PortRangeError::Format(String::new())));
        assert_eq!("40000-".parse::<PortRange>(), Err(PortRangeError::Format("40000-".into())));
        assert_eq!("-1".parse::<PortRange>(), Err(PortRangeError::Format("-1".into())));
        assert_eq!("a-b".parse::<PortRange>(), Err(PortRangeError::Port("a".into())));
        assert_eq!("0-10".parse::<PortRange>(), Err(PortRangeError::Port("0".into())));
        assert_eq!("1-70000".parse::<PortRange>(), Err(PortRangeError::Port("70000".into())));
        assert_eq!("5-4".parse::<PortRange>(), Err(PortRangeError::Empty { start: 5, end: 4 }));
        let message = "9-1".parse::<PortRange>().unwrap_err().to_string();
        assert!(message.contains("9-1"), "{message}");
    }

    #[test]
    fn rotation_visits_every_port_once_from_the_offset() {
        let r = PortRange::new(10, 13).unwrap();
        assert_eq!(r.rotated(0).collect::<Vec<_>>(), [10, 11, 12, 13]);
        assert_eq!(r.rotated(2).collect::<Vec<_>>(), [12, 13, 10, 11]);
        assert_eq!(r.rotated(9).collect::<Vec<_>>(), [11, 12, 13, 10]);
        let top = PortRange::new(65534, 65535).unwrap();
        assert_eq!(top.rotated(1).collect::<Vec<_>>(), [65535, 65534]);
        assert!(r.contains(10) && r.contains(13) && !r.contains(14) && !r.contains(9));
    }
}
