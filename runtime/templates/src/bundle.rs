//! Template bundles: a template with the files around it (its skeletons), read from a tar,
//! tar.gz or zip archive or a directory, with the template's own path inside the bundle so that
//! a relative `url` (`./skeleton`, `../../../skeletons/catalog-info/`) resolves as Backstage
//! resolves it against the template's repository. Paths that leave the bundle are refused.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::model::Template;

/// Why a bundle was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BundleError(pub String);

fn refuse(message: impl Into<String>) -> BundleError {
    BundleError(message.into())
}

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    /// Unix permission bits (0o644, 0o755…), or [`LINK_MODE`] for a symbolic link.
    pub mode: u32,
    /// Its bytes; a link's target path.
    pub bytes: Vec<u8>,
}

/// The mode of a symbolic link, as git records one (`120000`): its bytes are its target.
pub const LINK_MODE: u32 = 0o120_777;

/// Checks a link's target: relative, and inside the bundle once resolved from the link's folder
/// (`docs/README.md` → `../README.md` is fine, `/etc/passwd` or `../../x` at the root are not).
pub fn check_link(path: &str, target: &str) -> Result<(), BundleError> {
    if target.is_empty() || target.starts_with('/') || target.starts_with('\\') {
        return Err(refuse(format!(
            "`{path}` is a symbolic link to `{target}`; a link in a bundle must be relative"
        )));
    }
    resolve(path, target).map(|_| ()).map_err(|_| {
        refuse(format!(
            "`{path}` is a symbolic link to `{target}`, which leaves the bundle"
        ))
    })
}

impl BundleFile {
    /// A symbolic link to `target`.
    pub fn link(target: &str) -> Self {
        Self {
            mode: LINK_MODE,
            bytes: target.as_bytes().to_vec(),
        }
    }

    /// Whether it is a symbolic link (then its bytes are the target).
    pub fn is_link(&self) -> bool {
        self.mode & 0o170_000 == 0o120_000
    }

    /// The SHA-256 of its bytes, hex: the key it is stored under.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(&self.bytes))
    }
}

/// A template and its files, keyed by normalized path (`a/b/c.txt`) inside the bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bundle {
    /// Where the template file is.
    pub template_path: String,
    /// Every file, the template's too.
    pub files: BTreeMap<String, BundleFile>,
}

/// The most a bundle may hold, unpacked.
pub const MAX_BUNDLE_BYTES: u64 = 64 * 1024 * 1024;
/// The most files a bundle may hold.
pub const MAX_BUNDLE_FILES: usize = 10_000;

/// `path` as a bundle path: `/`-separated, no `.`, no empty parts; `..` only while it stays
/// inside the bundle. Refuses absolute paths and paths that leave the root.
pub fn normalize(path: &str) -> Result<String, BundleError> {
    if path.starts_with('/') || path.starts_with('\\') || path.as_bytes().get(1) == Some(&b':') {
        return Err(refuse(format!(
            "`{path}` is an absolute path; a bundle holds relative paths only"
        )));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(refuse(format!("`{path}` leaves the bundle")));
                }
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// `relative` resolved against the folder of `base` (a bundle path), normalized.
pub fn resolve(base: &str, relative: &str) -> Result<String, BundleError> {
    match base.rsplit_once('/') {
        Some((folder, _)) => normalize(&format!("{folder}/{relative}")),
        None => normalize(relative),
    }
}

/// Whether `bytes` are an archive a bundle is read from (zip, gzip, tar), by their first bytes.
pub fn is_archive(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0x1f, 0x8b]) || is_tar(bytes)
}

fn is_tar(bytes: &[u8]) -> bool {
    bytes.len() > 262 && &bytes[257..262] == b"ustar"
}

/// Whether the file `path` with `bytes` is a template: YAML with `kind: Template`.
pub fn is_template_file(path: &str, bytes: &[u8]) -> bool {
    (path.ends_with(".yaml") || path.ends_with(".yml"))
        && std::str::from_utf8(bytes).is_ok_and(|t| t.lines().any(|l| l.trim() == "kind: Template"))
}

/// Whether `url` is relative (Backstage's test: not an absolute URL), so read from the bundle.
pub fn is_relative_url(url: &str) -> bool {
    !url.contains("://") && !url.contains("${{")
}

/// The fetch steps' relative URLs: (step index, step id, action, url).
pub fn relative_fetches(template: &Template) -> Vec<(usize, String, String, String)> {
    template
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.action.starts_with("fetch:"))
        .filter_map(|(i, s)| {
            let url = s.input.get("url")?.as_str()?;
            is_relative_url(url).then(|| (i, s.id.clone(), s.action.clone(), url.to_string()))
        })
        .collect()
}

/// Checks that every relative `url` of `template` (found at `template_path`) names a file
/// (`fetch:*:file`) or a folder with files among `paths`; the error names the step and path.
pub fn check_fetches<'a>(
    template: &Template,
    template_path: &str,
    paths: impl Iterator<Item = &'a str> + Clone,
) -> Result<(), BundleError> {
    match fetch_problems(template, template_path, paths)
        .into_iter()
        .next()
    {
        Some((_, problem)) => Err(refuse(problem)),
        None => Ok(()),
    }
}

/// Every fetch step whose relative `url` the bundle (`paths`) cannot serve: (step index, what
/// is wrong, naming the step and the path).
pub fn fetch_problems<'a>(
    template: &Template,
    template_path: &str,
    paths: impl Iterator<Item = &'a str> + Clone,
) -> Vec<(usize, String)> {
    let mut problems = Vec::new();
    for (i, id, action, url) in relative_fetches(template) {
        let place = format!("spec.steps[{i}] (`{id}`)");
        let target = match resolve(template_path, &url) {
            Ok(target) => target,
            Err(e) => {
                problems.push((i, format!("{place}: `url: {url}`: {e}")));
                continue;
            }
        };
        let is_file = action.ends_with(":file");
        let found = paths.clone().any(|p| {
            if is_file {
                p == target
            } else {
                target.is_empty() || p.starts_with(&format!("{target}/"))
            }
        });
        if !found {
            let what = if is_file { "file" } else { "folder" };
            let hint = if paths.clone().count() <= 1 {
                " — the template was applied without its files: apply its directory (`lever template apply DIR`) or a tar or zip bundle"
            } else {
                ""
            };
            problems.push((
                i,
                format!(
                    "{place}: `{action}` reads `url: {url}`, the {what} `{target}` of the bundle, and the bundle has no such {what}{hint}"
                ),
            ));
        }
    }
    problems
}

impl Bundle {
    /// A bundle of one template file and nothing else.
    pub fn single(path: &str, text: &str) -> Self {
        let mut files = BTreeMap::new();
        files.insert(
            path.to_string(),
            BundleFile {
                mode: 0o644,
                bytes: text.as_bytes().to_vec(),
            },
        );
        Self {
            template_path: path.to_string(),
            files,
        }
    }

    /// The template's text.
    pub fn template_text(&self) -> Result<&str, BundleError> {
        let file = self
            .files
            .get(&self.template_path)
            .ok_or_else(|| refuse(format!("the bundle has no `{}`", self.template_path)))?;
        std::str::from_utf8(&file.bytes)
            .map_err(|_| refuse(format!("`{}` is not UTF-8 text", self.template_path)))
    }

    /// A digest of every path, mode and content: two bundles with the same are the same.
    pub fn digest(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(self.template_path.as_bytes());
        for (path, file) in &self.files {
            hash.update(format!("\n{path}\0{:o}\0{}", file.mode, file.digest()).as_bytes());
        }
        hex::encode(hash.finalize())
    }

    /// Reads an archive (tar, gzip-compressed tar, or zip, told apart by their first bytes).
    /// `template` names the template file inside it; without it, the bundle must hold exactly
    /// one file that is a template (`kind: Template`).
    pub fn read(archive: &[u8], template: Option<&str>) -> Result<Self, BundleError> {
        let files = if archive.starts_with(b"PK\x03\x04") {
            read_zip(archive)?
        } else if archive.starts_with(&[0x1f, 0x8b]) {
            read_tar(flate2::read::GzDecoder::new(archive))?
        } else if is_tar(archive) {
            read_tar(archive)?
        } else {
            return Err(refuse(
                "the body is neither a template (YAML or JSON) nor a tar, tar.gz or zip bundle",
            ));
        };
        Self::with_template(files, template)
    }

    fn with_template(
        files: BTreeMap<String, BundleFile>,
        template: Option<&str>,
    ) -> Result<Self, BundleError> {
        let template_path = match template {
            Some(path) => {
                let path = normalize(path)?;
                if !files.contains_key(&path) {
                    return Err(refuse(format!(
                        "the bundle has no `{path}` (the `template` asked for)"
                    )));
                }
                path
            }
            None => {
                let templates: Vec<&String> = files
                    .iter()
                    .filter(|(p, f)| is_template_file(p, &f.bytes))
                    .map(|(p, _)| p)
                    .collect();
                match templates.as_slice() {
                    [one] => (*one).clone(),
                    [] => {
                        return Err(refuse(
                            "the bundle holds no template (a YAML file with `kind: Template`)",
                        ));
                    }
                    many => {
                        let names: Vec<&str> = many.iter().map(|p| p.as_str()).collect();
                        return Err(refuse(format!(
                            "the bundle holds several templates ({}): name one with `template=PATH`",
                            names.join(", ")
                        )));
                    }
                }
            }
        };
        Ok(Self {
            template_path,
            files,
        })
    }

    /// The bundle for the template file `template` under the directory `root`: the template
    /// and the files of every folder (or file) its fetch steps name with a relative `url`.
    pub fn from_dir(root: &Path, template: &Path) -> Result<Self, BundleError> {
        let relative = template.strip_prefix(root).map_err(|_| {
            refuse(format!(
                "{} is not under {}",
                template.display(),
                root.display()
            ))
        })?;
        let template_path = normalize(&relative.to_string_lossy())?;
        let text = std::fs::read_to_string(template)
            .map_err(|e| refuse(format!("cannot read {}: {e}", template.display())))?;
        Self::around(root, &template_path, &text)
    }

    /// The bundle for the template `text` placed at `template_path` under the directory `root`
    /// (a template read elsewhere, as a portal's catalog serves it, beside the files its
    /// location holds): the files of every folder (or file) its fetch steps name with a
    /// relative `url`, none outside `root`.
    pub fn around(root: &Path, template_path: &str, text: &str) -> Result<Self, BundleError> {
        let template_path = normalize(template_path)?;
        let parsed = crate::parse(text).map_err(|e| refuse(e.to_string()))?;
        let mut bundle = Self::single(&template_path, text);
        for (_, _, _, url) in relative_fetches(&parsed.template) {
            let target = resolve(&template_path, &url)?;
            add_path(root, &target, &mut bundle.files)?;
        }
        Ok(bundle)
    }

    /// The bundle as a tar archive (what `lever template apply DIR` sends).
    pub fn to_tar(&self) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, file) in &self.files {
            let mut header = tar::Header::new_gnu();
            if file.is_link() {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                header.set_mode(0o777);
                builder
                    .append_link(
                        &mut header,
                        path,
                        String::from_utf8_lossy(&file.bytes).as_ref(),
                    )
                    .expect("writing to memory");
                continue;
            }
            header.set_size(file.bytes.len() as u64);
            header.set_mode(file.mode);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            builder
                .append_data(&mut header, path, file.bytes.as_slice())
                .expect("writing to memory");
        }
        builder.into_inner().expect("writing to memory")
    }
}

/// Adds the file or every file under the folder `target` (a bundle path) of `root`. The
/// folder a fetch names is followed when it is a link inside `root`; a link inside that folder
/// is kept as a link (as Backstage copies it), refused when it leads out of the bundle.
fn add_path(
    root: &Path,
    target: &str,
    files: &mut BTreeMap<String, BundleFile>,
) -> Result<(), BundleError> {
    let path = root.join(target);
    let canonical_root = root
        .canonicalize()
        .map_err(|e| refuse(format!("{}: {e}", root.display())))?;
    let Ok(canonical) = path.canonicalize() else {
        // Missing: the server names it.
        return Ok(());
    };
    if !canonical.starts_with(&canonical_root) {
        return Err(refuse(format!(
            "`{target}` leads out of {}",
            root.display()
        )));
    }
    if canonical.is_file() {
        let bytes = std::fs::read(&canonical).map_err(|e| refuse(format!("{target}: {e}")))?;
        files.insert(
            target.to_string(),
            BundleFile {
                mode: file_mode(&canonical),
                bytes,
            },
        );
        return Ok(());
    }
    let entries = std::fs::read_dir(&canonical).map_err(|e| refuse(format!("{target}: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| refuse(format!("{target}: {e}")))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let child = if target.is_empty() {
            name
        } else {
            format!("{target}/{name}")
        };
        let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
        if is_link {
            let link =
                std::fs::read_link(entry.path()).map_err(|e| refuse(format!("{child}: {e}")))?;
            let link = link.to_string_lossy().replace('\\', "/");
            check_link(&child, &link)?;
            files.insert(child, BundleFile::link(&link));
        } else {
            add_path(root, &child, files)?;
        }
        if files.len() > MAX_BUNDLE_FILES {
            return Err(refuse(format!(
                "the bundle would hold over {MAX_BUNDLE_FILES} files"
            )));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn file_mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn file_mode(_path: &Path) -> u32 {
    0o644
}

/// Adds one archive entry, bounded.
fn insert(
    files: &mut BTreeMap<String, BundleFile>,
    total: &mut u64,
    name: &str,
    mode: u32,
    mut reader: impl Read,
) -> Result<(), BundleError> {
    let path = normalize(name)?;
    if path.is_empty() {
        return Ok(());
    }
    let mut bytes = Vec::new();
    reader
        .by_ref()
        .take(MAX_BUNDLE_BYTES - *total + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| refuse(format!("cannot read `{name}` from the bundle: {e}")))?;
    *total += bytes.len() as u64;
    if *total > MAX_BUNDLE_BYTES {
        return Err(refuse(format!(
            "the bundle unpacks to over {} MiB",
            MAX_BUNDLE_BYTES / 1024 / 1024
        )));
    }
    if files.len() >= MAX_BUNDLE_FILES {
        return Err(refuse(format!(
            "the bundle holds over {MAX_BUNDLE_FILES} files"
        )));
    }
    files.insert(
        path,
        BundleFile {
            mode: mode & 0o777,
            bytes,
        },
    );
    Ok(())
}

/// Adds one archive entry that is a symbolic link, checked.
fn insert_link(
    files: &mut BTreeMap<String, BundleFile>,
    name: &str,
    target: &str,
) -> Result<(), BundleError> {
    let path = normalize(name)?;
    check_link(&path, target)?;
    if files.len() >= MAX_BUNDLE_FILES {
        return Err(refuse(format!(
            "the bundle holds over {MAX_BUNDLE_FILES} files"
        )));
    }
    files.insert(path, BundleFile::link(target));
    Ok(())
}

fn read_tar(reader: impl Read) -> Result<BTreeMap<String, BundleFile>, BundleError> {
    let mut archive = tar::Archive::new(reader);
    let mut files = BTreeMap::new();
    let mut total = 0;
    let entries = archive
        .entries()
        .map_err(|e| refuse(format!("not a readable tar archive: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| refuse(format!("not a readable tar archive: {e}")))?;
        let kind = entry.header().entry_type();
        let name = entry
            .path()
            .map_err(|e| refuse(format!("a tar entry has an unreadable name: {e}")))?
            .to_string_lossy()
            .into_owned();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        if kind.is_symlink() {
            let target = entry
                .link_name()
                .ok()
                .flatten()
                .map(|t| t.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            insert_link(&mut files, &name, &target)?;
            continue;
        }
        if !kind.is_file() {
            return Err(refuse(format!(
                "`{name}` is a hard link or a special file; a bundle holds files and symbolic links only"
            )));
        }
        let mode = entry.header().mode().unwrap_or(0o644);
        insert(&mut files, &mut total, &name, mode, entry)?;
    }
    Ok(files)
}

fn read_zip(bytes: &[u8]) -> Result<BTreeMap<String, BundleFile>, BundleError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| refuse(format!("not a readable zip archive: {e}")))?;
    let mut files = BTreeMap::new();
    let mut total = 0;
    for i in 0..archive.len() {
        let file = archive
            .by_index(i)
            .map_err(|e| refuse(format!("not a readable zip archive: {e}")))?;
        if file.is_dir() {
            continue;
        }
        let name = file.name().to_string();
        if file.is_symlink() {
            let mut target = String::new();
            let mut file = file;
            file.by_ref()
                .take(4096)
                .read_to_string(&mut target)
                .map_err(|e| refuse(format!("cannot read the link `{name}`: {e}")))?;
            insert_link(&mut files, &name, &target)?;
            continue;
        }
        let mode = file.unix_mode().unwrap_or(0o644);
        insert(&mut files, &mut total, &name, mode, file)?;
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_bundle() {
        assert_eq!(normalize("a/./b//c").unwrap(), "a/b/c");
        assert_eq!(normalize("a/b/../c").unwrap(), "a/c");
        assert!(normalize("../x").is_err());
        assert!(normalize("a/../../x").is_err());
        assert!(normalize("/etc/passwd").is_err());
        assert_eq!(
            resolve(
                "templates/github/x/template.yaml",
                "../../../skeletons/catalog-info/"
            )
            .unwrap(),
            "skeletons/catalog-info"
        );
        assert_eq!(
            resolve("t/template.yaml", "./skeleton").unwrap(),
            "t/skeleton"
        );
        assert!(resolve("template.yaml", "../up").is_err());
    }

    fn tar_of(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, bytes, mode) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(*mode);
            header.set_cksum();
            builder.append_data(&mut header, path, *bytes).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn an_archive_finds_its_one_template_and_keeps_modes() {
        let tar = tar_of(&[
            ("t/template.yaml", b"apiVersion: x\nkind: Template\n", 0o644),
            ("t/skeleton/run.sh", b"#!/bin/sh\n", 0o755),
        ]);
        let bundle = Bundle::read(&tar, None).unwrap();
        assert_eq!(bundle.template_path, "t/template.yaml");
        assert_eq!(bundle.files["t/skeleton/run.sh"].mode, 0o755);
        let gz = {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&tar).unwrap();
            e.finish().unwrap()
        };
        assert_eq!(Bundle::read(&gz, None).unwrap(), bundle);
        let two = tar_of(&[
            ("a.yaml", b"kind: Template\n", 0o644),
            ("b.yaml", b"kind: Template\n", 0o644),
        ]);
        let error = Bundle::read(&two, None).unwrap_err();
        assert!(error.0.contains("several templates"), "{error}");
        assert_eq!(
            Bundle::read(&two, Some("b.yaml")).unwrap().template_path,
            "b.yaml"
        );
    }

    #[test]
    fn a_zip_reads_as_its_tar_does() {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        zip.start_file("t/template.yaml", stored.unix_permissions(0o644))
            .unwrap();
        zip.write_all(b"apiVersion: x\nkind: Template\n").unwrap();
        zip.start_file("t/skeleton/run.sh", stored.unix_permissions(0o755))
            .unwrap();
        zip.write_all(b"#!/bin/sh\n").unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let from_zip = Bundle::read(&bytes, None).unwrap();
        let tar = tar_of(&[
            ("t/template.yaml", b"apiVersion: x\nkind: Template\n", 0o644),
            ("t/skeleton/run.sh", b"#!/bin/sh\n", 0o755),
        ]);
        assert_eq!(from_zip, Bundle::read(&tar, None).unwrap());
        assert_eq!(
            from_zip.digest(),
            Bundle::read(&tar, None).unwrap().digest()
        );
    }

    #[test]
    fn entries_that_leave_the_bundle_are_refused() {
        // tar::Builder refuses `..` itself; write the name into the header by hand.
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_mode(0o644);
        header.as_gnu_mut().unwrap().name[..9].copy_from_slice(b"../escape");
        header.set_cksum();
        let mut builder = tar::Builder::new(Vec::new());
        builder.append(&header, &b"x"[..]).unwrap();
        let tar = builder.into_inner().unwrap();
        let error = Bundle::read(&tar, None).unwrap_err();
        assert!(error.0.contains("leaves the bundle"), "{error}");
        assert!(Bundle::read(b"not an archive at all", None).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_are_kept_as_links_inside_the_bundle_and_refused_out_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("skeleton/docs")).unwrap();
        std::fs::write(root.join("skeleton/README.md"), "# ${{ values.name }}\n").unwrap();
        std::os::unix::fs::symlink("../README.md", root.join("skeleton/docs/index.md")).unwrap();
        std::fs::write(
            root.join("template.yaml"),
            "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata: {name: t}\nspec:\n  steps:\n    - id: fetch\n      action: fetch:template\n      input: {url: ./skeleton}\n",
        )
        .unwrap();
        let bundle = Bundle::from_dir(root, &root.join("template.yaml")).unwrap();
        let link = &bundle.files["skeleton/docs/index.md"];
        assert!(link.is_link());
        assert_eq!(link.bytes, b"../README.md");
        // Through a tar and back: the same bundle, the link still a link.
        let again = Bundle::read(&bundle.to_tar(), None).unwrap();
        assert_eq!(again, bundle);

        // A link out of the bundle, or to an absolute path, is refused.
        std::os::unix::fs::symlink("../../../etc", root.join("skeleton/docs/out")).unwrap();
        let error = Bundle::from_dir(root, &root.join("template.yaml")).unwrap_err();
        assert!(
            error.0.contains("skeleton/docs/out") && error.0.contains("leaves the bundle"),
            "{error}"
        );
        std::fs::remove_file(root.join("skeleton/docs/out")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("skeleton/passwd")).unwrap();
        let error = Bundle::from_dir(root, &root.join("template.yaml")).unwrap_err();
        assert!(error.0.contains("must be relative"), "{error}");

        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        let mut builder = tar::Builder::new(Vec::new());
        builder
            .append_link(&mut header, "a/link", "../../x")
            .unwrap();
        let error = Bundle::read(&builder.into_inner().unwrap(), None).unwrap_err();
        assert!(error.0.contains("leaves the bundle"), "{error}");
    }
}
