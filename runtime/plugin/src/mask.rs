//! Secret masking: every value revealed during a run is registered with the run's [`Masker`],
//! and everything of the run is masked before it is stored or shown — each occurrence of a
//! value, or of one of its common encodings, becomes `***`.
//!
//! GitHub Actions and GitLab CI mask known secret values the same way. Like theirs, this is a
//! safety net against a plugin echoing a secret, not a proof: a plugin that transforms a value
//! in a way not listed in [`encodings`] (reversed, hex, XOR) is not caught. `docs/security.md`
//! states the rule and its limits.

use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::Value;

use crate::log::LogLine;

/// What replaces a secret value.
pub const MASK: &str = "***";

/// Values shorter than this are not masked: masking every `a` or `42` would hide the log,
/// not the secret.
pub const MIN_MASKED_CHARS: usize = 4;

/// The secret values of one run and their encodings. Clones share the same values.
#[derive(Clone, Default)]
pub struct Masker(Arc<RwLock<Vec<String>>>);

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the values themselves.
        let count = self.0.read().map(|p| p.len()).unwrap_or(0);
        write!(f, "Masker({count} patterns)")
    }
}

/// The forms of `value` that are masked: as it is, without line breaks (a value printed
/// across lines), JSON-escaped, base64 (standard and URL-safe, padded or not) and
/// percent-encoded.
pub fn encodings(value: &str) -> Vec<String> {
    let mut forms = vec![value.to_string()];
    let unbroken: String = value.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    forms.push(unbroken);
    if let Ok(json) = serde_json::to_string(value) {
        forms.push(json[1..json.len() - 1].to_string());
    }
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        forms.push(engine.encode(value));
    }
    forms.push(percent_encode(value, false));
    forms.push(percent_encode(value, true));
    forms.retain(|f| f.chars().count() >= MIN_MASKED_CHARS);
    forms.sort();
    forms.dedup();
    forms
}

/// RFC 3986 percent-encoding of everything but the unreserved characters; `plus_for_space`
/// gives the `application/x-www-form-urlencoded` form.
fn percent_encode(value: &str, plus_for_space: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            b' ' if plus_for_space => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

impl Masker {
    /// A masker with no values yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a secret value (and its encodings) for masking from now on.
    pub fn register(&self, value: &str) {
        if value.chars().count() < MIN_MASKED_CHARS {
            return;
        }
        let forms = encodings(value);
        let mut patterns = self.0.write().expect("masker lock");
        for form in forms {
            if !patterns.contains(&form) {
                patterns.push(form);
            }
        }
    }

    /// Whether no value is registered (then masking is a no-op).
    pub fn is_empty(&self) -> bool {
        self.0.read().map(|p| p.is_empty()).unwrap_or(true)
    }

    /// The byte ranges of `text` covered by a registered form, merged and in order.
    fn ranges(&self, text: &str) -> Vec<(usize, usize)> {
        let patterns = self.0.read().expect("masker lock");
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for pattern in patterns.iter() {
            // Overlapping occurrences too (`aaaa` in `aaaaaa`), so none leaves a part behind.
            let mut from = 0;
            while let Some(found) = text[from..].find(pattern.as_str()) {
                let at = from + found;
                ranges.push((at, at + pattern.len()));
                from = at + text[at..].chars().next().map_or(1, char::len_utf8);
            }
        }
        ranges.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }

    /// `text` with every registered value replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        if self.is_empty() {
            return text.to_string();
        }
        replace(text, 0, &self.ranges(text))
    }

    /// `value` with every string (and object key) masked.
    pub fn mask_json(&self, value: &Value) -> Value {
        if self.is_empty() {
            return value.clone();
        }
        match value {
            Value::String(s) => Value::String(self.mask(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.mask_json(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.mask(k), self.mask_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Log lines masked as one text, so a value split across consecutive lines (two log calls,
    /// or stdout broken at a newline) is masked in each line that holds a part of it.
    pub fn mask_lines(&self, lines: &[LogLine]) -> Vec<LogLine> {
        if self.is_empty() {
            return lines.to_vec();
        }
        let joined: String = lines.iter().map(|l| l.message.as_str()).collect();
        let ranges = self.ranges(&joined);
        let mut start = 0;
        lines
            .iter()
            .map(|line| {
                let end = start + line.message.len();
                let inside: Vec<(usize, usize)> = ranges
                    .iter()
                    .filter(|(s, e)| *s < end && *e > start)
                    .map(|(s, e)| ((*s).max(start), (*e).min(end)))
                    .collect();
                let message = replace(&joined[start..end], start, &inside);
                start = end;
                LogLine {
                    message,
                    ..line.clone()
                }
            })
            .collect()
    }
}

/// `text` (which starts at byte `offset` of the text `ranges` index) with each range replaced
/// by the mask.
fn replace(text: &str, offset: usize, ranges: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in ranges {
        let (start, end) = (start - offset, end - offset);
        out.push_str(&text[at..start]);
        out.push_str(MASK);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(message: &str) -> LogLine {
        LogLine {
            at_ms: 0,
            source: "plugin".into(),
            level: "info".into(),
            message: message.into(),
        }
    }

    #[test]
    fn every_listed_encoding_is_masked() {
        let masker = Masker::new();
        masker.register("p@ss w/\"ord\"");
        for form in [
            "p@ss w/\"ord\"".to_string(),
            "p@ss w/\\\"ord\\\"".to_string(),
            STANDARD.encode("p@ss w/\"ord\""),
            URL_SAFE_NO_PAD.encode("p@ss w/\"ord\""),
            "p%40ss%20w%2F%22ord%22".to_string(),
            "p%40ss+w%2F%22ord%22".to_string(),
        ] {
            assert_eq!(masker.mask(&format!("x {form} y")), "x *** y", "{form}");
        }
    }

    #[test]
    fn short_values_and_an_empty_masker_leave_text_alone() {
        let masker = Masker::new();
        assert_eq!(masker.mask("hunter2"), "hunter2");
        masker.register("abc");
        assert!(masker.is_empty());
        assert_eq!(masker.mask("abcabc"), "abcabc");
    }

    #[test]
    fn overlapping_occurrences_become_one_mask() {
        let masker = Masker::new();
        masker.register("aaaa");
        assert_eq!(masker.mask("xaaaaaay"), "x***y");
    }

    #[test]
    fn json_strings_and_keys_are_masked_and_other_values_kept() {
        let masker = Masker::new();
        masker.register("s3cr3t-value");
        let value =
            serde_json::json!({"token": "Bearer s3cr3t-value", "s3cr3t-value": 1, "n": [true, 2]});
        assert_eq!(
            masker.mask_json(&value),
            serde_json::json!({"token": "Bearer ***", "***": 1, "n": [true, 2]})
        );
    }

    #[test]
    fn a_value_split_across_lines_is_masked_in_each_part() {
        let masker = Masker::new();
        masker.register("s3cr3t-value");
        let lines = [line("first s3cr3"), line("t-value last"), line("plain")];
        let masked: Vec<String> = masker
            .mask_lines(&lines)
            .into_iter()
            .map(|l| l.message)
            .collect();
        assert_eq!(masked, ["first ***", "*** last", "plain"]);
    }

    #[test]
    fn a_multi_line_value_printed_line_by_line_is_masked() {
        let masker = Masker::new();
        masker.register("-----BEGIN KEY-----\nMIIBOgIBAAJBAK\n-----END KEY-----");
        let lines = [
            line("-----BEGIN KEY-----"),
            line("MIIBOgIBAAJBAK"),
            line("-----END KEY-----"),
        ];
        assert!(masker.mask_lines(&lines).iter().all(|l| l.message == "***"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

        /// Whatever the value (without `*`, which the mask itself is made of) and whatever surrounds it, no registered form survives masking,
        /// in one text or split at any point across two log lines.
        #[test]
        fn no_registered_form_survives(
            secret in "[\\PC&&[^*]]{4,24}", before in "\\PC{0,16}", after in "\\PC{0,16}", split in 0usize..64
        ) {
            let masker = Masker::new();
            masker.register(&secret);
            for form in encodings(&secret) {
                let text = format!("{before}{form}{after}");
                let masked = masker.mask(&text);
                proptest::prop_assert!(!masked.contains(&form), "{text:?} -> {masked:?}");
                let mut at = split % (text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                let lines = masker.mask_lines(&[line(&text[..at]), line(&text[at..])]);
                let joined: String = lines.iter().map(|l| l.message.as_str()).collect();
                proptest::prop_assert!(!joined.contains(&form), "{text:?} split at {at} -> {joined:?}");
            }
        }
    }
}
