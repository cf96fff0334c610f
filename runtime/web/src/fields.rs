//! A template's form as HTML fields: each `spec.parameters` page's JSON Schema (and its
//! `ui:*` keys and Backstage field extensions) turned into fields with widgets, values and
//! suggestions, in the order the template writes them; and a submitted form turned back into
//! the parameters the one validator (`lever_templates::Form`) checks.
//!
//! Conditional fields (`dependencies` with `oneOf`, `if`/`then`/`else`) carry the schema that
//! must hold for them to show; the server evaluates it with the jsonschema crate on every
//! change and the page shows or hides them.

use std::collections::HashMap;

use lever_identity::Config;
use lever_templates::pickers::RepoUrl;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// One `<option>` or suggestion.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Choice {
    pub(crate) value: String,
    pub(crate) label: String,
}

/// The three inputs of a `RepoUrlPicker`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RepoParts {
    hosts: Vec<String>,
    owners: Vec<String>,
    host: String,
    owner: String,
    repo: String,
}

/// One field of a page.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Field {
    /// The input's name: the parameter's dotted path.
    pub(crate) name: String,
    /// The element id (`f-` and the path with dashes).
    pub(crate) id: String,
    title: String,
    description: Option<String>,
    help: Option<String>,
    placeholder: Option<String>,
    required: bool,
    /// `text`, `textarea`, `password`, `number`, `checkbox`, `select`, `radio`,
    /// `checkboxes`, `lines`, `repo-url` or `json`.
    pub(crate) widget: &'static str,
    /// JSON type: `string`, `number`, `integer`, `boolean`, `array`, `object`.
    kind: String,
    options: Vec<Choice>,
    suggestions: Vec<Choice>,
    value: String,
    values: Vec<String>,
    pattern: Option<String>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    autofocus: bool,
    rows: Option<u64>,
    /// The Backstage field extension, when there is one.
    extension: Option<String>,
    /// Shown under an extension this UI does not know.
    note: Option<String>,
    repo: Option<RepoParts>,
    /// Index of the condition that must hold for the field to show.
    pub(crate) condition: Option<usize>,
    /// The value is a secret: masked in the review.
    pub(crate) secret: bool,
}

/// One page of the form.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PageModel {
    title: String,
    description: Option<String>,
    pub(crate) fields: Vec<Field>,
}

/// A whole form.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FormModel {
    pub(crate) pages: Vec<PageModel>,
    /// Schemas that must validate the parameters for conditional fields to show.
    #[serde(skip)]
    conditions: Vec<Value>,
}

/// What the pickers can offer: users, groups and registered components.
pub(crate) struct Directory<'a> {
    /// The identity config.
    pub(crate) config: &'a Config,
    /// The host of the bound git provider, if any.
    pub(crate) git_host: Option<String>,
    /// Entities registered by runs (`component:default/x`).
    pub(crate) registered: Vec<String>,
}

impl Directory<'_> {
    fn entities(&self, kinds: &[String]) -> Vec<Choice> {
        let wants = |k: &str| kinds.is_empty() || kinds.iter().any(|x| x.eq_ignore_ascii_case(k));
        let mut out = Vec::new();
        if wants("group") {
            out.extend(self.config.groups.iter().map(|g| Choice {
                value: format!("group:default/{}", g.name),
                label: format!("{} (group)", g.name),
            }));
            // Teams named only on users are groups too.
            for team in self.config.users.iter().filter_map(|u| u.team.as_ref()) {
                let value = format!("group:default/{team}");
                if !out.iter().any(|c| c.value == value) {
                    out.push(Choice {
                        value,
                        label: format!("{team} (team)"),
                    });
                }
            }
        }
        if wants("user") {
            out.extend(self.config.users.iter().map(|u| Choice {
                value: format!("user:default/{}", u.id),
                label: format!("{} (user)", u.name.as_deref().unwrap_or(&u.id)),
            }));
        }
        for entity in &self.registered {
            let kind = entity.split(':').next().unwrap_or_default();
            if !matches!(kind, "group" | "user") && wants(kind) {
                out.push(Choice {
                    value: entity.clone(),
                    label: format!("{entity} (registered by a run)"),
                });
            }
        }
        out
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// The value of a field as the input shows it.
fn shown(value: Option<&Value>) -> (String, Vec<String>) {
    match value {
        None | Some(Value::Null) => (String::new(), Vec::new()),
        Some(Value::String(s)) => (s.clone(), vec![s.clone()]),
        Some(Value::Bool(b)) => (b.to_string(), vec![b.to_string()]),
        Some(Value::Number(n)) => (n.to_string(), vec![n.to_string()]),
        Some(Value::Array(items)) => {
            let values: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            (values.join("\n"), values)
        }
        Some(other) => (
            serde_json::to_string_pretty(other).unwrap_or_default(),
            Vec::new(),
        ),
    }
}

/// The property names of `properties` in the order the template's source writes them
/// (serde_json's maps are sorted; the YAML keeps the author's order), then `ui:order`.
fn ordered(
    properties: &Map<String, Value>,
    source: Option<&serde_yaml::Value>,
    ui_order: &[String],
) -> Vec<String> {
    let mut names: Vec<String> = source
        .and_then(|s| s.get("properties"))
        .and_then(serde_yaml::Value::as_mapping)
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .filter(|k| properties.contains_key(k))
                .collect()
        })
        .unwrap_or_default();
    for name in properties.keys() {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    if ui_order.is_empty() {
        return names;
    }
    let listed: Vec<&String> = ui_order.iter().filter(|n| *n != "*").collect();
    let rest: Vec<String> = names
        .iter()
        .filter(|n| !listed.contains(n))
        .cloned()
        .collect();
    let mut out = Vec::new();
    for entry in ui_order {
        if entry == "*" {
            out.extend(rest.iter().cloned());
        } else if names.contains(entry) {
            out.push(entry.clone());
        }
    }
    if !ui_order.iter().any(|e| e == "*") {
        out.extend(rest);
    }
    out
}

struct Builder<'a> {
    directory: &'a Directory<'a>,
    values: &'a Value,
    conditions: Vec<Value>,
}

fn lookup<'v>(values: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(values, |v, key| v.get(key))
}

impl Builder<'_> {
    /// The fields of one object schema (a page, a nested object, a conditional branch).
    fn fields(
        &mut self,
        schema: &Value,
        source: Option<&serde_yaml::Value>,
        prefix: &str,
        condition: Option<usize>,
        out: &mut Vec<Field>,
    ) {
        let empty = Map::new();
        let properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let required = strings(schema.get("required"));
        let order = ordered(properties, source, &strings(schema.get("ui:order")));
        for name in order {
            let property = &properties[&name];
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            let property_source = source
                .and_then(|s| s.get("properties"))
                .and_then(|p| p.get(name.as_str()));
            if property.get("type").and_then(Value::as_str) == Some("object")
                && property.get("properties").is_some()
                && property.get("ui:field").is_none()
            {
                self.fields(property, property_source, &path, condition, out);
            } else {
                out.push(self.field(property, &path, required.contains(&name), condition));
            }
            // `dependencies` with `oneOf`: a branch's other fields show when its own copy of
            // this field's schema holds.
            if let Some(branches) = schema
                .get("dependencies")
                .and_then(|d| d.get(&name))
                .and_then(|d| d.get("oneOf"))
                .and_then(Value::as_array)
            {
                let branch_sources = source
                    .and_then(|s| s.get("dependencies"))
                    .and_then(|d| d.get(name.as_str()))
                    .and_then(|d| d.get("oneOf"))
                    .and_then(serde_yaml::Value::as_sequence);
                for (i, branch) in branches.iter().enumerate() {
                    let Some(trigger) = branch.get("properties").and_then(|p| p.get(&name)) else {
                        continue;
                    };
                    let index = self.condition(nest(
                        prefix,
                        json!({"properties": {name.clone(): trigger}, "required": [name.clone()]}),
                    ));
                    let mut rest = branch.clone();
                    if let Some(p) = rest.get_mut("properties").and_then(Value::as_object_mut) {
                        p.remove(&name);
                    }
                    let branch_source = branch_sources.and_then(|b| b.get(i));
                    self.fields(&rest, branch_source, prefix, Some(index), out);
                }
            }
        }
        // `if`/`then`/`else`, also inside `allOf`.
        let mut rules: Vec<(&Value, Option<&serde_yaml::Value>)> = vec![(schema, source)];
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            let all_sources = source
                .and_then(|s| s.get("allOf"))
                .and_then(serde_yaml::Value::as_sequence);
            for (i, rule) in all.iter().enumerate() {
                rules.push((rule, all_sources.and_then(|a| a.get(i))));
            }
        }
        for (rule, rule_source) in rules {
            let Some(condition_schema) = rule.get("if") else {
                continue;
            };
            for (branch, negate) in [("then", false), ("else", true)] {
                if let Some(body) = rule.get(branch) {
                    let schema = if negate {
                        json!({"not": condition_schema})
                    } else {
                        condition_schema.clone()
                    };
                    let index = self.condition(nest(prefix, schema));
                    let body_source = rule_source.and_then(|s| s.get(branch));
                    self.fields(body, body_source, prefix, Some(index), out);
                }
            }
        }
    }

    fn condition(&mut self, schema: Value) -> usize {
        self.conditions.push(schema);
        self.conditions.len() - 1
    }

    fn field(
        &self,
        property: &Value,
        path: &str,
        required: bool,
        condition: Option<usize>,
    ) -> Field {
        let kind = text(property.get("type")).unwrap_or_else(|| "string".into());
        let extension = text(property.get("ui:field"));
        let widget_hint = text(property.get("ui:widget"));
        let options_json = property.get("ui:options");
        let names = strings(property.get("enumNames"));
        let enum_choices = |values: Option<&Value>| -> Vec<Choice> {
            values
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            let value = match v {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            Choice {
                                label: names.get(i).cloned().unwrap_or_else(|| value.clone()),
                                value,
                            }
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut options = enum_choices(property.get("enum"));
        let mut suggestions = Vec::new();
        let mut note = None;
        let mut repo = None;
        let (value, values) = shown(lookup(self.values, path));
        let mut widget: &'static str = match (kind.as_str(), widget_hint.as_deref()) {
            ("boolean", _) => "checkbox",
            ("array", _) if property.pointer("/items/enum").is_some() => {
                options = enum_choices(property.pointer("/items/enum"));
                "checkboxes"
            }
            ("array", _) => "lines",
            ("object", _) => "json",
            (_, Some("password")) => "password",
            (_, Some("textarea")) => "textarea",
            (_, Some("radio")) if !options.is_empty() => "radio",
            _ if !options.is_empty() => "select",
            ("number" | "integer", _) => "number",
            _ => "text",
        };
        let kinds = {
            let mut k = strings(options_json.and_then(|o| o.get("allowedKinds")));
            k.extend(strings(
                options_json.and_then(|o| o.pointer("/catalogFilter/kind")),
            ));
            if let Some(filters) = options_json
                .and_then(|o| o.get("catalogFilter"))
                .and_then(Value::as_array)
            {
                for f in filters {
                    k.extend(strings(f.get("kind")));
                }
            }
            k
        };
        let arbitrary = options_json
            .and_then(|o| o.get("allowArbitraryValues"))
            .and_then(Value::as_bool)
            .unwrap_or(true);
        match extension.as_deref() {
            Some("OwnerPicker") => {
                let kinds = if kinds.is_empty() {
                    vec!["Group".to_string(), "User".to_string()]
                } else {
                    kinds
                };
                suggestions = self.directory.entities(&kinds);
            }
            Some("EntityPicker") => suggestions = self.directory.entities(&kinds),
            Some("MultiEntityPicker") => {
                suggestions = self.directory.entities(&kinds);
                widget = "lines";
            }
            Some("EntityNamePicker") => {}
            Some("RepoUrlPicker") => {
                let mut hosts = strings(options_json.and_then(|o| o.get("allowedHosts")));
                if hosts.is_empty() {
                    hosts.push(
                        self.directory
                            .git_host
                            .clone()
                            .unwrap_or_else(|| "github.com".into()),
                    );
                }
                let owners = strings(options_json.and_then(|o| o.get("allowedOwners")));
                let parts = RepoUrl::parse(&value).unwrap_or_default();
                repo = Some(RepoParts {
                    host: if parts.host.is_empty() {
                        hosts[0].clone()
                    } else {
                        parts.host
                    },
                    hosts,
                    owners,
                    owner: parts.owner,
                    repo: parts.repo,
                });
                widget = "repo-url";
            }
            Some(other) => {
                note = Some(format!(
                    "The `{other}` field is not available here: enter the value as {}.",
                    if widget == "json" { "JSON" } else { "text" }
                ));
            }
            None => {}
        }
        if widget == "text" && !arbitrary && !suggestions.is_empty() {
            options = std::mem::take(&mut suggestions);
            widget = "select";
        }
        let secret = widget == "password"
            || property.get("ui:field").and_then(Value::as_str) == Some("Secret");
        Field {
            name: path.to_string(),
            id: format!("f-{}", path.replace('.', "-")),
            title: text(property.get("title"))
                .unwrap_or_else(|| path.rsplit('.').next().unwrap_or(path).to_string()),
            description: text(property.get("description")),
            help: text(property.get("ui:help")),
            placeholder: text(property.get("ui:placeholder"))
                .or_else(|| text(options_json.and_then(|o| o.get("placeholder")))),
            required,
            widget,
            kind,
            options,
            suggestions,
            value,
            values,
            pattern: text(property.get("pattern")),
            min_length: property.get("minLength").and_then(Value::as_u64),
            max_length: property.get("maxLength").and_then(Value::as_u64),
            minimum: property.get("minimum").and_then(Value::as_f64),
            maximum: property.get("maximum").and_then(Value::as_f64),
            autofocus: property
                .get("ui:autofocus")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            rows: options_json
                .and_then(|o| o.get("rows"))
                .and_then(Value::as_u64),
            extension,
            note,
            repo,
            condition,
            secret,
        }
    }
}

/// A condition on a nested object's fields, lifted to the whole parameters.
fn nest(prefix: &str, schema: Value) -> Value {
    prefix
        .split('.')
        .filter(|p| !p.is_empty())
        .rev()
        .fold(schema, |inner, key| json!({"properties": {key: inner}}))
}

impl FormModel {
    /// The form of `pages` (as parsed) whose source is `source`, showing `values`.
    pub(crate) fn new(
        pages: &[lever_templates::Page],
        source: &str,
        directory: &Directory<'_>,
        values: &Value,
    ) -> FormModel {
        let yaml: Option<serde_yaml::Value> = serde_yaml::from_str(source).ok();
        let yaml_pages: Option<&serde_yaml::Value> = yaml
            .as_ref()
            .and_then(|y| y.get("spec"))
            .and_then(|s| s.get("parameters"));
        let mut builder = Builder {
            directory,
            values,
            conditions: Vec::new(),
        };
        let pages = pages
            .iter()
            .enumerate()
            .map(|(i, page)| {
                let page_source = yaml_pages.and_then(|p| match p {
                    serde_yaml::Value::Sequence(s) => s.get(i),
                    single => (i == 0).then_some(single),
                });
                let mut fields = Vec::new();
                builder.fields(&page.schema, page_source, "", None, &mut fields);
                PageModel {
                    title: page
                        .title
                        .clone()
                        .unwrap_or_else(|| format!("Step {}", i + 1)),
                    description: text(page.schema.get("description")),
                    fields,
                }
            })
            .collect();
        FormModel {
            pages,
            conditions: builder.conditions,
        }
    }

    /// The indexes of the conditions the parameters meet.
    pub(crate) fn active(&self, parameters: &Value) -> Vec<usize> {
        self.conditions
            .iter()
            .enumerate()
            .filter(|(_, schema)| jsonschema::is_valid(schema, parameters))
            .map(|(i, _)| i)
            .collect()
    }

    /// Where field `name` is: its page's index, its element id and its title.
    pub(crate) fn locate(&self, name: &str) -> Option<(usize, &str, &str)> {
        self.pages.iter().enumerate().find_map(|(i, p)| {
            p.fields
                .iter()
                .find(|f| f.name == name)
                .map(|f| (i, f.id.as_str(), f.title.as_str()))
        })
    }

    fn all_fields(&self) -> impl Iterator<Item = &Field> {
        self.pages.iter().flat_map(|p| p.fields.iter())
    }

    /// The parameters of a submitted form: each known field's inputs converted to its JSON
    /// type. Empty inputs are left out, so defaults and `required` apply. A value that does
    /// not convert (letters in a number) stays a string for the validator to report.
    pub(crate) fn parameters(&self, pairs: &[(String, String)]) -> Value {
        let mut sent: HashMap<&str, Vec<&str>> = HashMap::new();
        for (k, v) in pairs {
            sent.entry(k.as_str()).or_default().push(v.as_str());
        }
        let mut out = Value::Object(Map::new());
        for field in self.all_fields() {
            let get = |name: &str| sent.get(name).cloned().unwrap_or_default();
            let inputs = get(&field.name);
            let value = match field.widget {
                "checkbox" => {
                    if inputs.is_empty() {
                        continue;
                    }
                    Value::Bool(inputs.last() == Some(&"true"))
                }
                "checkboxes" => {
                    if inputs.is_empty() {
                        continue;
                    }
                    Value::Array(
                        inputs
                            .iter()
                            .filter(|v| !v.is_empty())
                            .map(|v| typed(&item_kind(field), v))
                            .collect(),
                    )
                }
                "lines" => {
                    let Some(text) = inputs.last() else { continue };
                    let items: Vec<Value> = text
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(|l| json!(l))
                        .collect();
                    if items.is_empty() {
                        continue;
                    }
                    Value::Array(items)
                }
                "repo-url" => {
                    let part = |p: &str| {
                        get(&format!("{}.{p}", field.name))
                            .last()
                            .map(|s| s.trim().to_string())
                            .unwrap_or_default()
                    };
                    let url = RepoUrl {
                        host: part("host"),
                        owner: part("owner"),
                        repo: part("repo"),
                    };
                    if url.owner.is_empty() && url.repo.is_empty() {
                        continue;
                    }
                    json!(url.format())
                }
                _ => {
                    let Some(text) = inputs.last().filter(|t| !t.trim().is_empty()) else {
                        continue;
                    };
                    typed(&field.kind, text)
                }
            };
            insert(&mut out, &field.name, value);
        }
        out
    }

    /// The answers as the review step lists them: (title, shown value), secrets masked.
    pub(crate) fn review(&self, parameters: &Value) -> Vec<(String, String)> {
        self.all_fields()
            .filter_map(|f| {
                let value = lookup(parameters, &f.name)?;
                let label = |v: &Value| {
                    let raw = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    // An enum answer reads as its label ("Small ($50/month)"), as chosen.
                    f.options
                        .iter()
                        .find(|o| o.value == raw)
                        .map_or(raw, |o| o.label.clone())
                };
                let shown = if f.secret {
                    "••••••••".to_string()
                } else {
                    match value {
                        Value::Array(items) => {
                            items.iter().map(label).collect::<Vec<_>>().join(", ")
                        }
                        other => label(other),
                    }
                };
                Some((f.title.clone(), shown))
            })
            .collect()
    }
}

fn item_kind(field: &Field) -> String {
    if field.options.iter().all(|o| o.value.parse::<f64>().is_ok()) && !field.options.is_empty() {
        "number".into()
    } else {
        "string".into()
    }
}

fn typed(kind: &str, text: &str) -> Value {
    match kind {
        "integer" => text
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| json!(text)),
        "number" => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
            .unwrap_or_else(|| json!(text)),
        "boolean" => json!(text == "true"),
        "object" | "array" => serde_json::from_str(text).unwrap_or_else(|_| json!(text)),
        _ => json!(text),
    }
}

fn insert(out: &mut Value, path: &str, value: Value) {
    let mut current = out;
    let mut keys = path.split('.').peekable();
    while let Some(key) = keys.next() {
        let map = match current {
            Value::Object(map) => map,
            other => {
                *other = Value::Object(Map::new());
                other.as_object_mut().expect("just made an object")
            }
        };
        if keys.peek().is_none() {
            map.insert(key.to_string(), value);
            return;
        }
        current = map
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = r#"
spec:
  parameters:
    - title: One
      required: [zname]
      properties:
        zname: {type: string, title: Name, pattern: "^[a-z]+$"}
        size: {type: string, enum: [small, medium], enumNames: ["Small ($50)", "Medium ($150)"], default: small}
        replicas: {type: integer}
        secret: {type: string, ui:widget: password}
        kind: {type: string, enum: [db, cache]}
        nested:
          type: object
          properties:
            flag: {type: boolean}
      dependencies:
        kind:
          oneOf:
            - properties:
                kind: {enum: [db]}
                engine: {type: string}
            - properties:
                kind: {enum: [cache]}
                ttl: {type: integer}
"#;

    fn model(values: &Value) -> FormModel {
        let yaml: serde_yaml::Value = serde_yaml::from_str(SOURCE).unwrap();
        let page: Value = serde_json::to_value(&yaml["spec"]["parameters"][0]).unwrap();
        let pages = vec![lever_templates::Page {
            title: Some("One".into()),
            schema: page,
        }];
        let config = Config::default();
        let directory = Directory {
            config: &config,
            git_host: None,
            registered: vec!["component:default/orders".into()],
        };
        FormModel::new(&pages, SOURCE, &directory, values)
    }

    #[test]
    fn fields_keep_the_templates_order_and_widgets() {
        let m = model(&json!({"size": "small"}));
        let names: Vec<&str> = m.pages[0].fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "zname",
                "size",
                "replicas",
                "secret",
                "kind",
                "engine",
                "ttl",
                "nested.flag"
            ]
        );
        let widgets: Vec<&str> = m.pages[0].fields.iter().map(|f| f.widget).collect();
        assert_eq!(
            widgets,
            [
                "text", "select", "number", "password", "select", "text", "number", "checkbox"
            ]
        );
        assert_eq!(m.pages[0].fields[1].options[1].label, "Medium ($150)");
    }

    #[test]
    fn entity_pickers_offer_registered_components_of_the_kinds_asked() {
        let config = Config::default();
        let directory = Directory {
            config: &config,
            git_host: None,
            registered: vec!["component:default/orders".into()],
        };
        let components = directory.entities(&["Component".to_string()]);
        assert_eq!(components.len(), 1);
        assert_eq!(components[0].value, "component:default/orders");
        assert!(directory.entities(&["System".to_string()]).is_empty());
    }

    #[test]
    fn conditional_fields_follow_their_trigger() {
        let m = model(&json!({}));
        let engine = m.pages[0]
            .fields
            .iter()
            .find(|f| f.name == "engine")
            .unwrap();
        let ttl = m.pages[0].fields.iter().find(|f| f.name == "ttl").unwrap();
        let active = m.active(&json!({"kind": "db"}));
        assert!(active.contains(&engine.condition.unwrap()));
        assert!(!active.contains(&ttl.condition.unwrap()));
    }

    #[test]
    fn submitted_forms_become_typed_parameters() {
        let m = model(&json!({}));
        let pairs: Vec<(String, String)> = [
            ("zname", "orders"),
            ("replicas", "3"),
            ("secret", ""),
            ("nested.flag", "false"),
            ("nested.flag", "true"),
            ("csrf", "x"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            m.parameters(&pairs),
            json!({"zname": "orders", "replicas": 3, "nested": {"flag": true}})
        );
        let review = m.review(&json!({"zname": "orders", "secret": "hunter2"}));
        assert!(review.contains(&("Name".into(), "orders".into())));
        assert!(!review.iter().any(|(_, v)| v.contains("hunter2")));
    }
}
