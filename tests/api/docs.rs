//! The documents that cannot drift from the code: `docs/interface.md`
//! lists every setting, every `docs/…` citation in the code names a file
//! and a section that exist, the README's Layout section names every
//! file it describes and no file that is gone, and docs/OPERATIONS.md's
//! settings reference is the binary's `--help`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use authd::cli::Cli;
use clap::CommandFactory;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative))
        .unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

/// Every `.rs` file below `dir`, relative to the repository.
fn sources(dir: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(root().join(dir)).unwrap() {
        let path = entry.unwrap().path();
        let relative = path.strip_prefix(root()).unwrap().to_path_buf();
        if path.is_dir() {
            sources(relative.to_str().unwrap(), out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(relative);
        }
    }
}

#[test]
fn every_setting_is_in_the_interface_document() {
    let doc = read("docs/interface.md");
    let cli = Cli::command();
    let missing: Vec<String> = cli
        .get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|long| !["help", "version"].contains(long))
        .map(|long| format!("`--{long}`"))
        .filter(|flag| !doc.contains(flag.as_str()))
        .collect();
    assert!(missing.is_empty(), "docs/interface.md lacks {missing:?}");
}

/// The headings of a Markdown file, without their `#`s.
fn headings(doc: &str) -> Vec<String> {
    doc.lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim().to_string())
        .collect()
}

/// The bold lead-ins of list items (`- **Overload.**`), which the
/// interface uses as sections too.
fn lead_ins(doc: &str) -> Vec<String> {
    doc.lines()
        .filter_map(|l| l.trim_start().strip_prefix("- **"))
        .filter_map(|l| l.split_once("**"))
        .map(|(name, _)| name.trim_end_matches('.').to_string())
        .collect()
}

#[test]
fn the_code_cites_documents_and_sections_that_exist() {
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches", "examples", "authd-resource/src"] {
        sources(dir, &mut files);
    }
    let mut problems = Vec::new();
    // This file names them to look for them.
    files.retain(|f| !f.ends_with("tests/api/docs.rs"));
    for file in &files {
        let text = read(file.to_str().unwrap());
        for (n, line) in text.lines().enumerate() {
            let at = format!("{}:{}", file.display(), n + 1);
            // The contract outside the repository is never cited.
            for outside in ["INTERFACE.md", "DESIGN.md"] {
                if line.contains(outside) && !line.contains("docs/") {
                    problems.push(format!("{at} cites {outside}, not docs/"));
                }
            }
            let mut rest = line;
            while let Some(i) = rest.find("docs/") {
                rest = &rest[i + "docs/".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                    .collect();
                if !name.ends_with(".md") {
                    continue;
                }
                let Ok(doc) = std::fs::read_to_string(root().join("docs").join(&name)) else {
                    problems.push(format!("{at} cites docs/{name}, which does not exist"));
                    continue;
                };
                if let Some(quoted) = rest[name.len()..].strip_prefix(" \"") {
                    let section = quoted.split('"').next().unwrap_or("");
                    let known = headings(&doc).into_iter().chain(lead_ins(&doc));
                    if !known.into_iter().any(|h| h == section) {
                        problems.push(format!(
                            "{at} cites docs/{name} \"{section}\": no such section"
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The README's Layout block: each path it names, and the folders whose
/// files it lists one by one.
fn layout() -> (BTreeSet<String>, BTreeSet<String>) {
    let readme = read("README.md");
    let block = readme
        .split("## Layout")
        .nth(1)
        .expect("README.md has a Layout section");
    let mut named = BTreeSet::new();
    let mut itemized = BTreeSet::new();
    let mut folder: Option<String> = None;
    for line in block.lines().skip_while(|l| !l.starts_with("    ")) {
        if !line.starts_with("    ") {
            break;
        }
        let nested = line.starts_with("        ");
        // What it names comes before the description (two spaces or more).
        let names = line.trim().split("  ").next().unwrap_or("");
        for name in names.split_whitespace() {
            let name = name.trim_end_matches(',');
            if !(name.ends_with(".rs") || name.ends_with('/') || name.contains('.')) {
                continue;
            }
            match (&folder, nested) {
                (Some(dir), true) => {
                    itemized.insert(dir.clone());
                    named.insert(format!("{dir}{name}"));
                }
                _ => {
                    named.insert(name.to_string());
                }
            }
        }
        if !nested {
            folder = names
                .split_whitespace()
                .next()
                .filter(|n| n.ends_with('/'))
                .map(str::to_string);
        }
    }
    (named, itemized)
}

#[test]
fn the_readme_layout_names_what_exists() {
    let (named, itemized) = layout();
    let gone: Vec<&String> = named
        .iter()
        .filter(|n| !root().join(n.as_str()).exists())
        .collect();
    assert!(
        gone.is_empty(),
        "README.md's Layout names what does not exist: {gone:?}"
    );

    // Every file and folder of src/ is named, and a folder whose files are
    // listed one by one has all of them listed.
    let covered = |path: &str| {
        named.contains(path)
            || named.iter().any(|n| {
                n.ends_with('/') && path.starts_with(n.as_str()) && !itemized.contains(n.as_str())
            })
    };
    let mut missing = Vec::new();
    let mut check = |dir: &Path| {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let mut relative = path.strip_prefix(root()).unwrap().display().to_string();
            if path.is_dir() {
                relative.push('/');
            }
            // A folder's mod.rs is the folder itself.
            if relative.ends_with("/mod.rs") && relative != "src/mod.rs" {
                continue;
            }
            if !covered(&relative) {
                missing.push(relative);
            }
        }
    };
    check(Path::new("src"));
    for dir in &itemized {
        check(Path::new(dir));
    }
    missing.sort();
    assert!(missing.is_empty(), "README.md's Layout omits {missing:?}");
}

/// The top-level module a file of `src/` belongs to (`oauth` for
/// `src/oauth/token.rs`, `scope` for `src/scope.rs`).
fn top_module(file: &Path) -> String {
    let inside = file.strip_prefix("src").unwrap();
    let first = inside.components().next().unwrap().as_os_str();
    first.to_str().unwrap().trim_end_matches(".rs").to_string()
}

#[test]
fn no_two_top_level_modules_import_each_other() {
    let mut files = Vec::new();
    sources("src", &mut files);
    let mut uses: std::collections::BTreeMap<(String, String), String> = Default::default();
    for file in &files {
        let from = top_module(file);
        let text = read(file.to_str().unwrap());
        // The code, not its tests (a test may reach anywhere).
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (n, line) in code.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for part in line.split("crate::").skip(1) {
                let to: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !to.is_empty() && to != from {
                    let at = format!("{}:{}", file.display(), n + 1);
                    uses.entry((from.clone(), to)).or_insert(at);
                }
            }
        }
    }
    let cycles: Vec<String> = uses
        .iter()
        .filter(|((a, b), _)| a < b && uses.contains_key(&(b.clone(), a.clone())))
        .map(|((a, b), at)| format!("{a} <-> {b} ({at}, {})", uses[&(b.clone(), a.clone())]))
        .collect();
    assert!(
        cycles.is_empty(),
        "modules that import each other: {cycles:?}"
    );
}

/// `authd --help` as docs/OPERATIONS.md shows it: environment variables
/// without the values the test's own environment may give them.
fn help_text() -> String {
    let help = Cli::command().render_long_help().to_string();
    help.lines()
        .map(|line| {
            let line = line.trim_end();
            match (line.find("[env: "), line.rfind(']')) {
                (Some(start), Some(end)) if end > start => {
                    let name = line[start + 6..end].split('=').next().unwrap_or("");
                    format!("{}[env: {name}]", &line[..start])
                }
                _ => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_operations_settings_reference_is_the_help() {
    const MARK: &str = "<!-- settings: generated from `authd --help`";
    let doc = read("docs/OPERATIONS.md");
    let start = doc
        .find(MARK)
        .expect("docs/OPERATIONS.md has the settings mark");
    let open = start + doc[start..].find("```text\n").expect("a text block") + 8;
    let close = open + doc[open..].find("```").expect("the block's end");
    let wanted = format!("{}\n", help_text());
    if std::env::var("AUTHD_UPDATE_DOCS").as_deref() == Ok("1") {
        let updated = format!("{}{wanted}{}", &doc[..open], &doc[close..]);
        std::fs::write(root().join("docs/OPERATIONS.md"), updated).unwrap();
        return;
    }
    assert!(
        doc[open..close] == wanted,
        "docs/OPERATIONS.md's settings reference is not `authd --help`: \
         run AUTHD_UPDATE_DOCS=1 cargo test --test api the_operations_settings"
    );
}
