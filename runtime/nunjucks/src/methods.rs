//! JavaScript's string, array and number methods, as nunjucks lets a template call them on
//! values (`parameters.name.startsWith("svc-")`); minijinja calls this for any method it does
//! not know itself.

use minijinja::value::{ValueKind, from_args};
use minijinja::{Error, ErrorKind, State, Value};

/// The unknown-method callback: JavaScript's methods by the value's kind.
pub(crate) fn call(
    _state: &State<'_, '_>,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    if let Some(s) = value.as_str() {
        return string_method(s, method, args);
    }
    match value.kind() {
        ValueKind::Seq | ValueKind::Iterable => seq_method(value, method, args),
        ValueKind::Number => number_method(value, method, args),
        ValueKind::Map if method == "hasOwnProperty" => {
            let (key,): (String,) = from_args(args)?;
            Ok(Value::from(
                value.get_attr(&key).is_ok_and(|v| !v.is_undefined()),
            ))
        }
        _ => Err(unknown(value, method)),
    }
}

fn unknown(value: &Value, method: &str) -> Error {
    Error::new(
        ErrorKind::UnknownMethod,
        format!(
            "{} has no method `{method}` (Lever knows JavaScript's string methods includes, startsWith, endsWith, toLowerCase, toUpperCase, trim, split, replace, replaceAll, indexOf, slice, substring, padStart, padEnd, repeat, charAt, concat; the array methods includes, indexOf, join, slice, concat, at)",
            value.kind()
        ),
    )
}

/// A JavaScript index (negative counts from the end) clamped into `0..=len`.
fn index(i: i64, len: usize) -> usize {
    if i < 0 {
        len.saturating_sub(i.unsigned_abs() as usize)
    } else {
        (i as usize).min(len)
    }
}

fn string_method(s: &str, method: &str, args: &[Value]) -> Result<Value, Error> {
    let chars: Vec<char> = s.chars().collect();
    let text = |range: std::ops::Range<usize>| -> String { chars[range].iter().collect() };
    Ok(match method {
        "includes" => {
            let (needle,): (String,) = from_args(args)?;
            Value::from(s.contains(&needle))
        }
        "startsWith" => {
            let (prefix,): (String,) = from_args(args)?;
            Value::from(s.starts_with(&prefix))
        }
        "endsWith" => {
            let (suffix,): (String,) = from_args(args)?;
            Value::from(s.ends_with(&suffix))
        }
        "toLowerCase" | "toLocaleLowerCase" => Value::from(s.to_lowercase()),
        "toUpperCase" | "toLocaleUpperCase" => Value::from(s.to_uppercase()),
        "trim" => Value::from(s.trim()),
        "trimStart" => Value::from(s.trim_start()),
        "trimEnd" => Value::from(s.trim_end()),
        "toString" | "valueOf" => Value::from(s),
        "split" => {
            let (separator, limit): (Option<String>, Option<usize>) = from_args(args)?;
            let parts: Vec<String> = match separator {
                None => vec![s.to_string()],
                Some(sep) if sep.is_empty() => chars.iter().map(|c| c.to_string()).collect(),
                Some(sep) => s.split(sep.as_str()).map(str::to_string).collect(),
            };
            Value::from(
                parts
                    .into_iter()
                    .take(limit.unwrap_or(usize::MAX))
                    .collect::<Vec<_>>(),
            )
        }
        // JavaScript's `replace` with a string pattern replaces the first match only.
        "replace" => {
            let (from, to): (String, String) = from_args(args)?;
            Value::from(s.replacen(&from, &to, 1))
        }
        "replaceAll" => {
            let (from, to): (String, String) = from_args(args)?;
            Value::from(s.replace(&from, &to))
        }
        "indexOf" | "lastIndexOf" => {
            let (needle,): (String,) = from_args(args)?;
            let found = if method == "indexOf" {
                s.find(&needle)
            } else {
                s.rfind(&needle)
            };
            Value::from(found.map_or(-1, |byte| s[..byte].chars().count() as i64))
        }
        "slice" => {
            let (start, end): (Option<i64>, Option<i64>) = from_args(args)?;
            let start = index(start.unwrap_or(0), chars.len());
            let end = index(end.unwrap_or(chars.len() as i64), chars.len());
            Value::from(if start < end {
                text(start..end)
            } else {
                String::new()
            })
        }
        "substring" => {
            let (start, end): (i64, Option<i64>) = from_args(args)?;
            let clamp = |i: i64| (i.max(0) as usize).min(chars.len());
            let (a, b) = (clamp(start), clamp(end.unwrap_or(chars.len() as i64)));
            Value::from(text(a.min(b)..a.max(b)))
        }
        "charAt" | "at" => {
            let (i,): (i64,) = from_args(args)?;
            let at = if i < 0 && method == "at" {
                chars.len().checked_sub(i.unsigned_abs() as usize)
            } else {
                usize::try_from(i).ok()
            };
            match at.and_then(|i| chars.get(i)) {
                Some(c) => Value::from(c.to_string()),
                None if method == "at" => Value::UNDEFINED,
                None => Value::from(""),
            }
        }
        "concat" => {
            let mut joined = s.to_string();
            for a in args {
                joined.push_str(&a.to_string());
            }
            Value::from(joined)
        }
        "repeat" => {
            let (n,): (usize,) = from_args(args)?;
            Value::from(s.repeat(n))
        }
        "padStart" | "padEnd" => {
            let (width, fill): (usize, Option<String>) = from_args(args)?;
            let fill: Vec<char> = fill.unwrap_or_else(|| " ".into()).chars().collect();
            let missing = width.saturating_sub(chars.len());
            let pad: String = fill
                .iter()
                .cycle()
                .take(if fill.is_empty() { 0 } else { missing })
                .collect();
            Value::from(if method == "padStart" {
                format!("{pad}{s}")
            } else {
                format!("{s}{pad}")
            })
        }
        _ => return Err(unknown(&Value::from(s), method)),
    })
}

fn seq_method(value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    let items: Vec<Value> = value.try_iter()?.collect();
    Ok(match method {
        "includes" => {
            let (needle,): (Value,) = from_args(args)?;
            Value::from(items.contains(&needle))
        }
        "indexOf" => {
            let (needle,): (Value,) = from_args(args)?;
            Value::from(
                items
                    .iter()
                    .position(|v| *v == needle)
                    .map_or(-1, |i| i as i64),
            )
        }
        "join" => {
            let (separator,): (Option<String>,) = from_args(args)?;
            let parts: Vec<String> = items.iter().map(js_string).collect();
            Value::from(parts.join(separator.as_deref().unwrap_or(",")))
        }
        "toString" => {
            let parts: Vec<String> = items.iter().map(js_string).collect();
            Value::from(parts.join(","))
        }
        "slice" => {
            let (start, end): (Option<i64>, Option<i64>) = from_args(args)?;
            let start = index(start.unwrap_or(0), items.len());
            let end = index(end.unwrap_or(items.len() as i64), items.len());
            Value::from(if start < end {
                items[start..end].to_vec()
            } else {
                Vec::new()
            })
        }
        "concat" => {
            let mut all = items;
            for a in args {
                match a.kind() {
                    ValueKind::Seq | ValueKind::Iterable => all.extend(a.try_iter()?),
                    _ => all.push(a.clone()),
                }
            }
            Value::from(all)
        }
        "at" => {
            let (i,): (i64,) = from_args(args)?;
            let at = if i < 0 {
                items.len().checked_sub(i.unsigned_abs() as usize)
            } else {
                Some(i as usize)
            };
            at.and_then(|i| items.get(i).cloned())
                .unwrap_or(Value::UNDEFINED)
        }
        _ => return Err(unknown(value, method)),
    })
}

fn number_method(value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    Ok(match method {
        "toString" => Value::from(js_string(value)),
        "toFixed" => {
            let (digits,): (Option<usize>,) = from_args(args)?;
            let n = f64::try_from(value.clone())?;
            Value::from(format!("{n:.*}", digits.unwrap_or(0)))
        }
        _ => return Err(unknown(value, method)),
    })
}

/// How JavaScript prints a value in a string: whole floats without `.0`, lists joined by
/// commas, nothing for none.
pub(crate) fn js_string(value: &Value) -> String {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => String::new(),
        ValueKind::Number => match f64::try_from(value.clone()) {
            Ok(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => value.to_string(),
        },
        ValueKind::Seq | ValueKind::Iterable => value
            .try_iter()
            .map(|items| items.map(|v| js_string(&v)).collect::<Vec<_>>().join(","))
            .unwrap_or_default(),
        ValueKind::Map => "[object Object]".into(),
        _ => value.to_string(),
    }
}
