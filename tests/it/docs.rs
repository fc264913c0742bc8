//! The documentation against the binary, so that the two cannot drift apart again.
//!
//! - README.md stays under 20 KiB and shows exactly two commands: the ones below. The
//!   first is run (with the binary `cargo test` built, not through cargo) on a copy of
//!   `data/`; the second is what CI runs.
//! - Every ```` ```console ```` block of the pages in `EXAMPLE_PAGES` is a session: each
//!   `$ neardup ...` line runs in a fresh directory holding a copy of `data/`, and must
//!   exit 0; the lines shown under a command must appear in its output, in that order
//!   (a line `...` stands for lines left out, a line ending in `...` for the rest of it).
//! - Every `--flag` in docs/cli.md exists in `neardup <command> --help` of the section
//!   it is in, and every flag of every command is in its section; flags on the other
//!   pages exist in some command; an example's flags exist in the command it runs.
//! - The table of what a run holds per document (docs/method.md, "Memory") gives each
//!   named type's size in this build.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::util::neardup;

/// The README's first command: build, run the main job on the sample, show the result.
const README_RUN: &str =
    "cargo run --release -- dedup data/sample.jsonl --out out && head -n 3 out/clusters.jsonl";
/// The README's second command: the tests, exactly as `.ci/run` runs them.
const README_TEST: &str = "cargo test --locked";
/// The README is a front page; everything else has a page of its own under docs/.
const README_MAX_BYTES: usize = 20 * 1024;
/// Pages whose console examples are run and whose flags are checked.
const EXAMPLE_PAGES: [&str; 4] = [
    "docs/cli.md",
    "docs/outputs.md",
    "docs/method.md",
    "docs/evaluation.md",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(page: &str) -> String {
    std::fs::read_to_string(root().join(page)).unwrap_or_else(|e| panic!("{page}: {e}"))
}

/// A fenced code block: where it starts, its info string, the `## ` section it is in,
/// and its lines.
struct Block {
    line: usize,
    info: String,
    section: String,
    body: Vec<String>,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(fence) = line.trim_start().strip_prefix("```") {
            match open.take() {
                Some(block) => out.push(block),
                None => {
                    open = Some(Block {
                        line: i + 1,
                        info: fence.trim().to_owned(),
                        section: section.clone(),
                        body: Vec::new(),
                    });
                }
            }
        } else if let Some(block) = &mut open {
            block.body.push(line.to_owned());
        } else if let Some(heading) = line.strip_prefix("## ") {
            heading.clone_into(&mut section);
        }
    }
    assert!(open.is_none(), "a code fence is never closed");
    out
}

/// One `$ command` of a console block (continuation lines joined) and the output shown
/// under it.
struct Example {
    command: String,
    shown: Vec<String>,
}

fn examples(block: &Block) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut continued = false;
    for line in &block.body {
        if continued {
            let example = out.last_mut().expect("a continuation follows a command");
            let part = line.trim();
            continued = part.ends_with('\\');
            example.command.push(' ');
            example.command.push_str(part.trim_end_matches('\\').trim());
        } else if let Some(command) = line.strip_prefix("$ ") {
            continued = command.ends_with('\\');
            out.push(Example {
                command: command.trim_end_matches('\\').trim().to_owned(),
                shown: Vec::new(),
            });
        } else if !line.trim().is_empty() {
            let example = out.last_mut().unwrap_or_else(|| {
                panic!(
                    "console block at line {}: output before any `$ ` command",
                    block.line
                )
            });
            example.shown.push(line.trim_end().to_owned());
        }
    }
    out
}

/// Splits a command line as a POSIX shell would for the simple commands the docs use:
/// words, single and double quotes, backslash escapes. Pipes, redirections and command
/// lists are refused: an example is one command whose effect the test can see.
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        q => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            '|' | '&' | ';' | '<' | '>' | '`' | '$' | '(' | ')' => {
                panic!("{command:?}: documented examples are single commands, found {c:?}")
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

/// Whether the lines shown appear in the output in order. `...` alone skips; a shown
/// line ending in `...` matches an output line that starts with the rest.
fn shown_in(output: &str, shown: &[String]) -> Result<(), String> {
    let mut lines = output.lines().map(str::trim_end);
    for want in shown.iter().map(|s| s.trim()).filter(|s| *s != "...") {
        let found = match want.strip_suffix("...") {
            Some(prefix) => lines.any(|l| l.trim_start().starts_with(prefix.trim_end())),
            None => lines.any(|l| l.trim() == want),
        };
        if !found {
            return Err(format!("not found in order: {want:?}"));
        }
    }
    Ok(())
}

/// A fresh working directory holding a copy of the repository's `data/`.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    for entry in std::fs::read_dir(root().join("data")).expect("data/ is readable") {
        let entry = entry.expect("a data/ entry");
        std::fs::copy(entry.path(), data.join(entry.file_name())).expect("data copied");
    }
    dir
}

fn run_example(dir: &Path, page: &str, block: &Block, example: &Example) {
    let argv = words(&example.command);
    let Some(("neardup", args)) = argv.split_first().map(|(p, a)| (p.as_str(), a)) else {
        panic!(
            "{page}:{}: console examples run neardup, got {:?} (use a ```sh block for others)",
            block.line, example.command
        );
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = neardup(dir, &args);
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{page}:{}: `{}` failed ({}):\n{output}",
        block.line,
        example.command,
        out.status
    );
    if let Err(e) = shown_in(&output, &example.shown) {
        panic!(
            "{page}:{}: `{}`: {e}\nactual output:\n{output}",
            block.line, example.command
        );
    }
}

#[test]
fn readme_is_short_and_its_two_commands_work() {
    let readme = read("README.md");
    assert!(
        readme.len() <= README_MAX_BYTES,
        "README.md is {} bytes, more than {README_MAX_BYTES}: move details to docs/",
        readme.len()
    );
    let console: Vec<Block> = blocks(&readme)
        .into_iter()
        .filter(|b| b.info == "console")
        .collect();
    let found: Vec<Example> = console.iter().flat_map(examples).collect();
    let commands: Vec<&str> = found.iter().map(|e| e.command.as_str()).collect();
    assert_eq!(
        commands,
        [README_RUN, README_TEST],
        "the README shows exactly the two commands a newcomer needs"
    );

    // The first command, with the built binary in place of `cargo run --release --`.
    let (run, show) = README_RUN.split_once(" && ").expect("run, then show");
    let argv = words(run);
    let args = argv
        .strip_prefix(&["cargo", "run", "--release", "--"].map(String::from))
        .expect("cargo run --release -- ARGS");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let dir = workdir();
    let out = neardup(dir.path(), &args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{run}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `head -n N FILE`, read here so the test needs no coreutils
    let head = words(show);
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    let ["head", "-n", n, file] = head[..] else {
        panic!("{show:?}: expected `head -n N FILE`");
    };
    let n: usize = n.parse().expect("a line count");
    let clusters = std::fs::read_to_string(dir.path().join(file)).expect("the file shown");
    let shown: Vec<&str> = clusters.lines().take(n).collect();
    assert_eq!(shown.len(), n, "{file} has at least {n} lines to show");
    for line in &shown {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        assert!(v["members"].as_array().is_some_and(|m| m.len() >= 2));
    }
    let output = format!("{stdout}{}", shown.join("\n"));
    if let Err(e) = shown_in(&output, &found[0].shown) {
        panic!("README: `{README_RUN}`: {e}\nactual output:\n{output}");
    }
    assert!(
        found[1].shown.is_empty(),
        "the test command's output depends on the machine: show none"
    );
    assert!(
        read(".ci/run").lines().any(|l| l.trim() == README_TEST),
        ".ci/run runs the README's test command"
    );
}

#[test]
fn console_examples_in_docs_run() {
    let mut ran = 0;
    for page in EXAMPLE_PAGES {
        for block in blocks(&read(page)) {
            if block.info != "console" {
                continue;
            }
            let dir = workdir();
            let found = examples(&block);
            assert!(
                !found.is_empty(),
                "{page}:{}: an empty console block",
                block.line
            );
            for example in &found {
                run_example(dir.path(), page, &block, example);
                ran += 1;
            }
        }
    }
    assert!(ran >= 10, "only {ran} documented examples ran");
}

/// Every `--flag` in a text: two dashes, a letter, then letters, digits and dashes, not
/// preceded by a word character or a dash.
fn flags(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("--") {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            continue;
        }
        let rest = &text[i + 2..];
        if !rest.starts_with(|c: char| c.is_ascii_lowercase()) {
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
            .unwrap_or(rest.len());
        out.insert(format!("--{}", rest[..end].trim_end_matches('-')));
    }
    out
}

/// Each subcommand's flags, from the binary's own help.
fn help_flags() -> BTreeMap<String, BTreeSet<String>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let top = neardup(dir.path(), &["--help"]);
    let top = String::from_utf8_lossy(&top.stdout).into_owned();
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect();
    assert!(commands.len() >= 6, "subcommands in --help: {commands:?}");
    commands
        .into_iter()
        .map(|c| {
            let help = neardup(dir.path(), &[&c, "--help"]);
            assert!(help.status.success(), "neardup {c} --help");
            (c, flags(&String::from_utf8_lossy(&help.stdout)))
        })
        .collect()
}

/// The subcommand a `## neardup CMD` section of docs/cli.md is about.
fn section_command(section: &str) -> Option<&str> {
    let heading = section.trim().trim_matches('`');
    heading
        .strip_prefix("neardup ")
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_alphanumeric()).next())
}

#[test]
fn every_documented_flag_exists_and_every_flag_is_documented() {
    let help = help_flags();
    let all: BTreeSet<&String> = help.values().flatten().collect();
    // every command has them; the page need not repeat them per command
    let everywhere = ["--help".to_owned(), "--version".to_owned()];

    // An example's flags belong to the command it runs, whatever section it is in; what
    // it prints is checked by running it.
    for page in EXAMPLE_PAGES {
        for block in blocks(&read(page)).iter().filter(|b| b.info == "console") {
            for example in examples(block) {
                let argv = words(&example.command);
                let command = argv.get(1).map_or("", String::as_str);
                let known = help
                    .get(command)
                    .unwrap_or_else(|| panic!("{page}:{}: no subcommand {command:?}", block.line));
                for flag in flags(&example.command) {
                    assert!(
                        known.contains(&flag),
                        "{page}:{}: {flag} is not in `neardup {command} --help`",
                        block.line
                    );
                }
            }
        }
    }

    let cli = read("docs/cli.md");
    let mut documented: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut section = String::new();
    let mut fence: Option<bool> = None; // inside a code block: is it a console block?
    for line in cli.lines() {
        if let Some(info) = line.trim_start().strip_prefix("```") {
            fence = match fence {
                Some(_) => None,
                None => Some(info.trim() == "console"),
            };
            continue;
        }
        if fence == Some(true) {
            continue;
        }
        if let Some(heading) = line.strip_prefix("## ") {
            heading.clone_into(&mut section);
            continue;
        }
        let found = flags(line);
        match section_command(&section) {
            Some(command) => {
                let known = help
                    .get(command)
                    .unwrap_or_else(|| panic!("docs/cli.md: no subcommand {command:?}"));
                for flag in &found {
                    assert!(
                        known.contains(flag),
                        "docs/cli.md, section {section:?}: {flag} is not in `neardup {command} --help`"
                    );
                }
                documented
                    .entry(command.to_owned())
                    .or_default()
                    .extend(found);
            }
            None => {
                for flag in &found {
                    assert!(
                        all.contains(flag) || everywhere.contains(flag),
                        "docs/cli.md: {flag} is in no --help"
                    );
                }
            }
        }
    }
    for (command, flags) in &help {
        let missing: Vec<&String> = flags
            .iter()
            .filter(|f| !everywhere.contains(f))
            .filter(|f| documented.get(command).is_none_or(|d| !d.contains(*f)))
            .collect();
        assert!(
            missing.is_empty(),
            "docs/cli.md: `neardup {command}` lacks {missing:?}"
        );
    }

    for page in &EXAMPLE_PAGES[1..] {
        let text = read(page);
        let console: Vec<String> = blocks(&text)
            .into_iter()
            .filter(|b| b.info == "console")
            .flat_map(|b| b.body)
            .collect();
        let prose: String = text
            .lines()
            .filter(|l| !console.iter().any(|c| c == l))
            .collect::<Vec<_>>()
            .join("\n");
        for flag in flags(&prose) {
            assert!(
                all.contains(&flag) || everywhere.contains(&flag),
                "{page}: {flag} is in no --help"
            );
        }
    }
}

#[test]
fn the_doc_checks_themselves() {
    assert_eq!(
        words(r#"neardup dedup "a b.jsonl" --prefer-outlets 'X, Y' c\ d"#),
        [
            "neardup",
            "dedup",
            "a b.jsonl",
            "--prefer-outlets",
            "X, Y",
            "c d"
        ]
    );
    assert_eq!(
        flags("`--simhash-k` vs --x; a--b, |---|, --Version, --out=DIR"),
        ["--out", "--simhash-k", "--x"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    let shown = |lines: &[&str]| lines.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert!(shown_in("a\nb c d\ne\n", &shown(&["a", "...", "b c...", "e"])).is_ok());
    assert!(shown_in("a\nb\n", &shown(&["b", "a"])).is_err());
    let block = &blocks("## x\n```console\n$ neardup a \\\n  b\nout\n$ neardup c\n```\n")[0];
    let found = examples(block);
    assert_eq!(block.section, "x");
    assert_eq!(found[0].command, "neardup a b");
    assert_eq!(found[0].shown, ["out"]);
    assert_eq!(found[1].command, "neardup c");
    assert_eq!(section_command("`neardup dedup`"), Some("dedup"));
    assert_eq!(section_command("Exit codes"), None);
}

/// The rows of docs/method.md's memory table that name a type in their first cell give
/// its size, as this build lays it out: a type that grows or shrinks changes the page.
#[test]
fn the_memory_table_gives_the_sizes_of_the_types_it_names() {
    use std::mem::size_of;
    let sizes: BTreeMap<&str, usize> = BTreeMap::from([
        // on disk: the width of its rows
        (
            "AssignmentTable",
            neardup::records::AssignmentTable::ROW_BYTES,
        ),
        ("PlacementRuns", neardup::records::PlacementRuns::ROW_BYTES),
        (
            "(DocId, Placement)",
            size_of::<(neardup::ids::DocId, neardup::cluster::Placement)>(),
        ),
        ("Provenance", size_of::<neardup::provenance::Provenance>()),
        ("EdgeTable", neardup::records::EdgeTable::ROW_BYTES),
        (
            "DuplicatesByCluster",
            neardup::records::DuplicatesByCluster::ROW_BYTES,
        ),
    ]);
    let page = read("docs/method.md");
    let mut seen = BTreeSet::new();
    for line in page
        .lines()
        .filter(|l| l.starts_with("| ") && l.ends_with(" |"))
    {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        let (Some(first), Some(bytes)) = (cells.first(), cells.last()) else {
            continue;
        };
        for (name, size) in &sizes {
            if first.contains(&format!("(`{name}`")) {
                assert_eq!(
                    bytes.parse::<usize>().ok(),
                    Some(*size),
                    "docs/method.md gives {bytes} bytes for `{name}`, the build {size}"
                );
                seen.insert(*name);
            }
        }
    }
    let missing: Vec<_> = sizes.keys().filter(|n| !seen.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "docs/method.md's memory table lacks {missing:?}"
    );
}
