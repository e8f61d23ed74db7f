//! The rooms of `docs/architecture.md` keep their dependencies pointing one way: every
//! `crate::ROOM` a module of `src/` names must be on its room's list below, or this test fails
//! and lists the offending lines. Test modules (`tests.rs`, `*_tests.rs`, a trailing
//! `#[cfg(test)] mod tests`) may wire real parts of other rooms together and are not checked.

use std::path::{Path, PathBuf};

crate::tests! {
    sync every_room_imports_only_the_rooms_below_it,
    sync a_planted_forbidden_import_is_named_with_its_line,
}

/// Each room and the rooms it may import (besides itself).
const RULES: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("geo", &["domain"]),
    ("store", &["domain"]),
    ("db", &["domain"]),
    ("telemetry", &["domain"]),
    ("dashboards", &["domain", "geo", "store"]),
    ("access", &["domain", "db", "dashboards"]),
    ("engine", &["domain", "geo", "store", "dashboards"]),
    ("live", &["domain", "telemetry", "engine", "access"]),
    ("ingest", &["domain", "geo", "store", "db", "telemetry"]),
    (
        "export",
        &[
            "domain",
            "geo",
            "store",
            "db",
            "telemetry",
            "dashboards",
            "engine",
        ],
    ),
    (
        "http",
        &[
            "domain",
            "geo",
            "store",
            "db",
            "telemetry",
            "dashboards",
            "access",
            "live",
            "export",
        ],
    ),
    (
        "config",
        &[
            "domain",
            "store",
            "db",
            "telemetry",
            "dashboards",
            "access",
            "live",
            "ingest",
            "export",
            "http",
        ],
    ),
    ("loadgen", &[]),
    (
        "startup",
        &[
            "domain",
            "geo",
            "store",
            "db",
            "telemetry",
            "dashboards",
            "access",
            "engine",
            "live",
            "ingest",
            "export",
            "http",
            "config",
        ],
    ),
    (
        "fuzz",
        &["domain", "store", "dashboards", "live", "ingest", "export"],
    ),
    (
        "cli",
        &[
            "domain",
            "telemetry",
            "dashboards",
            "access",
            "export",
            "config",
            "startup",
            "loadgen",
        ],
    ),
];

/// The room of a source file: its first directory under `src/`, or its name for a top-level file.
fn room_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    Some(first.trim_end_matches(".rs").to_owned())
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The rooms a line of code names as `crate::ROOM` (also inside `crate::{a::…, b}`).
fn rooms_named(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        // `pantau::crate::` does not exist; `some_crate::x` is another path.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.push(name);
        }
    }
    out
}

/// Every import under `src` that its room may not make, as `file:line: crate::ROOM (…)`.
fn forbidden_imports(src: &Path) -> Vec<String> {
    let rooms: Vec<&str> = RULES.iter().map(|(room, _)| *room).collect();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap().to_path_buf();
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if name == "tests" || name.ends_with("_tests") {
            continue;
        }
        let Some(room) = room_of(&relative) else {
            continue;
        };
        let Some((_, allowed)) = RULES.iter().find(|(r, _)| *r == room) else {
            // lib.rs and main.rs name the rooms; they import nothing.
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        let mut cfg_test = false;
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code == "#[cfg(test)]" {
                cfg_test = true;
                continue;
            }
            // A test module at the end of the file: nothing after it is product code.
            if cfg_test && code.starts_with("mod ") && code.ends_with('{') {
                break;
            }
            cfg_test = false;
            if code.starts_with("//") {
                continue;
            }
            for named in rooms_named(code) {
                let known = rooms.contains(&named.as_str());
                if known && named != room && !allowed.contains(&named.as_str()) {
                    found.push(format!(
                        "src/{}:{}: crate::{named} — {room} may import only {}",
                        relative.display(),
                        n + 1,
                        if allowed.is_empty() {
                            "nothing".to_owned()
                        } else {
                            allowed.join(", ")
                        }
                    ));
                }
            }
        }
    }
    found
}

fn every_room_imports_only_the_rooms_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = forbidden_imports(&src);
    assert!(
        found.is_empty(),
        "imports against docs/architecture.md:\n{}",
        found.join("\n")
    );
    // Every room of src/ has its rule (a new room must say what it may import).
    let mut tops: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .flatten()
        .filter_map(|e| room_of(Path::new(&e.file_name())))
        .filter(|r| r != "lib" && r != "main")
        .collect();
    tops.sort();
    for room in tops {
        assert!(
            RULES.iter().any(|(r, _)| *r == room),
            "src/{room} has no rule in tests/it/rooms.rs"
        );
    }
}

fn a_planted_forbidden_import_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let engine = dir.path().join("engine");
    std::fs::create_dir_all(&engine).unwrap();
    std::fs::write(
        engine.join("sneaky.rs"),
        "//! Uses the hub directly.\nuse crate::store::Store;\nuse crate::{domain::Dataset, live::Hub};\n\n#[cfg(test)]\nmod tests {\n    use crate::ingest::Sinks;\n}\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("http")).unwrap();
    std::fs::write(
        dir.path().join("http/panels.rs"),
        "fn f() { let _ = crate::engine::panel::evaluate; }\n",
    )
    .unwrap();
    let found = forbidden_imports(dir.path());
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with("src/engine/sneaky.rs:3: crate::live — engine may import only"),
        "{found:#?}"
    );
    assert!(
        found[1].starts_with("src/http/panels.rs:1: crate::engine — http may import only"),
        "{found:#?}"
    );
}
