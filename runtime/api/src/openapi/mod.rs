//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' `#[utoipa::path]`
//! annotations as the router registers them (utoipa-axum's `routes!`), so a route cannot be
//! served without being described. Served at `GET /api/v1/openapi.json`.

pub(crate) mod schemas;

use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, RefOr};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use schemas::ErrorBody;

/// The document's fixed parts; the paths come from the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lever API",
        description = "Self-service actions and templates run as sandboxed WebAssembly \
            components: publish plugins, templates and policies; preview, submit and follow \
            runs; decide approvals. Every call but the one-click links needs \
            `Authorization: Bearer <token>`; errors are `{\"error\": {\"code\", \"message\"}}` \
            with a message that says what to fix.",
        license(name = "Apache-2.0")
    ),
    modifiers(&Conventions),
    tags(
        (name = "runs", description = "Submit, follow and control runs"),
        (name = "templates", description = "The template catalog: apply, search, validate, preview"),
        (name = "plugins", description = "Published WebAssembly components"),
        (name = "approvals", description = "Approval stages and notifications"),
        (name = "policies", description = "Approval policies (Rego)"),
        (name = "identity", description = "The caller, API tokens and the test clock"),
        (name = "secrets", description = "Secrets sealed at rest"),
        (name = "resources", description = "The resource inventory: what Lever created, for which team"),
        (name = "platform", description = "Bindings, audit trail and insights"),
    )
)]
pub(crate) struct ApiDoc;

/// The conventions every operation shares, added once rather than on 45 handlers: bearer
/// authentication and the errors any authenticated route can answer.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`lever token create`, `POST /api/v1/tokens`) or an OIDC ID token",
                    ))
                    .build(),
            ),
        );
        components
            .schemas
            .insert(ErrorBody::name().into_owned(), ErrorBody::schema());
    }
}

/// The errors any operation behind the bearer check can answer, whatever its handler does.
const SHARED_ERRORS: [(&str, &str); 5] = [
    (
        "400",
        "The request is malformed: its JSON body, query or path; the message says what to fix",
    ),
    ("401", "No valid bearer token"),
    (
        "408",
        "The request took longer than the server's request timeout",
    ),
    ("413", "The body is over the endpoint's limit"),
    (
        "429",
        "Too many requests of this principal in flight; `Retry-After` says when to try again",
    ),
];

/// Adds the shared errors to every operation of `document` that does not describe them itself,
/// and the bearer requirement to every operation (the document is only for `/api/v1`).
pub(crate) fn finish(mut document: Document) -> Document {
    for item in document.paths.paths.values_mut() {
        for operation in operations(item) {
            for (status, description) in SHARED_ERRORS {
                operation
                    .responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| error_response(description));
            }
            operation.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
                "bearer",
                Vec::<String>::new(),
            )]);
        }
    }
    document
}

/// A documented error answer: the error body as JSON.
pub(crate) fn error_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                ErrorBody::name(),
            )))),
        )
        .build()
        .into()
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The document's base: info, tags, security scheme, shared schemas.
pub(crate) fn base() -> Document {
    ApiDoc::openapi()
}
