//! Opening hours of a contact, evaluated at the clock passed in.

use jiff::ZonedDateTime as Zoned;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;

/// When a contact is staffed, in the pack's time zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hours {
    /// 24 hours a day, 7 days a week.
    Always,
    /// The same open and close time on some days of the week.
    Weekly {
        /// Monday first.
        days: [bool; 7],
        /// Minutes after midnight.
        open: u16,
        /// Minutes after midnight; after `open`.
        close: u16,
    },
}

const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Hours {
    /// Parses `days` (`mon-sat`, `mon,wed,fri`, `daily`) and `HH:MM` times.
    ///
    /// # Errors
    /// A message saying which part is malformed.
    pub fn weekly(days: &str, open: &str, close: &str) -> Result<Hours, String> {
        let mut set = [false; 7];
        for part in days.split(',').map(str::trim) {
            if part == "daily" {
                set = [true; 7];
                continue;
            }
            let (first, last) = match part.split_once('-') {
                Some((a, b)) => (day_index(a.trim())?, day_index(b.trim())?),
                None => {
                    let d = day_index(part)?;
                    (d, d)
                }
            };
            let mut d = first;
            loop {
                set[d] = true;
                if d == last {
                    break;
                }
                d = (d + 1) % 7;
            }
        }
        let open = minutes(open)?;
        let close = minutes(close)?;
        if close <= open {
            return Err(format!(
                "close time must be after open time ({open} >= {close} minutes)"
            ));
        }
        Ok(Hours::Weekly {
            days: set,
            open,
            close,
        })
    }

    /// True when open at `now` (converted to the pack's zone).
    pub fn is_open(&self, now: &Zoned, tz: &TimeZone) -> bool {
        match self {
            Hours::Always => true,
            Hours::Weekly { days, open, close } => {
                let local = now.with_time_zone(tz.clone());
                let day = weekday_index(local.weekday());
                let minute = local.hour() as u16 * 60 + local.minute() as u16;
                days[day] && minute >= *open && minute < *close
            }
        }
    }

    /// The next opening after `now`: (weekday index, minutes), if ever open.
    pub fn next_open(&self, now: &Zoned, tz: &TimeZone) -> Option<(usize, u16)> {
        let Hours::Weekly { days, open, .. } = self else {
            return None;
        };
        let local = now.with_time_zone(tz.clone());
        let today = weekday_index(local.weekday());
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        (0..8)
            .map(|ahead| (today + ahead) % 7)
            .enumerate()
            .find(|&(ahead, day)| days[day] && (ahead > 0 || minute < *open))
            .map(|(_, day)| (day, *open))
    }

    /// Human text, e.g. `Monday–Saturday, 8 a.m. to 8 p.m. CT`.
    pub fn describe(&self, day_names: &[String], always: &str, zone_label: &str) -> String {
        match self {
            Hours::Always => always.to_string(),
            Hours::Weekly { days, open, close } => {
                let day_text = describe_days(days, day_names);
                format!(
                    "{day_text}, {} – {} {zone_label}",
                    clock(*open),
                    clock(*close)
                )
                .trim_end()
                .to_string()
            }
        }
    }
}

/// `8 a.m.`, `8:30 p.m.`, `12 p.m.`
pub fn clock(minutes: u16) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    let suffix = if h < 12 || h == 24 { "a.m." } else { "p.m." };
    let h12 = match h % 12 {
        0 => 12,
        x => x,
    };
    if m == 0 {
        format!("{h12} {suffix}")
    } else {
        format!("{h12}:{m:02} {suffix}")
    }
}

fn describe_days(days: &[bool; 7], names: &[String]) -> String {
    let name = |i: usize| {
        names
            .get(i)
            .cloned()
            .unwrap_or_else(|| DAY_KEYS[i].to_string())
    };
    if days.iter().all(|d| *d) {
        return format!("{}–{}", name(0), name(6));
    }
    // One contiguous run (Monday-based) reads best as a range.
    let first = days.iter().position(|d| *d);
    let last = days.iter().rposition(|d| *d);
    if let (Some(a), Some(b)) = (first, last)
        && days[a..=b].iter().all(|d| *d)
    {
        return if a == b {
            name(a)
        } else {
            format!("{}–{}", name(a), name(b))
        };
    }
    (0..7)
        .filter(|i| days[*i])
        .map(name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn day_index(s: &str) -> Result<usize, String> {
    let key: String = s.to_ascii_lowercase().chars().take(3).collect();
    DAY_KEYS
        .iter()
        .position(|d| *d == key)
        .ok_or_else(|| format!("unknown day {s:?}: use mon, tue, wed, thu, fri, sat, sun or daily"))
}

fn minutes(s: &str) -> Result<u16, String> {
    let bad = || format!("time {s:?} is not HH:MM (24-hour clock)");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if h > 24 || m > 59 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn weekday_index(w: Weekday) -> usize {
    w.to_monday_zero_offset() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Zoned {
        s.parse::<jiff::Timestamp>()
            .expect("valid timestamp")
            .to_zoned_datetime(TimeZone::UTC)
    }

    fn chicago() -> TimeZone {
        TimeZone::get("America/Chicago").expect("bundled tzdb")
    }

    #[test]
    fn weekly_hours_open_and_close() {
        let h = Hours::weekly("mon-sat", "08:00", "20:00").expect("valid");
        // Tuesday 2026-11-24 10:00 CST is 16:00 UTC.
        assert!(h.is_open(&at("2026-11-24T16:00:00Z"), &chicago()));
        // 21:00 CST Tuesday.
        assert!(!h.is_open(&at("2026-11-25T03:00:00Z"), &chicago()));
        // Sunday noon CST.
        assert!(!h.is_open(&at("2026-11-29T18:00:00Z"), &chicago()));
        // Next opening after Sunday noon: Monday 8:00.
        assert_eq!(
            h.next_open(&at("2026-11-29T18:00:00Z"), &chicago()),
            Some((0, 480))
        );
    }

    #[test]
    fn describes_hours() {
        let names: Vec<String> = [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ]
        .map(String::from)
        .to_vec();
        let h = Hours::weekly("mon-sat", "08:00", "20:00").expect("valid");
        assert_eq!(
            h.describe(&names, "24/7", "CT"),
            "Monday–Saturday, 8 a.m. – 8 p.m. CT"
        );
        let d = Hours::weekly("daily", "07:00", "22:00").expect("valid");
        assert_eq!(
            d.describe(&names, "24/7", "CT"),
            "Monday–Sunday, 7 a.m. – 10 p.m. CT"
        );
        assert_eq!(Hours::Always.describe(&names, "24/7", "CT"), "24/7");
    }

    #[test]
    fn rejects_bad_hours() {
        assert!(Hours::weekly("mon-funday", "08:00", "20:00").is_err());
        assert!(Hours::weekly("mon", "8am", "20:00").is_err());
        assert!(Hours::weekly("mon", "20:00", "08:00").is_err());
    }
}
