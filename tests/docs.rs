//! Claims in the docs that a test can hold to the code.
//!
//! - The docs link only to places a reader can reach: no repository that does not exist, and
//!   no relative file link in what docs.rs renders (the crate docs and `RELIABILITY.md`,
//!   included as `symbl_auth::guarantees`), where it would be a 404.
//! - Every Rust snippet in the README is compiled: `symbl_auth::ReadmeDoctests` includes the
//!   README in the doctests, and none of its Rust blocks is `ignore`d.
//!
//! (Each builder setting's documented default and zero are checked in `src/builder/tests.rs`.)

use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The crate has no public repository yet: a link to a guessed one is a 404. If it gets one,
/// name it here and in `Cargo.toml`'s `repository`.
const NO_SUCH_REPOSITORY: [&str; 2] = ["github.com/symbl-auth", "symbl-auth/symbl-auth"];

fn files_under(dir: &Path, extension: &str, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files_under(&path, extension, found);
        } else if path.extension().is_some_and(|ext| ext == extension) {
            found.push(path);
        }
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn nothing_links_to_a_repository_that_does_not_exist() {
    let mut files: Vec<PathBuf> = [
        "Cargo.toml",
        "README.md",
        "RELIABILITY.md",
        "BENCHMARKS.md",
        "CHANGELOG.md",
    ]
    .iter()
    .map(|name| Path::new(ROOT).join(name))
    .filter(|path| path.exists())
    .collect();
    for dir in ["src", "examples", "tests", "benches"] {
        files_under(&Path::new(ROOT).join(dir), "rs", &mut files);
    }
    for path in files {
        if path.ends_with("tests/docs.rs") {
            continue;
        }
        let text = read(&path);
        for (number, line) in text.lines().enumerate() {
            for name in NO_SUCH_REPOSITORY {
                assert!(
                    !line.contains(name),
                    "{}:{}: links to {name}, which does not exist: {line}",
                    path.display(),
                    number + 1
                );
            }
        }
    }
}

/// The targets of the Markdown links in `text`: inline `[text](target)` and reference
/// definitions `[text]: target`.
fn link_targets(text: &str) -> Vec<&str> {
    let mut targets = Vec::new();
    for line in text.lines() {
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            targets.push(after[..end].trim());
            rest = &after[end..];
        }
        let line = line.trim_start();
        if let (true, Some(at)) = (line.starts_with('['), line.find("]: ")) {
            targets.push(line[at + 3..].trim());
        }
    }
    targets
}

/// A link to a file beside this one, which works on GitHub and not on docs.rs.
fn is_relative_file_link(target: &str) -> bool {
    let target = target.split_whitespace().next().unwrap_or_default();
    !target.contains("://")
        && !target.starts_with('#')
        && !target.starts_with("mailto:")
        && (target.contains('/') || target.ends_with(".md") || target.ends_with(".rs"))
}

/// The doc comments of a Rust file, as rustdoc reads them.
fn doc_comments(source: &str) -> String {
    source
        .lines()
        .map(str::trim_start)
        .filter_map(|line| {
            line.strip_prefix("//!")
                .or_else(|| line.strip_prefix("///"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn what_docs_rs_renders_has_no_relative_file_links() {
    let mut files = Vec::new();
    files_under(&Path::new(ROOT).join("src"), "rs", &mut files);
    let mut rendered: Vec<(PathBuf, String)> = files
        .into_iter()
        .map(|path| {
            let docs = doc_comments(&read(&path));
            (path, docs)
        })
        .collect();
    let reliability = Path::new(ROOT).join("RELIABILITY.md");
    let lib = read(&Path::new(ROOT).join("src/lib.rs"));
    assert!(
        lib.contains("#[doc = include_str!(\"../RELIABILITY.md\")]"),
        "RELIABILITY.md is no longer in the crate docs: this test checks it as if it were"
    );
    rendered.push((reliability.clone(), read(&reliability)));
    for (path, docs) in rendered {
        for target in link_targets(&docs) {
            assert!(
                !is_relative_file_link(target),
                "{}: links to `{target}`, a file docs.rs does not have; link a docs item, or \
                 an absolute URL",
                path.display()
            );
        }
    }
}

#[test]
fn every_rust_snippet_in_the_readme_is_compiled() {
    let lib = read(&Path::new(ROOT).join("src/lib.rs"));
    assert!(
        lib.contains("#[doc = include_str!(\"../README.md\")]\npub struct ReadmeDoctests;"),
        "the README is no longer in the doctests"
    );
    let readme = read(&Path::new(ROOT).join("README.md"));
    let mut snippets = 0;
    let mut in_block = false;
    for (number, line) in readme.lines().enumerate() {
        let Some(info) = line.trim_start().strip_prefix("```") else {
            continue;
        };
        in_block = !in_block;
        if !in_block {
            continue; // a closing fence
        }
        // rustdoc reads an untagged block as Rust, as it reads `rust`.
        let words: Vec<&str> = info.split(',').map(str::trim).collect();
        if !matches!(words[0], "" | "rust" | "ignore" | "no_run" | "should_panic") {
            continue;
        }
        snippets += 1;
        assert!(
            !words.contains(&"ignore"),
            "README.md:{}: a Rust snippet that is not compiled: make it complete, or `no_run` \
             if it needs the network",
            number + 1
        );
    }
    assert!(
        snippets >= 10,
        "only {snippets} Rust snippets found in the README"
    );
}
