//! `fetch:template`, `fetch:plain` and their `:file` and cookiecutter siblings: files from the
//! template's bundle (a relative `url`, resolved from the template's folder as Backstage
//! resolves it against the repository) or from a repository (an absolute `url`, through the
//! bound `git-provider`'s `download-files`), rendered or copied into the workspace.

use std::path::Path;

use lever_nunjucks::SkeletonSyntax;
use lever_sdk::ActionError;
use lever_sdk::capabilities::git_provider;
use serde_json::{Value, json};

use crate::workspace::{self, Entry};

/// How to fetch.
#[derive(Debug, Clone, Default)]
pub struct Fetch {
    /// Relative (`./skeleton`) or absolute (`https://github.com/o/r/tree/main/x`).
    pub url: String,
    /// Where in the workspace (`./` by default).
    pub target_path: Option<String>,
    /// Render contents and names (`fetch:template`), or copy (`fetch:plain`).
    pub templated: bool,
    /// `values`, seen as `values.x` (or `cookiecutter.x`).
    pub values: Value,
    /// Globs whose files are copied as they are, their names still rendered.
    pub copy_without_templating: Vec<String>,
    /// Globs whose files are copied as they are, names too (deprecated `copyWithoutRender`).
    pub copy_without_render: Vec<String>,
    /// Cookiecutter's `{{ cookiecutter.x }}`, nunjucks' trim/lstrip options.
    pub syntax: SkeletonSyntax,
    /// Only files with this extension are rendered (and lose it): `templateFileExtension`.
    pub template_extension: Option<String>,
    /// Overwrite files already in the workspace.
    pub replace: bool,
}

/// What a fetch did.
#[derive(Debug, Default)]
pub struct Fetched {
    /// Files written.
    pub written: usize,
    /// Files left out: an empty rendered name, or already there without `replace`.
    pub skipped: usize,
}

impl Fetched {
    /// The action's output.
    pub fn output(&self) -> Value {
        json!({"files": self.written, "skipped": self.skipped})
    }
}

fn is_absolute(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// The files `url` names: a folder of the bundle, or of a repository.
pub fn source(url: &str) -> Result<Vec<Entry>, ActionError> {
    if is_absolute(url) {
        let files = git_provider::download_files(url)?;
        return workspace::entries(files);
    }
    let dir = bundle_path(url)?;
    if !dir.is_dir() {
        return Err(ActionError::InvalidInput(format!(
            "url `{url}` is not a folder of the template's bundle"
        )));
    }
    workspace::read_tree(workspace::TEMPLATE_ROOT, &dir)
}

/// One file `url` names (`fetch:*:file`).
pub fn source_file(url: &str) -> Result<Entry, ActionError> {
    if is_absolute(url) {
        let mut files = workspace::entries(git_provider::download_files(url)?)?;
        return match files.len() {
            1 => Ok(files.remove(0)),
            n => Err(ActionError::InvalidInput(format!(
                "url `{url}` names {n} files; fetch:*:file takes one file"
            ))),
        };
    }
    let path = bundle_path(url)?;
    let bytes = std::fs::read(&path).map_err(|_| {
        ActionError::InvalidInput(format!(
            "url `{url}` is not a file of the template's bundle"
        ))
    })?;
    let from_root = path
        .strip_prefix(workspace::TEMPLATE_ROOT)
        .unwrap_or(&path)
        .to_string_lossy()
        .into_owned();
    let executable = std::env::var("LEVER_TEMPLATE_EXECUTABLES")
        .unwrap_or_default()
        .lines()
        .any(|l| l == from_root);
    Ok(Entry {
        path: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bytes,
        executable,
        link: false,
    })
}

/// A relative `url` inside the bundle, from the template's folder.
fn bundle_path(url: &str) -> Result<std::path::PathBuf, ActionError> {
    let folder = std::env::var("LEVER_TEMPLATE_DIR").map_err(|_| {
        ActionError::Fatal(
            "this run's template has no bundle: apply the template with its folder (lever template apply DIR, or a tar/zip bundle) so relative urls resolve".into(),
        )
    })?;
    let folder = folder
        .strip_prefix(workspace::TEMPLATE_ROOT)
        .unwrap_or(&folder)
        .trim_start_matches('/');
    let joined = if folder.is_empty() {
        url.to_string()
    } else {
        format!("{folder}/{url}")
    };
    let relative = workspace::safe_relative(&joined, "url").map_err(|_| {
        ActionError::InvalidInput(format!("url `{url}` leaves the template's bundle"))
    })?;
    Ok(Path::new(workspace::TEMPLATE_ROOT).join(relative))
}

/// Whether `path` (or a folder above it) matches one of `globs` (minimatch with `dot: true`).
fn matches(globs: &[glob::Pattern], path: &str) -> bool {
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let mut at = path;
    loop {
        if globs.iter().any(|g| g.matches_with(at, options)) {
            return true;
        }
        match at.rsplit_once('/') {
            Some((parent, _)) => at = parent,
            None => return false,
        }
    }
}

fn patterns(globs: &[String], what: &str) -> Result<Vec<glob::Pattern>, ActionError> {
    globs
        .iter()
        .map(|g| {
            glob::Pattern::new(g.trim_start_matches("./").trim_end_matches('/'))
                .map_err(|e| ActionError::InvalidInput(format!("{what} `{g}` is not a glob: {e}")))
        })
        .collect()
}

/// Backstage's `isBinaryFile`, closely enough: a NUL byte early, or not UTF-8.
fn is_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(8000)].contains(&0) || std::str::from_utf8(bytes).is_err()
}

/// A rendered name Backstage skips: empty, or with an empty folder name in it.
fn skipped_name(path: &str) -> bool {
    path.is_empty() || path.starts_with('/') || path.ends_with('/') || path.contains("//")
}

/// Renders `text` with `env` and the values; the message names the file and line.
fn render(
    env: &minijinja::Environment<'static>,
    syntax: SkeletonSyntax,
    text: &str,
    context: &Value,
    what: &str,
) -> Result<String, ActionError> {
    let source = lever_nunjucks::rewrite_skeleton(text, syntax.variable_open());
    env.render_str(&source, context).map_err(|e| {
        let line = e.line().map(|l| format!(" (line {l})")).unwrap_or_default();
        ActionError::InvalidInput(format!("cannot render {what}{line}: {e}"))
    })
}

/// The environment a fetch renders with, and what the skeleton sees (`values.x`, or
/// `cookiecutter.x`).
fn engine(fetch: &Fetch) -> Result<(minijinja::Environment<'static>, Value), ActionError> {
    let env = lever_nunjucks::skeleton_environment(fetch.syntax)
        .map_err(|e| ActionError::Fatal(format!("cannot set up the template engine: {e}")))?;
    let context = if fetch.syntax.cookiecutter {
        json!({"cookiecutter": fetch.values})
    } else {
        json!({"values": fetch.values})
    };
    Ok((env, context))
}

/// A file's bytes as written: rendered when an engine is given and the file is text, else as
/// they are (binary files are never rendered).
fn contents(
    engine: Option<(&minijinja::Environment<'static>, &Value)>,
    syntax: SkeletonSyntax,
    bytes: Vec<u8>,
    what: &str,
) -> Result<Vec<u8>, ActionError> {
    match engine {
        Some((env, context)) if !is_binary(&bytes) => {
            let text = std::str::from_utf8(&bytes).expect("checked by is_binary");
            Ok(render(env, syntax, text, context, what)?.into_bytes())
        }
        _ => Ok(bytes),
    }
}

/// Fetches into the workspace.
pub fn run(fetch: &Fetch) -> Result<Fetched, ActionError> {
    workspace::require()?;
    let target =
        workspace::safe_relative(fetch.target_path.as_deref().unwrap_or("."), "targetPath")?;
    let entries = source(&fetch.url)?;
    let (env, context) = engine(fetch)?;
    let without_templating = patterns(&fetch.copy_without_templating, "copyWithoutTemplating")?;
    let without_render = patterns(&fetch.copy_without_render, "copyWithoutRender")?;
    let extension = fetch.template_extension.as_deref();
    let mut done = Fetched::default();
    for entry in entries {
        let (name, contents_templated) = if !fetch.templated {
            (entry.path.clone(), false)
        } else if let Some(extension) = extension {
            let templated = entry.path.ends_with(extension);
            let name = if templated {
                entry.path[..entry.path.len() - extension.len()].to_string()
            } else {
                entry.path.clone()
            };
            let name = render(
                &env,
                fetch.syntax,
                &name,
                &context,
                &format!("the name `{}`", entry.path),
            )?;
            (name, templated)
        } else if matches(&without_render, &entry.path) {
            (entry.path.clone(), false)
        } else {
            let name = render(
                &env,
                fetch.syntax,
                &entry.path,
                &context,
                &format!("the name `{}`", entry.path),
            )?;
            (name, !matches(&without_templating, &entry.path))
        };
        if skipped_name(&name) {
            done.skipped += 1;
            continue;
        }
        let name = workspace::safe_relative(&name, "rendered file name")?;
        let relative = if target.is_empty() {
            name
        } else {
            format!("{target}/{name}")
        };
        if !fetch.replace && workspace::path(&relative).exists() {
            done.skipped += 1;
            continue;
        }
        if entry.link {
            // A symbolic link is copied as it is: its name rendered, its target not.
            workspace::write_entry(&relative, &entry)?;
            done.written += 1;
            continue;
        }
        let what = format!("`{}`", entry.path);
        let bytes = contents(
            contents_templated.then_some((&env, &context)),
            fetch.syntax,
            entry.bytes,
            &what,
        )?;
        workspace::write(&relative, &bytes, entry.executable)?;
        done.written += 1;
    }
    lever_sdk::log::info(&format!(
        "fetched {} into {}: {} files written, {} skipped",
        fetch.url,
        if target.is_empty() {
            "the workspace"
        } else {
            &target
        },
        done.written,
        done.skipped
    ));
    Ok(done)
}

/// Fetches one file to `target_path` (`fetch:template:file`, `fetch:plain:file`).
pub fn run_file(fetch: &Fetch) -> Result<Fetched, ActionError> {
    workspace::require()?;
    let target = fetch.target_path.as_deref().ok_or_else(|| {
        ActionError::InvalidInput("targetPath is required: the file's path in the workspace".into())
    })?;
    let relative = workspace::safe_relative(target, "targetPath")?;
    if relative.is_empty() {
        return Err(ActionError::InvalidInput(
            "targetPath names the workspace itself; give a file path".into(),
        ));
    }
    let entry = source_file(&fetch.url)?;
    if !fetch.replace && workspace::path(&relative).exists() {
        return Ok(Fetched {
            written: 0,
            skipped: 1,
        });
    }
    let engine = if fetch.templated {
        Some(engine(fetch)?)
    } else {
        None
    };
    let bytes = contents(
        engine.as_ref().map(|(env, context)| (env, context)),
        fetch.syntax,
        entry.bytes,
        &format!("`{}`", fetch.url),
    )?;
    workspace::write(&relative, &bytes, entry.executable)?;
    Ok(Fetched {
        written: 1,
        skipped: 0,
    })
}

/// `templateFileExtension`: `true` means `.njk`.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Extension {
    /// `true`: `.njk`; `false`: every file is rendered.
    On(bool),
    /// The extension (`.jinja`).
    Named(String),
}

/// The input of `fetch:template` (and, with cookiecutter defaults, `fetch:cookiecutter`), as
/// Backstage's action takes it.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateInput {
    /// The skeleton: relative to the template's folder (`./skeleton`) or a repository URL.
    pub url: String,
    /// Where in the workspace to write (`./`).
    #[serde(default)]
    pub target_path: Option<String>,
    /// The values the skeleton sees as `values.x`.
    #[serde(default)]
    pub values: Option<Value>,
    /// Globs copied without rendering their contents (names still rendered).
    #[serde(default)]
    pub copy_without_templating: Option<Vec<String>>,
    /// Deprecated: globs copied without rendering contents or names.
    #[serde(default)]
    pub copy_without_render: Option<Vec<String>>,
    /// `{{ cookiecutter.x }}` syntax.
    #[serde(default)]
    pub cookiecutter_compat: Option<bool>,
    /// Only files with this extension are rendered, and lose it.
    #[serde(default)]
    pub template_file_extension: Option<Extension>,
    /// Overwrite files already in the workspace.
    #[serde(default)]
    pub replace: Option<bool>,
    /// nunjucks' `trimBlocks`.
    #[serde(default)]
    pub trim_blocks: Option<bool>,
    /// nunjucks' `lstripBlocks`.
    #[serde(default)]
    pub lstrip_blocks: Option<bool>,
    /// Backstage's token for private sources; Lever's adapters use their binding's.
    #[serde(default)]
    pub token: Option<String>,
}

impl TemplateInput {
    /// The fetch it asks for (`cookiecutter` forces cookiecutter syntax).
    pub fn fetch(self, cookiecutter: bool) -> Fetch {
        Fetch {
            url: self.url,
            target_path: self.target_path,
            templated: true,
            values: self.values.unwrap_or_else(|| json!({})),
            copy_without_templating: self.copy_without_templating.unwrap_or_default(),
            copy_without_render: self.copy_without_render.unwrap_or_default(),
            syntax: SkeletonSyntax {
                cookiecutter: cookiecutter || self.cookiecutter_compat.unwrap_or(false),
                trim_blocks: self.trim_blocks.unwrap_or(false),
                lstrip_blocks: self.lstrip_blocks.unwrap_or(false),
            },
            template_extension: match self.template_file_extension {
                None | Some(Extension::On(false)) => None,
                Some(Extension::On(true)) => Some(".njk".into()),
                Some(Extension::Named(e)) if e.starts_with('.') => Some(e),
                Some(Extension::Named(e)) => Some(format!(".{e}")),
            },
            replace: self.replace.unwrap_or(false),
        }
    }
}

/// The input of `fetch:plain` and `fetch:plain:file`.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlainInput {
    /// Relative to the template's folder, or a repository URL.
    pub url: String,
    /// Where in the workspace to write.
    #[serde(default)]
    pub target_path: Option<String>,
    /// Backstage's token for private sources; Lever's adapters use their binding's.
    #[serde(default)]
    pub token: Option<String>,
}

impl PlainInput {
    /// The fetch it asks for: every file copied as it is.
    pub fn fetch(self) -> Fetch {
        Fetch {
            url: self.url,
            target_path: self.target_path,
            values: json!({}),
            replace: true,
            ..Default::default()
        }
    }
}
