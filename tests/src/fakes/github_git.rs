//! The fake GitHub's Git Data API (blobs, trees, commits, refs) and the repository settings
//! Backstage's `publish:github` applies (`PATCH /repos/{o}/{r}`, topics, branch protection):
//! the documented subset, with GitHub's shapes and errors.
//! <https://docs.github.com/rest/git>, <https://docs.github.com/rest/repos/repos#update-a-repository>.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{Answer, GitHub, Kind, Repo, answer, check, error, not_found, text, validation};

/// A commit object.
#[derive(Clone)]
pub(super) struct CommitObject {
    tree: String,
    parents: Vec<String>,
    message: String,
    author: Value,
}

/// Every blob, tree and commit made through the API (or snapshotted from a branch).
#[derive(Default)]
pub(super) struct Objects {
    blobs: BTreeMap<String, Vec<u8>>,
    /// Tree sha → path → (mode, blob sha), flattened.
    trees: BTreeMap<String, BTreeMap<String, (String, String)>>,
    commits: BTreeMap<String, CommitObject>,
}

const MODES: &[&str] = &["100644", "100755", "120000"];

fn digest(kind: &str, bytes: &[u8]) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    hasher.update(kind.as_bytes());
    hasher.update(bytes);
    hex::encode(&hasher.finalize()[..20])
}

fn wrapped(bytes: &[u8]) -> String {
    let encoded = STANDARD.encode(bytes);
    let lines: Vec<String> = encoded
        .as_bytes()
        .chunks(60)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    lines.join("\n") + "\n"
}

impl GitHub {
    /// The Git Data and settings routes; `None` for every other request.
    pub(super) fn git_data(
        &mut self,
        method: &str,
        s: &[&str],
        body: &Value,
        q: &BTreeMap<String, String>,
    ) -> Option<Answer> {
        let answer = match (method, s) {
            ("POST", ["repos", o, r, "git", "blobs"]) => {
                self.create_blob(&format!("{o}/{r}"), body)
            }
            ("GET", ["repos", o, r, "git", "blobs", sha]) => {
                self.get_blob(&format!("{o}/{r}"), sha)
            }
            ("POST", ["repos", o, r, "git", "trees"]) => {
                self.create_tree(&format!("{o}/{r}"), body)
            }
            ("GET", ["repos", o, r, "git", "trees", reference @ ..]) => self.get_tree(
                &format!("{o}/{r}"),
                &reference.join("/"),
                q.get("recursive").is_some_and(|v| v != "0" && v != "false"),
            ),
            ("POST", ["repos", o, r, "git", "commits"]) => {
                self.create_commit(&format!("{o}/{r}"), body)
            }
            ("GET", ["repos", o, r, "git", "commits", sha]) => {
                let full = format!("{o}/{r}");
                match self.commit_of(&full, sha) {
                    Some(c) => Ok(answer(200, self.commit_json(&full, sha, &c))),
                    None => Err(not_found()),
                }
            }
            ("POST", ["repos", o, r, "git", "refs"]) => self.create_ref(&format!("{o}/{r}"), body),
            ("PATCH", ["repos", o, r, "git", "refs", "heads", branch @ ..]) => {
                self.update_ref(&format!("{o}/{r}"), &branch.join("/"), body)
            }
            ("PATCH", ["repos", o, r]) => self.update_repo(&format!("{o}/{r}"), body),
            ("PUT", ["repos", o, r, "topics"]) => self.replace_topics(&format!("{o}/{r}"), body),
            ("PUT", ["repos", o, r, "branches", branch, "protection"]) => {
                self.protect(&format!("{o}/{r}"), branch, body)
            }
            _ => return None,
        };
        Some(answer)
    }

    /// POST /repos/{o}/{r}/git/blobs.
    fn create_blob(&mut self, full_name: &str, body: &Value) -> Answer {
        self.repo(full_name)?;
        check(body, &[("content", Kind::Str)], &[("encoding", Kind::Str)])?;
        let bytes = match body
            .get("encoding")
            .and_then(Value::as_str)
            .unwrap_or("utf-8")
        {
            "utf-8" => text(body, "content").as_bytes().to_vec(),
            "base64" => STANDARD
                .decode(text(body, "content").replace(['\n', '\r'], ""))
                .map_err(|_| error(422, "content is not valid Base64"))?,
            other => {
                return Err(validation(
                    "Blob",
                    "encoding",
                    "invalid",
                    Some(&format!("encoding {other} is not utf-8 or base64")),
                ));
            }
        };
        let sha = digest("blob", &bytes);
        self.objects.blobs.insert(sha.clone(), bytes);
        Ok(answer(
            201,
            json!({"sha": sha, "url": format!("{}/repos/{full_name}/git/blobs/{sha}", self.base)}),
        ))
    }

    /// GET /repos/{o}/{r}/git/blobs/{sha}.
    fn get_blob(&self, full_name: &str, sha: &str) -> Answer {
        self.repo(full_name)?;
        let bytes = self.objects.blobs.get(sha).ok_or_else(not_found)?;
        Ok(answer(
            200,
            json!({"sha": sha, "size": bytes.len(), "encoding": "base64", "content": wrapped(bytes)}),
        ))
    }

    /// POST /repos/{o}/{r}/git/trees.
    fn create_tree(&mut self, full_name: &str, body: &Value) -> Answer {
        self.repo(full_name)?;
        check(body, &[("tree", Kind::Arr)], &[("base_tree", Kind::Str)])?;
        let mut entries = match body.get("base_tree").and_then(Value::as_str) {
            None => BTreeMap::new(),
            Some(base) => self
                .objects
                .trees
                .get(base)
                .cloned()
                .ok_or_else(|| error(422, "base_tree is not a valid tree"))?,
        };
        for item in body["tree"].as_array().expect("checked") {
            check(
                item,
                &[
                    ("path", Kind::Str),
                    ("mode", Kind::Str),
                    ("type", Kind::Str),
                ],
                &[("sha", Kind::Str), ("content", Kind::Str)],
            )?;
            let (path, mode) = (text(item, "path"), text(item, "mode"));
            if path.is_empty()
                || path.starts_with('/')
                || path.split('/').any(|p| p.is_empty() || p == "..")
            {
                return Err(error(
                    422,
                    &format!("tree.path {path} contains a malformed path component"),
                ));
            }
            if !MODES.contains(&mode) || text(item, "type") != "blob" {
                return Err(error(
                    422,
                    &format!(
                        "tree.mode {mode} / tree.type must be a blob mode (100644, 100755, 120000) and blob"
                    ),
                ));
            }
            // `"sha": null` deletes the path from the base tree, as GitHub documents.
            if item.get("sha").is_some_and(Value::is_null) && item.get("content").is_none() {
                if entries.remove(path).is_none() {
                    return Err(error(
                        422,
                        &format!("tree.path {path} does not exist in the base tree"),
                    ));
                }
                continue;
            }
            let sha = match (
                item.get("sha").and_then(Value::as_str),
                item.get("content").and_then(Value::as_str),
            ) {
                (Some(sha), None) => {
                    if !self.objects.blobs.contains_key(sha) {
                        return Err(error(422, &format!("tree.sha {sha} is not a valid blob")));
                    }
                    sha.to_string()
                }
                (None, Some(content)) => {
                    let sha = digest("blob", content.as_bytes());
                    self.objects
                        .blobs
                        .insert(sha.clone(), content.as_bytes().to_vec());
                    sha
                }
                _ => {
                    return Err(error(
                        422,
                        "tree entries take exactly one of sha and content",
                    ));
                }
            };
            entries.insert(path.to_string(), (mode.to_string(), sha));
        }
        let sha = self.store_tree(entries);
        Ok(answer(201, self.tree_json(&sha, true)))
    }

    fn store_tree(&mut self, entries: BTreeMap<String, (String, String)>) -> String {
        let listing: String = entries
            .iter()
            .map(|(p, (m, s))| format!("{m} {p} {s}\n"))
            .collect();
        let sha = digest("tree", listing.as_bytes());
        self.objects.trees.insert(sha.clone(), entries);
        sha
    }

    fn tree_json(&self, sha: &str, recursive: bool) -> Value {
        let entries = &self.objects.trees[sha];
        let mut tree: Vec<Value> = Vec::new();
        let mut dirs = std::collections::BTreeSet::new();
        for (path, (mode, blob)) in entries {
            if !recursive && path.contains('/') {
                dirs.insert(path.split('/').next().unwrap().to_string());
                continue;
            }
            let size = self.objects.blobs.get(blob).map_or(0, Vec::len);
            tree.push(
                json!({"path": path, "mode": mode, "type": "blob", "sha": blob, "size": size}),
            );
        }
        for dir in dirs {
            tree.push(json!({"path": dir, "mode": "040000", "type": "tree", "sha": digest("dir", dir.as_bytes())}));
        }
        json!({"sha": sha, "tree": tree, "truncated": false})
    }

    /// GET /repos/{o}/{r}/git/trees/{tree_sha | commit | branch}.
    fn get_tree(&mut self, full_name: &str, reference: &str, recursive: bool) -> Answer {
        self.repo(full_name)?;
        let sha = if self.objects.trees.contains_key(reference) {
            reference.to_string()
        } else {
            let tip = self
                .repo(full_name)?
                .branches
                .get(reference)
                .cloned()
                .unwrap_or_else(|| reference.to_string());
            self.commit_of(full_name, &tip).ok_or_else(not_found)?.tree
        };
        Ok(answer(200, self.tree_json(&sha, recursive)))
    }

    /// The commit `sha` of `full_name`: one made through the API, or a branch tip made by the
    /// contents API, snapshotted into a tree on first use.
    pub(super) fn commit_of(&mut self, full_name: &str, sha: &str) -> Option<CommitObject> {
        if let Some(c) = self.objects.commits.get(sha) {
            return Some(c.clone());
        }
        let repo = self.repos.get(full_name)?;
        let branch = repo.branches.iter().find(|(_, tip)| *tip == sha)?.0.clone();
        let files: Vec<(String, Vec<u8>, &str)> = repo
            .files
            .iter()
            .filter(|((b, _), _)| *b == branch)
            .map(|((b, p), bytes)| {
                let key = (b.clone(), p.clone());
                let mode = if repo.links.contains(&key) {
                    "120000"
                } else if repo.executables.contains(&key) {
                    "100755"
                } else {
                    "100644"
                };
                (p.clone(), bytes.clone(), mode)
            })
            .collect();
        let mut entries = BTreeMap::new();
        for (path, bytes, mode) in files {
            let blob = digest("blob", &bytes);
            self.objects.blobs.insert(blob.clone(), bytes);
            entries.insert(path, (mode.to_string(), blob));
        }
        let tree = self.store_tree(entries);
        let commit = CommitObject {
            tree,
            parents: vec![],
            message: "snapshot".into(),
            author: json!({"name": "fake"}),
        };
        self.objects.commits.insert(sha.to_string(), commit.clone());
        Some(commit)
    }

    fn commit_json(&self, full_name: &str, sha: &str, c: &CommitObject) -> Value {
        json!({
            "sha": sha, "message": c.message, "author": c.author,
            "tree": {"sha": c.tree}, "parents": c.parents.iter().map(|p| json!({"sha": p})).collect::<Vec<_>>(),
            "html_url": format!("{}/{full_name}/commit/{sha}", self.base),
        })
    }

    /// POST /repos/{o}/{r}/git/commits.
    fn create_commit(&mut self, full_name: &str, body: &Value) -> Answer {
        self.repo(full_name)?;
        check(
            body,
            &[("message", Kind::Str), ("tree", Kind::Str)],
            &[("parents", Kind::Arr), ("author", Kind::Obj)],
        )?;
        let tree = text(body, "tree").to_string();
        if !self.objects.trees.contains_key(&tree) {
            return Err(error(422, "Tree SHA does not exist"));
        }
        let mut parents = Vec::new();
        for p in body
            .get("parents")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let p = p.as_str().unwrap_or_default();
            if self.commit_of(full_name, p).is_none() {
                return Err(error(
                    422,
                    "Parent SHA does not exist or is not a commit object",
                ));
            }
            parents.push(p.to_string());
        }
        let commit = CommitObject {
            message: text(body, "message").to_string(),
            author: body
                .get("author")
                .cloned()
                .unwrap_or(json!({"name": "token owner"})),
            tree,
            parents,
        };
        let listing = format!("{} {:?} {}", commit.tree, commit.parents, commit.message);
        let sha = digest("commit", format!("{listing} {}", self.sha()).as_bytes());
        self.objects.commits.insert(sha.clone(), commit.clone());
        Ok(answer(201, self.commit_json(full_name, &sha, &commit)))
    }

    /// Points `branch` at `commit` and makes its files the commit's tree.
    fn materialize(&mut self, full_name: &str, branch: &str, commit: &CommitObject, sha: &str) {
        let entries = self.objects.trees[&commit.tree].clone();
        let blobs: Vec<(String, Vec<u8>, String)> = entries
            .iter()
            .map(|(p, (mode, blob))| (p.clone(), self.objects.blobs[blob].clone(), mode.clone()))
            .collect();
        let repo = self.repos.get_mut(full_name).expect("checked");
        repo.files.retain(|(b, _), _| b != branch);
        repo.executables.retain(|(b, _)| b != branch);
        repo.links.retain(|(b, _)| b != branch);
        for (path, bytes, mode) in blobs {
            let key = (branch.to_string(), path.clone());
            match mode.as_str() {
                "100755" => {
                    repo.executables.insert(key);
                }
                "120000" => {
                    repo.links.insert(key);
                }
                _ => {}
            }
            repo.files.insert((branch.to_string(), path), bytes);
        }
        repo.branches.insert(branch.to_string(), sha.to_string());
    }

    /// POST /repos/{o}/{r}/git/refs.
    fn create_ref(&mut self, full_name: &str, body: &Value) -> Answer {
        check(body, &[("ref", Kind::Str), ("sha", Kind::Str)], &[])?;
        self.repo(full_name)?;
        let Some(branch) = text(body, "ref")
            .strip_prefix("refs/heads/")
            .filter(|b| !b.is_empty())
        else {
            return Err(error(
                422,
                "Reference name must start with 'refs/heads/' and name a branch",
            ));
        };
        let sha = text(body, "sha").to_string();
        if self.repo(full_name)?.branches.contains_key(branch) {
            return Err(error(422, "Reference already exists"));
        }
        let commit = self
            .commit_of(full_name, &sha)
            .ok_or_else(|| error(422, "Object does not exist"))?;
        self.materialize(full_name, branch, &commit, &sha);
        Ok(answer(
            201,
            json!({"ref": text(body, "ref"), "object": {"sha": sha, "type": "commit"}}),
        ))
    }

    /// PATCH /repos/{o}/{r}/git/refs/heads/{branch}: fast-forward only unless `force`.
    fn update_ref(&mut self, full_name: &str, branch: &str, body: &Value) -> Answer {
        check(body, &[("sha", Kind::Str)], &[("force", Kind::Bool)])?;
        let old = self
            .repo(full_name)?
            .branches
            .get(branch)
            .cloned()
            .ok_or_else(|| error(422, "Reference does not exist"))?;
        let sha = text(body, "sha").to_string();
        let commit = self
            .commit_of(full_name, &sha)
            .ok_or_else(|| error(422, "Object does not exist"))?;
        if body["force"].as_bool() != Some(true) && !self.descends(&sha, &old) {
            return Err(error(422, "Update is not a fast forward"));
        }
        self.materialize(full_name, branch, &commit, &sha);
        Ok(answer(
            200,
            json!({"ref": format!("refs/heads/{branch}"), "object": {"sha": sha, "type": "commit"}}),
        ))
    }

    fn descends(&self, sha: &str, ancestor: &str) -> bool {
        let mut queue = vec![sha.to_string()];
        while let Some(at) = queue.pop() {
            if at == ancestor {
                return true;
            }
            if let Some(c) = self.objects.commits.get(&at) {
                queue.extend(c.parents.iter().cloned());
            }
        }
        false
    }

    /// PATCH /repos/{o}/{r}.
    fn update_repo(&mut self, full_name: &str, body: &Value) -> Answer {
        check(
            body,
            &[],
            &[
                ("visibility", Kind::Str),
                ("default_branch", Kind::Str),
                ("description", Kind::Str),
                ("private", Kind::Bool),
                ("homepage", Kind::Str),
                ("delete_branch_on_merge", Kind::Bool),
                ("allow_squash_merge", Kind::Bool),
                ("allow_merge_commit", Kind::Bool),
                ("allow_rebase_merge", Kind::Bool),
                ("has_issues", Kind::Bool),
                ("has_projects", Kind::Bool),
                ("has_wiki", Kind::Bool),
            ],
        )?;
        let repo = self.repo_mut(full_name)?;
        if let Some(branch) = body.get("default_branch").and_then(Value::as_str) {
            if !repo.branches.contains_key(branch) {
                return Err(validation(
                    "Repository",
                    "default_branch",
                    "invalid",
                    Some(&format!(
                        "The branch {branch} was not found. Please push that ref first or create it via the Git Data API."
                    )),
                ));
            }
            repo.default_branch = branch.to_string();
        }
        if let Some(v) = body.get("visibility").and_then(Value::as_str) {
            if !["public", "private", "internal"].contains(&v) {
                return Err(validation("Repository", "visibility", "invalid", None));
            }
            repo.visibility = v.to_string();
            repo.private = v != "public";
        }
        if let Some(d) = body.get("description").and_then(Value::as_str) {
            repo.description = d.to_string();
        }
        let json = self.repo_json(self.repo(full_name)?);
        Ok(answer(200, json))
    }

    /// PUT /repos/{o}/{r}/topics.
    fn replace_topics(&mut self, full_name: &str, body: &Value) -> Answer {
        check(body, &[("names", Kind::Arr)], &[])?;
        let names: Vec<String> = body["names"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        if let Some(bad) = names.iter().find(|n| {
            n.is_empty()
                || n.len() > 50
                || n.chars()
                    .any(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
        }) {
            return Err(validation(
                "Repository",
                "names",
                "invalid",
                Some(&format!(
                    "{bad} is not a valid topic: lowercase letters, numbers and hyphens, up to 50"
                )),
            ));
        }
        self.repo_mut(full_name)?.topics = names.clone();
        Ok(answer(200, json!({"names": names})))
    }

    /// PUT /repos/{o}/{r}/branches/{branch}/protection: the four documented fields are
    /// required (each may be null).
    fn protect(&mut self, full_name: &str, branch: &str, body: &Value) -> Answer {
        for field in [
            "required_status_checks",
            "enforce_admins",
            "required_pull_request_reviews",
            "restrictions",
        ] {
            if body.get(field).is_none() {
                return Err(validation(
                    "Branch",
                    field,
                    "missing_field",
                    Some(&format!("{field} is required (it may be null)")),
                ));
            }
        }
        let repo = self.repo_mut(full_name)?;
        if !repo.branches.contains_key(branch) {
            return Err(error(404, "Branch not found"));
        }
        repo.protected.insert(branch.to_string());
        Ok(answer(
            200,
            json!({"url": format!("/repos/{full_name}/branches/{branch}/protection")}),
        ))
    }
}

/// What the tests read back from a repository.
impl Repo {
    /// Every file on `branch`: path → (bytes, executable).
    pub(super) fn tree(&self, branch: &str) -> BTreeMap<String, (Vec<u8>, bool)> {
        self.files
            .iter()
            .filter(|((b, _), _)| b == branch)
            .map(|((b, p), bytes)| {
                (
                    p.clone(),
                    (
                        bytes.clone(),
                        self.executables.contains(&(b.clone(), p.clone())),
                    ),
                )
            })
            .collect()
    }

    /// The symbolic links on `branch` (mode 120000): path → target.
    pub(super) fn links(&self, branch: &str) -> BTreeMap<String, String> {
        self.links
            .iter()
            .filter(|(b, _)| b == branch)
            .filter_map(|key| {
                let target = self.files.get(key)?;
                Some((key.1.clone(), String::from_utf8_lossy(target).into_owned()))
            })
            .collect()
    }
}
