//! Backstage's templating is nunjucks; Lever renders with minijinja and reads nunjucks as
//! Backstage templates write it. [`rewrite_expression`] and [`rewrite_template`] change the
//! syntax minijinja does not share (outside string literals only); [`configure`] gives an
//! environment JavaScript's string, array and number methods, Backstage's filters
//! (`parseRepoUrl`, `parseEntityRef`, `pick`, `projectSlug`) and nunjucks' `dump`, and prints
//! values as JavaScript prints them; [`is_truthy`] is Backstage's truthiness. Pure Rust with
//! no I/O, so the guests that render skeletons (`fetch:template`) share it with the host.

mod filters;
mod methods;
mod rewrite;

use minijinja::{Environment, Error, ErrorKind};
use serde_json::Value;

pub use rewrite::{rewrite_expression, rewrite_skeleton, rewrite_template};

/// How `fetch:template` renders a skeleton: Backstage's options.
#[derive(Debug, Clone, Copy, Default)]
pub struct SkeletonSyntax {
    /// `{{ cookiecutter.x }}` instead of `${{ values.x }}`.
    pub cookiecutter: bool,
    /// Drop the first newline after a block tag (nunjucks' `trimBlocks`).
    pub trim_blocks: bool,
    /// Strip whitespace before a block tag on its line (nunjucks' `lstripBlocks`).
    pub lstrip_blocks: bool,
}

impl SkeletonSyntax {
    /// The variable tag's opening: `${{`, or `{{` in cookiecutter mode.
    pub fn variable_open(&self) -> &'static str {
        if self.cookiecutter { "{{" } else { "${{" }
    }
}

/// An environment that renders skeleton files as Backstage's `fetch:template` does (after
/// [`rewrite_skeleton`]): its variable delimiters, nunjucks' trailing newline kept, the
/// filters and methods of [`configure`], and cookiecutter's `jsonify` in cookiecutter mode.
pub fn skeleton_environment(syntax: SkeletonSyntax) -> Result<Environment<'static>, Error> {
    let mut env = Environment::new();
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .block_delimiters("{%", "%}")
            .variable_delimiters(syntax.variable_open(), "}}")
            .comment_delimiters("{#", "#}")
            .build()?,
    );
    env.set_keep_trailing_newline(true);
    env.set_trim_blocks(syntax.trim_blocks);
    env.set_lstrip_blocks(syntax.lstrip_blocks);
    configure(&mut env);
    if syntax.cookiecutter {
        env.add_filter("jsonify", filters::dump);
    }
    Ok(env)
}

/// The filters [`configure`] adds, each with what it does and an example: what Backstage's
/// `GET /v2/templating-extensions` lists.
pub const FILTERS: [(&str, &str, &str); 5] = [
    (
        "parseRepoUrl",
        "Parses a repository URL as the RepoUrlPicker writes it into its host, owner, repo, organization, workspace and project",
        "${{ parameters.repoUrl | parseRepoUrl }}",
    ),
    (
        "parseEntityRef",
        "Parses an entity ref (`kind:namespace/name`, with `defaultKind` and `defaultNamespace`) into kind, namespace and name",
        "${{ parameters.owner | parseEntityRef({ defaultKind: \"group\" }) | pick(\"name\") }}",
    ),
    (
        "projectSlug",
        "The `owner/repo` of a repository URL",
        "${{ parameters.repoUrl | projectSlug }}",
    ),
    (
        "pick",
        "One property of an object",
        "${{ parameters.owner | parseEntityRef | pick(\"name\") }}",
    ),
    (
        "dump",
        "A value as JSON, as nunjucks' dump (`JSON.stringify`), indented by its argument",
        "${{ parameters | dump(2) }}",
    ),
];

/// Adds Backstage's filters, nunjucks' `dump`, JavaScript's methods and JavaScript's printing
/// of values to `env`.
pub fn configure(env: &mut Environment<'_>) {
    env.add_filter("parseRepoUrl", filters::parse_repo_url);
    env.add_filter("parseEntityRef", filters::parse_entity_ref);
    env.add_filter("projectSlug", filters::project_slug);
    env.add_filter("pick", filters::pick);
    env.add_filter("dump", filters::dump);
    env.set_unknown_method_callback(methods::call);
    // Values print as JavaScript prints them: `1` not `1.0`, lists joined by commas,
    // nothing for none.
    env.set_formatter(|out, _state, value| {
        out.write_str(&methods::js_string(value))
            .map_err(|_| Error::new(ErrorKind::WriteFailure, "cannot write the output"))
    });
}

/// Backstage's `isTruthy`: JavaScript's truthiness, except that an empty list is false.
pub fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(syntax: SkeletonSyntax, text: &str, ctx: Value) -> String {
        let env = skeleton_environment(syntax).unwrap();
        env.render_str(&rewrite_skeleton(text, syntax.variable_open()), ctx)
            .unwrap()
    }

    #[test]
    fn skeletons_render_only_their_own_tags_and_keep_the_last_newline() {
        let ctx = json!({"values": {"name": "svc", "ci": "Yes"}});
        let text = "name: ${{ values.name }}\nhelm: {{ .Values.x }}\n{% if values.ci === \"Yes\" %}ci{% endif %}\n";
        assert_eq!(
            render(SkeletonSyntax::default(), text, ctx),
            "name: svc\nhelm: {{ .Values.x }}\nci\n"
        );
        let cookie = SkeletonSyntax {
            cookiecutter: true,
            ..Default::default()
        };
        let ctx = json!({"cookiecutter": {"name": "svc", "tags": ["a"]}});
        assert_eq!(
            render(
                cookie,
                "{{ cookiecutter.name }} {{ cookiecutter.tags | jsonify }}",
                ctx
            ),
            "svc [\"a\"]"
        );
    }

    #[test]
    fn trim_and_lstrip_blocks_are_nunjucks_options() {
        let ctx = json!({"values": {"on": true}});
        let text = "a\n  {% if values.on %}\nb\n  {% endif %}\nc\n";
        assert_eq!(
            render(SkeletonSyntax::default(), text, ctx.clone()),
            "a\n  \nb\n  \nc\n"
        );
        let trimmed = SkeletonSyntax {
            trim_blocks: true,
            lstrip_blocks: true,
            ..Default::default()
        };
        assert_eq!(render(trimmed, text, ctx), "a\nb\nc\n");
    }
}
