//! The page templates (`templates/*.html`, embedded in the binary) and the filters they use.

use axum::response::Html;
use minijinja::{Environment, Value};
use serde::Serialize;

use crate::session::Viewer;
use crate::{WebError, WebState};

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates!(
    "base.html",
    "sign_in.html",
    "catalog.html",
    "form.html",
    "form_check.html",
    "run.html",
    "run_body.html",
    "runs.html",
    "resources.html",
    "approvals.html",
    "approval_card.html",
    "inbox.html",
    "unavailable.html",
    "revealed.html",
    "platform.html",
    "insights.html",
    "platform_nav.html",
    "api_reference.html",
);

#[cfg(test)]
mod tests {
    #[test]
    fn minutes_read_as_people_say_them() {
        assert_eq!(super::minutes(45), "45 min");
        assert_eq!(super::minutes(240), "4 h");
        assert_eq!(super::minutes(90), "1 h 30 min");
        assert_eq!(super::minutes(2880), "2 days");
        assert_eq!(super::minutes(0), "0 min");
    }

    #[test]
    fn markdown_keeps_formatting_and_shows_html_as_text() {
        let html = super::markdown("**host** `db` <script>alert(1)</script>").to_string();
        assert!(html.contains("<strong>host</strong>"), "{html}");
        assert!(html.contains("<code>db</code>"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
    }
}

/// `12345` cents → `$123.45`.
fn dollars(cents: i64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

/// Escapes text for HTML built outside the templates.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `150.0` dollars → `$150.00`.
fn usd(amount: f64) -> String {
    format!("${amount:.2}")
}

/// Milliseconds since the epoch → `2026-12-01 10:26:08 UTC`.
/// A moment as a `<time>` element: UTC in the page, turned into the reader's local time by the
/// page's script (`time[data-local]`), which knows their time zone.
fn when(ms: i64) -> Value {
    let iso = lever_identity::format_rfc3339(ms);
    let shown = iso.replace('T', " ").replace('Z', " UTC");
    Value::from_safe_string(format!(
        "<time datetime=\"{iso}\" data-local>{}</time>",
        escape(&shown)
    ))
}

/// A deadline: its local time and how long is left ("… (in 3 h 59 min)"), or that it passed.
fn due(ms: i64) -> Value {
    let left_minutes = (ms - lever_store::now_ms()) / 60_000;
    let left = if left_minutes >= 0 {
        format!("in {}", minutes(left_minutes.max(1)))
    } else {
        format!("{} ago", minutes(-left_minutes))
    };
    Value::from_safe_string(format!("{} ({left})", when(ms)))
}

/// A step error's kind as a sentence's start, for people rather than for code: the stable
/// codes stay in the API's answers.
fn failure(kind: &str) -> &'static str {
    match kind {
        "denied" | "plugin-denied" | "host-not-granted" => "Not allowed",
        "not-configured" => "This Lever is not set up for it yet",
        "invalid-input" | "plugin-invalid-input" | "output-schema" => "The input was not valid",
        "not-found" | "plugin-not-found" => "Something it needs was not found",
        "retryable" | "plugin-retryable" | "instantiate" => "A temporary failure",
        "fuel-exhausted" | "deadline-passed" | "timeout" => "It took too long",
        "memory-limit" | "stack-overflow" | "output-too-large" => "It went over its limits",
        "rejected" => "The approval was rejected",
        "approval-expired" => "The approval expired",
        "cancelled" => "Cancelled",
        "aborted" => "Aborted",
        "template-unavailable" => "This template cannot run here",
        "resource-owned" => "Another team owns it",
        "host-panic" => "Lever failed while running it",
        _ => "It failed",
    }
}

/// A span of minutes as people say it: "45 min", "4 h", "1 h 30 min", "2 days".
fn minutes(m: i64) -> String {
    let (days, hours, mins) = (m / 1440, (m % 1440) / 60, m % 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days} day{}", if days == 1 { "" } else { "s" }));
    }
    if hours > 0 {
        parts.push(format!("{hours} h"));
    }
    if mins > 0 || parts.is_empty() {
        parts.push(format!("{mins} min"));
    }
    parts.join(" ")
}

fn duration(ms: i64) -> String {
    match ms {
        ms if ms < 1_000 => format!("{ms} ms"),
        ms if ms < 60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        ms => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// Markdown (a template's `output.text`) as HTML, with any raw HTML in it shown as text: the
/// content comes from template authors and step outputs, never trusted as markup.
fn markdown(text: &str) -> Value {
    use pulldown_cmark::{Event, Parser};
    let events = Parser::new(text).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    Value::from_safe_string(html)
}

fn pretty(value: Value) -> String {
    serde_json::to_value(&value)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_default()
}

/// The template environment, with every page compiled once.
pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("template {name} does not compile: {e}"));
    }
    env.add_filter("dollars", dollars);
    env.add_filter("usd", usd);
    env.add_filter("when", when);
    env.add_filter("due", due);
    env.add_filter("duration", duration);
    env.add_filter("pretty", pretty);
    env.add_filter("minutes", minutes);
    env.add_filter("failure", |kind: String| failure(&kind));
    env.add_filter("markdown", markdown);
    env
}

/// What every page's layout shows about the signed-in user.
#[derive(Serialize)]
struct Me<'a> {
    id: &'a str,
    name: &'a str,
    team: Option<&'a str>,
    platform: bool,
    approver: bool,
    /// Unread entries of their inbox.
    unread: i64,
}

/// Renders template `name` with `context` plus the layout's `me` and `csrf`.
pub(crate) fn page(
    state: &WebState,
    viewer: Option<&Viewer>,
    name: &str,
    context: Value,
) -> Result<Html<String>, WebError> {
    Ok(Html(fragment(state, viewer, name, context)?))
}

/// Like [`page`], as a string (fragments for htmx and server-sent events).
pub(crate) fn fragment(
    state: &WebState,
    viewer: Option<&Viewer>,
    name: &str,
    context: Value,
) -> Result<String, WebError> {
    let me = viewer.map(|v| {
        Value::from_serialize(Me {
            id: &v.principal.id,
            name: &v.principal.name,
            team: v.principal.team.as_deref(),
            platform: v.principal.is_platform(),
            approver: v.principal.has_role(lever_identity::Role::Approver),
            unread: v.unread,
        })
    });
    let csrf = viewer.map(|v| v.csrf.clone());
    let template = state.templates.get_template(name)?;
    Ok(template.render(minijinja::context! { me, csrf, ..context })?)
}
