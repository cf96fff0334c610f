//! The token-level rewrite that lets minijinja read nunjucks as Backstage templates write it.
//! Only text outside string literals changes: `===` and `!==` become `==` and `!=`, `null`
//! and `undefined` become `none`, `.length` becomes the `length` filter, and the unquoted keys
//! of an object literal (`{ defaultKind: "group" }`) are quoted. JavaScript method calls
//! (`.includes(…)`) need no rewrite: minijinja hands them to the unknown-method callback.

/// Rewrites one expression (the inside of `${{ … }}` or `{% … %}`).
pub fn rewrite_expression(expr: &str) -> String {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = String::with_capacity(expr.len());
    // The open brackets, innermost last.
    let mut brackets: Vec<char> = Vec::new();
    let mut i = 0;
    let next_non_space = |from: usize| chars[from..].iter().copied().find(|c| !c.is_whitespace());
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' => {
                // A string literal, copied as it is (with its escapes).
                out.push(c);
                i += 1;
                while i < chars.len() {
                    out.push(chars[i]);
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        out.push(chars[i + 1]);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if chars[i - 1] == c {
                        break;
                    }
                }
            }
            '=' | '!' if chars.get(i + 1) == Some(&'=') && chars.get(i + 2) == Some(&'=') => {
                out.push(c);
                out.push('=');
                i += 3;
            }
            '(' | '[' | '{' => {
                brackets.push(c);
                out.push(c);
                i += 1;
            }
            ')' | ']' | '}' => {
                brackets.pop();
                out.push(c);
                i += 1;
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let after_dot = out.ends_with('.');
                let prev = out.trim_end().chars().last();
                if after_dot {
                    if word == "length" && next_non_space(i) != Some('(') {
                        out.pop();
                        out.push_str("|length");
                    } else {
                        out.push_str(&word);
                    }
                } else if brackets.last() == Some(&'{')
                    && matches!(prev, Some('{' | ','))
                    && next_non_space(i) == Some(':')
                {
                    out.push('"');
                    out.push_str(&word);
                    out.push('"');
                } else if word == "null" || word == "undefined" {
                    out.push_str("none");
                } else {
                    out.push_str(&word);
                }
            }
            c if c.is_ascii_digit() => {
                // A number, so that `1.5` is not read as an attribute access.
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    out.push(chars[i]);
                    i += 1;
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Rewrites a template text: every `${{ … }}`, `{{ … }}` and `{% … %}` becomes minijinja's
/// `{{ … }}` / `{% … %}` with its inside rewritten; the text between is kept.
pub fn rewrite_template(text: &str) -> String {
    rewrite_tags(text, &["${{", "{{", "{%"], Some("{{"))
}

/// Rewrites a skeleton file as `fetch:template` renders it: only `variable_open … }}`
/// (`${{`, or `{{` in cookiecutter mode) and `{% … %}` are templating, and they keep their
/// delimiters (the environment is built with that syntax: [`crate::skeleton_environment`]);
/// everything else, a plain `{{ … }}` in a Helm chart included, is text.
pub fn rewrite_skeleton(text: &str, variable_open: &str) -> String {
    rewrite_tags(text, &[variable_open, "{%"], None)
}

/// Rewrites the inside of every tag opened by one of `opens` (closed by `}}`, or `%}` for
/// `{%`); a variable tag is written back opened by `variable_as`, or as it was.
fn rewrite_tags(text: &str, opens: &[&str], variable_as: Option<&str>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = opens
            .iter()
            .filter_map(|open| rest.find(open).map(|at| (at, *open)))
            .min_by_key(|(at, open)| (*at, std::cmp::Reverse(open.len())));
        let Some((at, open)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at]);
        let close = if open == "{%" { "%}" } else { "}}" };
        let inner_start = at + open.len();
        let Some(len) = find_close(&rest[inner_start..], close) else {
            // Unclosed: leave it for the parser to report.
            out.push_str(&rest[at..]);
            return out;
        };
        out.push_str(match (open, variable_as) {
            ("{%", _) | (_, None) => open,
            (_, Some(variable)) => variable,
        });
        out.push_str(&rewrite_expression(&rest[inner_start..inner_start + len]));
        out.push_str(close);
        rest = &rest[inner_start + len + close.len()..];
    }
}

/// Where `close` ends the expression starting at `text` (outside string literals).
fn find_close(text: &str, close: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if bytes[i..].starts_with(close.as_bytes()) => return Some(i),
            None => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_outside_strings_only() {
        assert_eq!(
            rewrite_expression(r#" parameters.enableCI === "Yes" "#),
            r#" parameters.enableCI == "Yes" "#
        );
        assert_eq!(rewrite_expression("a !== 'x === y'"), "a != 'x === y'");
        assert_eq!(rewrite_expression("a.length > 2"), "a|length > 2");
        assert_eq!(rewrite_expression("'a.length'"), "'a.length'");
        assert_eq!(rewrite_expression("x == null"), "x == none");
        assert_eq!(
            rewrite_expression(
                r#"o | parseEntityRef({ defaultKind:"group", defaultNamespace: "ns" })"#
            ),
            r#"o | parseEntityRef({ "defaultKind":"group", "defaultNamespace": "ns" })"#
        );
        assert_eq!(rewrite_expression("x[1:2]"), "x[1:2]");
        assert_eq!(rewrite_expression("1.5 + a.b"), "1.5 + a.b");
        assert_eq!(
            rewrite_expression(r#"'it\'s === ' + b"#),
            r#"'it\'s === ' + b"#
        );
    }

    #[test]
    fn rewrites_each_block_of_a_text() {
        assert_eq!(
            rewrite_template("name: ${{ values.name }}-{{ x === 1 }} {% if a !== b %}y{% endif %}"),
            "name: {{ values.name }}-{{ x == 1 }} {% if a != b %}y{% endif %}"
        );
        assert_eq!(rewrite_template("no blocks"), "no blocks");
        assert_eq!(rewrite_template(r#"${{ "}}" + a }}"#), r#"{{ "}}" + a }}"#);
    }
}
