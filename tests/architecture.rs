//! docs/architecture.md against the workspace: every crate it maps exists and is mapped,
//! dependencies point the way it says, and nothing in the repository points at a file
//! outside it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn manifest(path: &Path) -> toml::Table {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.parse().unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The voxscope crates that `crate_dir`'s manifest depends on at run time.
fn voxscope_dependencies(crate_dir: &Path) -> BTreeSet<String> {
    let table = manifest(&crate_dir.join("Cargo.toml"));
    table
        .get("dependencies")
        .and_then(|d| d.as_table())
        .map(|deps| deps.keys().filter(|k| k.starts_with("voxscope")).cloned().collect())
        .unwrap_or_default()
}

#[test]
fn dependencies_point_one_way() {
    let allowed = |name: &str| -> &[&str] {
        match name {
            "voxscope-core" => &[],
            "voxscope-http" | "voxscope-call" | "voxscope-provider" | "voxscope-trace"
            | "voxscope-alert" => &["voxscope-core"],
            "voxscope-cli" => &["voxscope-alerting", "voxscope-alert", "voxscope-core"],
            "voxscope-alerting" => &["voxscope-alert", "voxscope-core"],
            "voxscope-live" => {
                &["voxscope-alerting", "voxscope-alert", "voxscope-trace", "voxscope-core"]
            }
            "voxscope" => &[
                "voxscope-core",
                "voxscope-http",
                "voxscope-call",
                "voxscope-provider",
                "voxscope-trace",
                "voxscope-alert",
                "voxscope-alerting",
                "voxscope-live",
            ],
            other => panic!("{other} is not in the crate map of docs/architecture.md"),
        }
    };
    let mut crates = 0;
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        for dependency in voxscope_dependencies(&dir) {
            assert!(
                allowed(&name).contains(&dependency.as_str()),
                "{name} depends on {dependency}, against the rules of docs/architecture.md"
            );
        }
        crates += 1;
    }
    assert!(crates >= 8, "found {crates} crates");
}

/// What the generators and the CLI build with stays free of the engine's runtime: no
/// async runtime, HTTP client or server, nor SMTP in `voxscope-alert`'s dependencies.
#[test]
fn the_rule_catalog_has_no_runtime_dependencies() {
    let table = manifest(&root().join("crates/voxscope-alert/Cargo.toml"));
    let dependencies = table["dependencies"].as_table().unwrap();
    for runtime in ["tokio", "reqwest", "lettre", "axum", "hyper"] {
        assert!(
            !dependencies.contains_key(runtime),
            "voxscope-alert depends on {runtime}: runtime code belongs in voxscope-alerting"
        );
    }
}

#[test]
fn the_crate_map_names_every_workspace_member() {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let workspace = manifest(&root().join("Cargo.toml"));
    let members = workspace["workspace"]["members"].as_array().unwrap();
    for member in members {
        let member = member.as_str().unwrap();
        let name = member.rsplit('/').next().unwrap();
        let mapped = if member.starts_with("crates/") {
            doc.contains(&format!("| `{name}` |"))
        } else {
            doc.contains(&format!("| `{name}/` |"))
        };
        assert!(mapped, "docs/architecture.md's crate map lacks {member}");
    }
}

/// The Markdown files the repository holds, by file name.
fn markdown_names(files: &[PathBuf]) -> BTreeSet<String> {
    files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// Every text file of the repository that code, docs or config could live in.
fn text_files() -> Vec<PathBuf> {
    let mut stack = vec![root()];
    let mut files = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "node_modules" {
                    stack.push(path);
                }
                continue;
            }
            let checked = ["rs", "toml", "md", "sh", "yml", "yaml", "json"];
            if path.extension().is_some_and(|e| checked.contains(&&*e.to_string_lossy())) {
                files.push(path);
            }
        }
    }
    files
}

/// `base` joined with the relative `path`, `..` resolved without touching the disk.
fn resolve(base: &Path, path: &str) -> PathBuf {
    let mut out = base.to_path_buf();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A clone holds only the repository: no relative path may climb out of it, and every
/// upper-case Markdown file named must be one the repository has (docs/architecture.md says
/// in the project's own words what design notes elsewhere would).
#[test]
fn nothing_points_at_a_file_outside_the_repository() {
    let files = text_files();
    assert!(files.len() > 100, "read only {} files", files.len());
    let markdown = markdown_names(&files);
    let top = resolve(&root(), "");
    let path_char = |c: char| c.is_ascii_alphanumeric() || "_./-".contains(c);
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else { continue };
        let dir = path.parent().unwrap();
        for (at, _) in text.match_indices("../") {
            let rest: String = text[at..].chars().take_while(|c| path_char(*c)).collect();
            let target = resolve(dir, &rest);
            assert!(
                target.starts_with(&top),
                "{} points outside the repository: {rest}",
                path.display()
            );
        }
        for word in text.split(|c: char| !path_char(c)) {
            let name = word.rsplit('/').next().unwrap_or_default();
            let Some(stem) = name.strip_suffix(".md") else { continue };
            let shouting = !stem.is_empty()
                && stem.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                && stem.chars().any(|c| c.is_ascii_uppercase());
            if shouting {
                assert!(
                    markdown.contains(name),
                    "{} names {name}, which the repository does not hold",
                    path.display()
                );
            }
        }
    }
}
