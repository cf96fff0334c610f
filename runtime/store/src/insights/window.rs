//! How an insights window is read: the whole hours and days inside it from the rollup tables
//! (migration 0007), the partial first and last hour from the rows themselves; and the
//! nearest-rank percentiles of values that come partly exact (raw rows) and partly as E12 bins.

/// An hour, the rollup's finer span (ms).
pub(crate) const HOUR: i64 = 3_600_000;
/// A day, the rollup's coarser span (ms).
pub(crate) const DAY: i64 = 86_400_000;

fn floor(t: i64, span: i64) -> i64 {
    t.div_euclid(span) * span
}

fn ceil(t: i64, span: i64) -> i64 {
    -floor(-t, span)
}

/// A run of rollup buckets of one span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Piece {
    pub span: i64,
    /// First bucket start.
    pub from: i64,
    /// Bucket starts before this.
    pub to: i64,
}

/// A window `[from, to)` cut into weeks and halves. The cuts inside it are moved to the next
/// midnight (UTC): a week starts at the midnight after `from`, the second half at the
/// midnight after the middle. So no hour or day bucket straddles a cut — a bucket's week and
/// half are those of its start — and only the window's own first and last partial hours need
/// reading from the rows, however long the window.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    pub from: i64,
    pub to: i64,
    /// Where week 1 starts, less one week: `from` moved up to midnight.
    weeks_from: i64,
    week_ms: i64,
    /// Where the second half starts.
    pub middle: i64,
}

impl Window {
    pub fn new(from: i64, to: i64, week_ms: i64) -> Self {
        let to = to.max(from);
        Self {
            from,
            to,
            weeks_from: ceil(from, DAY).min(to),
            week_ms,
            middle: ceil(from + (to - from) / 2, DAY).clamp(from, to),
        }
    }

    /// The week `t` falls in (what [`Window::week_sql`] computes in SQL).
    #[cfg(test)]
    pub fn week_of(&self, t: i64) -> i64 {
        if t < self.weeks_from {
            0
        } else {
            (t - self.weeks_from) / self.week_ms
        }
    }

    /// SQL for the week of the time in `column` (the same as [`Window::week_of`]).
    pub fn week_sql(&self, column: &str) -> String {
        format!(
            "CASE WHEN {column} < {} THEN 0 ELSE ({column} - {}) / {} END",
            self.weeks_from, self.weeks_from, self.week_ms
        )
    }

    /// SQL that is 1 for a time in `column` in the first half, else 0.
    pub fn early_sql(&self, column: &str) -> String {
        format!("CASE WHEN {column} < {} THEN 1 ELSE 0 END", self.middle)
    }

    /// The parts read from the rows: `[from, next hour)` and `[last hour, to)` (one range when
    /// the window is within an hour).
    pub fn raw_ranges(&self) -> Vec<(i64, i64)> {
        let (head, tail) = (ceil(self.from, HOUR), floor(self.to, HOUR));
        if head >= tail {
            return vec![(self.from, self.to)];
        }
        [(self.from, head), (tail, self.to)]
            .into_iter()
            .filter(|(a, b)| a < b)
            .collect()
    }

    /// The rollup pieces covering the whole hours of the window: whole days, and hours before
    /// the first and after the last.
    pub fn pieces(&self) -> Vec<Piece> {
        let (head, tail) = (ceil(self.from, HOUR), floor(self.to, HOUR));
        if head >= tail {
            return Vec::new();
        }
        let (day_from, day_to) = (ceil(head, DAY), floor(tail, DAY));
        if day_from >= day_to {
            return vec![Piece {
                span: HOUR,
                from: head,
                to: tail,
            }];
        }
        [
            (HOUR, head, day_from),
            (DAY, day_from, day_to),
            (HOUR, day_to, tail),
        ]
        .into_iter()
        .filter(|(_, a, b)| a < b)
        .map(|(span, from, to)| Piece { span, from, to })
        .collect()
    }

    /// SQL for each piece, true for a rollup row (`span`, `bucket`) in it: read one at a time,
    /// each is a range of the rollup's primary key (an `OR` of them is read by a full scan).
    pub fn rollup_conditions(&self) -> Vec<String> {
        self.pieces()
            .iter()
            .map(|p| {
                format!(
                    "span = {} AND bucket >= {} AND bucket < {}",
                    p.span, p.from, p.to
                )
            })
            .collect()
    }
}

/// The E12 series' mantissas, the bins' lower bounds within a decade.
const E12: [i64; 12] = [10, 12, 15, 18, 22, 27, 33, 39, 47, 56, 68, 82];

/// The E12 bin (lower bound) of `v` ms, as the migration computes it.
pub fn bin(v: i64) -> i64 {
    if v < 10 {
        return v;
    }
    let digits = v.to_string();
    let mantissa: i64 = digits[..2].parse().unwrap_or(10);
    let lower = E12
        .iter()
        .rev()
        .find(|m| **m <= mantissa)
        .copied()
        .unwrap_or(10);
    lower * 10_i64.pow(digits.len() as u32 - 2)
}

/// What a bin stands for: the geometric middle of its bounds (within 12 % of any value in it: the widest E12 step, 12 to 15, is 25 %).
pub fn bin_value(lower: i64) -> i64 {
    if lower < 10 {
        return lower;
    }
    let digits = lower.to_string();
    let scale = 10_i64.pow(digits.len() as u32 - 2);
    let mantissa = lower / scale;
    let upper = E12.iter().find(|m| **m > mantissa).copied().unwrap_or(100) * scale;
    ((lower as f64) * (upper as f64)).sqrt().round() as i64
}

/// Values with their counts, some exact, some binned: the nearest-rank percentiles.
#[derive(Debug, Default, Clone)]
pub(crate) struct Histogram {
    values: Vec<(i64, i64)>,
}

impl Histogram {
    /// `count` values of exactly `value`.
    pub fn add_exact(&mut self, value: i64, count: i64) {
        if count > 0 {
            self.values.push((value, count));
        }
    }

    /// `count` values in the bin whose lower bound is `lower`.
    pub fn add_bin(&mut self, lower: i64, count: i64) {
        self.add_exact(bin_value(lower), count);
    }

    /// How many values.
    pub fn count(&self) -> i64 {
        self.values.iter().map(|(_, n)| n).sum()
    }

    /// The nearest-rank `p`th percentile (`p` in 1..=100), `None` when empty.
    pub fn percentile(&mut self, p: i64) -> Option<i64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        self.values.sort_unstable();
        let rank = (p * n + 99) / 100;
        let mut seen = 0;
        for (value, count) in &self.values {
            seen += count;
            if seen >= rank {
                return Some(*value);
            }
        }
        self.values.last().map(|(v, _)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_every_whole_hour_once_and_no_bucket_straddles_a_cut() {
        let week = 7 * DAY;
        // Not aligned to anything: 28 days from 10:17:05, and 56 years from the epoch.
        let from = 1_700_000_225_000;
        for (from, to) in [(from, from + 28 * DAY), (0, from)] {
            let window = Window::new(from, to, week);
            let pieces = window.pieces();
            assert!(pieces.len() <= 3, "{pieces:?}");
            let mut covered = Vec::new();
            for p in &pieces {
                assert_eq!(p.from % p.span, 0, "{p:?}");
                assert_eq!(p.to % p.span, 0, "{p:?}");
                let mut t = p.from;
                while t < p.to {
                    // Every hour of a bucket is in the week and half of the bucket's start.
                    for h in (t..t + p.span).step_by(HOUR as usize) {
                        assert_eq!(window.week_of(h), window.week_of(t), "{p:?} at {h}");
                        assert_eq!(h < window.middle, t < window.middle, "{p:?} at {h}");
                        if to - from < 60 * DAY {
                            covered.push(h);
                        }
                    }
                    t += p.span;
                }
            }
            if to - from < 60 * DAY {
                covered.sort_unstable();
                let expected: Vec<i64> = (ceil(from, HOUR)..floor(to, HOUR))
                    .step_by(HOUR as usize)
                    .collect();
                assert_eq!(covered, expected);
                assert_eq!(
                    window.raw_ranges(),
                    vec![(from, ceil(from, HOUR)), (floor(to, HOUR), to)]
                );
            }
        }
    }

    #[test]
    fn a_window_within_an_hour_is_all_raw() {
        let window = Window::new(1_000, 2_000, 7 * DAY);
        assert!(window.pieces().is_empty());
        assert_eq!(window.raw_ranges(), vec![(1_000, 2_000)]);
    }

    #[test]
    fn bins_follow_e12_and_stand_within_twelve_percent() {
        assert_eq!(bin(7), 7);
        assert_eq!(bin(10), 10);
        assert_eq!(bin(11), 10);
        assert_eq!(bin(99), 82);
        assert_eq!(bin(120_000), 120_000);
        assert_eq!(bin(179_999), 150_000);
        for v in (10..2_000_000).step_by(997) {
            let stands = bin_value(bin(v));
            let error = (stands - v).abs() as f64 / v as f64;
            assert!(error <= 0.12, "{v} stands as {stands}");
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut h = Histogram::default();
        for v in [5, 1, 4, 2, 3] {
            h.add_exact(v, 1);
        }
        assert_eq!(h.percentile(50), Some(3));
        assert_eq!(h.percentile(90), Some(5));
        assert_eq!(Histogram::default().percentile(50), None);
    }
}
