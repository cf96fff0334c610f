//! The time a task took before Lever, as a template declares it
//! (`metadata.annotations["lever.dev/baseline"]`: `3d`, `3-5d`, `4h`, `2w`, `30m`), and
//! durations written for people.

/// The annotation that declares a template's baseline.
pub const BASELINE_ANNOTATION: &str = "lever.dev/baseline";

/// The baseline in milliseconds (the lower bound of a range, so the reduction claimed is the
/// least the figures support), or why the text is not one.
pub fn parse_baseline(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .ok_or_else(|| format!("`{text}` has no unit: write e.g. 3d, 3-5d, 4h, 2w or 30m"))?;
    let (number, unit) = text.split_at(split);
    let unit_ms: i64 = match unit.trim() {
        "m" | "min" | "minutes" => 60_000,
        "h" | "hours" => 3_600_000,
        "d" | "days" => 86_400_000,
        "w" | "weeks" => 7 * 86_400_000,
        other => return Err(format!("`{other}` is not a unit: use m, h, d or w")),
    };
    let lower = number.split(['-', '–']).next().unwrap_or_default().trim();
    let value: f64 = lower
        .parse()
        .map_err(|_| format!("`{text}` does not start with a number"))?;
    if value <= 0.0 {
        return Err(format!("`{text}` must be more than zero"));
    }
    Ok((value * unit_ms as f64) as i64)
}

/// `ms` as people say it: `45 seconds`, `2 minutes`, `3.5 hours`, `3 days`.
pub fn human_duration(ms: i64) -> String {
    let units = [
        (86_400_000.0, "day"),
        (3_600_000.0, "hour"),
        (60_000.0, "minute"),
        (1_000.0, "second"),
    ];
    let ms = ms.max(0) as f64;
    for (size, name) in units {
        if ms >= size {
            let n = ms / size;
            let shown = if n >= 10.0 || (n - n.round()).abs() < 0.05 {
                format!("{}", n.round())
            } else {
                format!("{n:.1}")
            };
            let plural = if shown == "1" { "" } else { "s" };
            return format!("{shown} {name}{plural}");
        }
    }
    format!("{} ms", ms.round())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_parse_with_their_lower_bound() {
        assert_eq!(parse_baseline("3d"), Ok(3 * 86_400_000));
        assert_eq!(parse_baseline("3-5d"), Ok(3 * 86_400_000));
        assert_eq!(parse_baseline("4h"), Ok(4 * 3_600_000));
        assert_eq!(parse_baseline("2 w"), Ok(14 * 86_400_000));
        assert!(parse_baseline("12").unwrap_err().contains("no unit"));
        assert!(parse_baseline("d").unwrap_err().contains("number"));
        assert!(parse_baseline("3y").unwrap_err().contains("not a unit"));
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human_duration(120_000), "2 minutes");
        assert_eq!(human_duration(3 * 86_400_000), "3 days");
        assert_eq!(human_duration(5_400_000), "1.5 hours");
        assert_eq!(human_duration(1_000), "1 second");
        assert_eq!(human_duration(250), "250 ms");
    }
}
