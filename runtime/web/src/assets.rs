//! Static assets, embedded in the binary: one stylesheet, htmx and its SSE extension
//! (vendored, licences beside them in `assets/vendor/`), and the page script.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const FILES: &[(&str, &str, &str)] = &[
    ("style.css", "text/css", include_str!("../assets/style.css")),
    (
        "lever.js",
        "text/javascript",
        include_str!("../assets/lever.js"),
    ),
    (
        "htmx.min.js",
        "text/javascript",
        include_str!("../assets/vendor/htmx.min.js"),
    ),
    (
        "sse.js",
        "text/javascript",
        include_str!("../assets/vendor/sse.js"),
    ),
];

/// `GET /assets/{file}`: cached for a day (the names change with Lever's version only).
pub(crate) async fn serve(Path(file): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, mime, body)) => (
            [
                (header::CONTENT_TYPE, *mime),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, format!("no asset `{file}`")).into_response(),
    }
}
