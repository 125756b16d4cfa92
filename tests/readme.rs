//! The README's examples are true: every `$ sipscope …` shown with its output, on files in the
//! repository, prints that output today (issue 15: every example runnable on files that are in
//! `samples/`). Its output may be the beginning of what the command prints: a line `...`, or
//! one starting with `…`, stands for the rest and ends the comparison.

use std::process::Command;

use crate::support::repo;

/// (command, the output the README shows) for each `$ sipscope` line that opens a shown output.
fn examples(readme: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut lines = readme.lines().peekable();
    while let Some(l) = lines.next() {
        let Some(cmd) = l.strip_prefix("$ sipscope ") else {
            continue;
        };
        let mut shown = Vec::new();
        while let Some(next) = lines.peek() {
            if next.starts_with("```") || next.starts_with("$ ") {
                break;
            }
            shown.push(next.to_string());
            lines.next();
        }
        out.push((format!("sipscope {cmd}"), shown));
    }
    out
}

#[test]
fn readme_examples_print_what_the_readme_shows() {
    let root = repo();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_sipscope"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (cmd, shown) in examples(&readme) {
        // `…` stands for arguments the README leaves out: not a runnable line.
        if cmd.contains('…') || shown.is_empty() {
            continue;
        }
        let o = Command::new("sh")
            .arg("-c")
            .arg(&cmd)
            .current_dir(&root)
            .env("PATH", &path)
            .env("TZ", "UTC")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let got = String::from_utf8_lossy(&o.stdout);
        let got: Vec<&str> = got.lines().map(str::trim_end).collect();
        let compared = shown
            .iter()
            .take_while(|l| l.trim_end() != "..." && !l.starts_with('…'));
        let differs = compared
            .enumerate()
            .find(|(i, want)| got.get(*i) != Some(&want.trim_end()));
        if let Some((i, want)) = differs {
            wrong.push(format!(
                "{cmd}\n  line {}: README {:?}\n  printed {:?}",
                i + 1,
                want,
                got.get(i).copied().unwrap_or("(nothing)")
            ));
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} examples found");
    assert!(
        wrong.is_empty(),
        "README examples out of date:\n{}",
        wrong.join("\n")
    );
}
