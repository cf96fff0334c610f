//! Change-freeze windows: one-off (RFC 3339 start and end) or weekly (days and UTC times).
//!
//! Times are computed from Unix milliseconds by hand: the calendar math is a few lines and
//! keeps a date crate out of the dependency tree.

use serde::{Deserialize, Serialize};

const DAY_MS: i64 = 86_400_000;
const MINUTE_MS: i64 = 60_000;

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

impl Weekday {
    /// The three-letter lowercase name (`mon`, ..., `sun`).
    pub fn as_str(self) -> &'static str {
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][self as usize]
    }

    /// Parses `mon`/`monday` (any case) and so on.
    pub fn parse(s: &str) -> Option<Weekday> {
        let lower = s.trim().to_ascii_lowercase();
        WEEK.into_iter()
            .find(|d| lower == d.as_str() || lower == FULL_NAMES[*d as usize])
    }

    /// The weekday of a Unix time in milliseconds (UTC).
    pub fn of_ms(ms: i64) -> Weekday {
        // 1970-01-01 was a Thursday (index 3 from Monday).
        WEEK[(ms.div_euclid(DAY_MS) + 3).rem_euclid(7) as usize]
    }

    fn previous(self) -> Weekday {
        WEEK[(self as usize + 6) % 7]
    }
}

const FULL_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// When a freeze window applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// From `start_ms` (inclusive) to `end_ms` (exclusive).
    Once {
        /// Start, Unix ms.
        start_ms: i64,
        /// End, Unix ms.
        end_ms: i64,
    },
    /// Every listed day between two UTC times of day, both inclusive to the minute. When `from`
    /// is later than `to` the window runs overnight into the next day.
    Weekly {
        /// Days the window starts on.
        days: Vec<Weekday>,
        /// Start, minutes after midnight UTC.
        from_minute: u16,
        /// End, minutes after midnight UTC (inclusive: `23:59` covers the whole last minute).
        to_minute: u16,
    },
}

/// A change-freeze window from config (`freeze_windows:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawWindow", into = "RawWindow")]
pub struct FreezeWindow {
    /// Short name, unique in the config.
    pub name: String,
    /// Why changes are frozen; shown to whoever is held back.
    pub reason: String,
    /// When it applies.
    pub schedule: Schedule,
}

impl FreezeWindow {
    /// Whether the window covers this instant (Unix ms).
    pub fn active_at(&self, now_ms: i64) -> bool {
        match &self.schedule {
            Schedule::Once { start_ms, end_ms } => *start_ms <= now_ms && now_ms < *end_ms,
            Schedule::Weekly {
                days,
                from_minute,
                to_minute,
            } => {
                let minute = (now_ms.rem_euclid(DAY_MS) / MINUTE_MS) as u16;
                let today = Weekday::of_ms(now_ms);
                if from_minute <= to_minute {
                    days.contains(&today) && *from_minute <= minute && minute <= *to_minute
                } else {
                    (days.contains(&today) && minute >= *from_minute)
                        || (days.contains(&today.previous()) && minute <= *to_minute)
                }
            }
        }
    }
}

/// The YAML shape of a window.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    name: String,
    #[serde(default)]
    reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    weekly: Option<RawWeekly>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeekly {
    days: Vec<String>,
    from: String,
    to: String,
}

impl TryFrom<RawWindow> for FreezeWindow {
    type Error = String;

    fn try_from(raw: RawWindow) -> Result<Self, Self::Error> {
        let name = raw.name;
        if name.trim().is_empty() {
            return Err("freeze window `name` is empty".to_string());
        }
        let schedule = match (raw.start, raw.end, raw.weekly) {
            (Some(start), Some(end), None) => {
                let start_ms = parse_rfc3339(&start)
                    .map_err(|e| format!("freeze window `{name}`: start `{start}`: {e}"))?;
                let end_ms = parse_rfc3339(&end)
                    .map_err(|e| format!("freeze window `{name}`: end `{end}`: {e}"))?;
                if end_ms <= start_ms {
                    return Err(format!(
                        "freeze window `{name}`: end `{end}` is not after start `{start}`"
                    ));
                }
                Schedule::Once { start_ms, end_ms }
            }
            (None, None, Some(weekly)) => {
                if weekly.days.is_empty() {
                    return Err(format!(
                        "freeze window `{name}`: weekly.days is empty; list days like [mon, fri]"
                    ));
                }
                let days = weekly
                    .days
                    .iter()
                    .map(|d| {
                        Weekday::parse(d).ok_or_else(|| {
                            format!("freeze window `{name}`: weekly.days: `{d}` is not a day; use mon, tue, wed, thu, fri, sat or sun")
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let from_minute = parse_hh_mm(&weekly.from).ok_or_else(|| {
                    format!(
                        "freeze window `{name}`: weekly.from `{}` is not HH:MM (UTC)",
                        weekly.from
                    )
                })?;
                let to_minute = parse_hh_mm(&weekly.to).ok_or_else(|| {
                    format!(
                        "freeze window `{name}`: weekly.to `{}` is not HH:MM (UTC)",
                        weekly.to
                    )
                })?;
                Schedule::Weekly {
                    days,
                    from_minute,
                    to_minute,
                }
            }
            _ => {
                return Err(format!(
                    "freeze window `{name}`: give either `start` and `end` (RFC 3339) or `weekly: {{days, from, to}}`"
                ));
            }
        };
        Ok(FreezeWindow {
            name,
            reason: raw.reason,
            schedule,
        })
    }
}

impl From<FreezeWindow> for RawWindow {
    fn from(w: FreezeWindow) -> Self {
        let (start, end, weekly) = match w.schedule {
            Schedule::Once { start_ms, end_ms } => (
                Some(format_rfc3339(start_ms)),
                Some(format_rfc3339(end_ms)),
                None,
            ),
            Schedule::Weekly {
                days,
                from_minute,
                to_minute,
            } => (
                None,
                None,
                Some(RawWeekly {
                    days: days.iter().map(|d| d.as_str().to_string()).collect(),
                    from: format!("{:02}:{:02}", from_minute / 60, from_minute % 60),
                    to: format!("{:02}:{:02}", to_minute / 60, to_minute % 60),
                }),
            ),
        };
        RawWindow {
            name: w.name,
            reason: w.reason,
            start,
            end,
            weekly,
        }
    }
}

/// `HH:MM` (24-hour) to minutes after midnight; `24:00` is not accepted (use `23:59`).
fn parse_hh_mm(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Parses an RFC 3339 timestamp (`2026-12-20T00:00:00Z`, optional fraction, `Z` or `+HH:MM`)
/// to Unix milliseconds.
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    const SHAPE: &str = "expected YYYY-MM-DDTHH:MM:SSZ";
    let b = s.trim().as_bytes();
    let num = |from: usize, len: usize| -> Result<i64, String> {
        let part = b.get(from..from + len).ok_or(SHAPE)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(SHAPE.to_string());
        }
        Ok(part.iter().fold(0, |acc, c| acc * 10 + i64::from(c - b'0')))
    };
    let sep = |at: usize, allowed: &[u8]| b.get(at).is_some_and(|c| allowed.contains(c));
    if b.len() < 20
        || !sep(4, b"-")
        || !sep(7, b"-")
        || !sep(10, b"Tt ")
        || !sep(13, b":")
        || !sep(16, b":")
    {
        return Err(SHAPE.to_string());
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(format!("{year:04}-{month:02}-{day:02} is not a date"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(format!(
            "{hour:02}:{minute:02}:{second:02} is not a time of day"
        ));
    }
    let mut at = 19;
    let mut millis = 0;
    if b.get(at) == Some(&b'.') {
        let digits = b[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 {
            return Err(SHAPE.to_string());
        }
        let frac = &b[at + 1..at + 1 + digits.min(3)];
        millis = frac.iter().fold(0, |acc, c| acc * 10 + i64::from(c - b'0'))
            * 10_i64.pow(3 - frac.len() as u32);
        at += 1 + digits;
    }
    let offset_minutes = match b.get(at) {
        Some(b'Z' | b'z') if b.len() == at + 1 => 0,
        Some(sign @ (b'+' | b'-')) if b.len() == at + 6 && b[at + 3] == b':' => {
            let (h, m) = (num(at + 1, 2)?, num(at + 4, 2)?);
            if h > 23 || m > 59 {
                return Err("bad UTC offset".to_string());
            }
            if *sign == b'+' {
                h * 60 + m
            } else {
                -(h * 60 + m)
            }
        }
        _ => return Err(format!("{SHAPE} (the time zone must be Z or +HH:MM)")),
    };
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second.min(59)
            - offset_minutes * 60;
    Ok(seconds * 1000 + millis)
}

/// Formats Unix milliseconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds).
pub fn format_rfc3339(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    let secs = ms.rem_euclid(DAY_MS) / 1000;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}
