//! File names made from wire text (a Call-ID), for `ladder --all -o DIR` and the terminal UI's
//! save: the one place such names are made.
//!
//! A name is at most [`PREFIX_CHARS`] characters of the text kept as `[A-Za-z0-9._-]` (anything
//! else becomes `_`), never starting with `.` (hidden files, `..`) or `-` (read as an option by
//! the next command), then `-`, the 64-bit FNV-1a hash of the whole text in hex, and the
//! extension. So a name never leaves its directory, and texts with the same prefix differ by
//! their hash. FNV-1a is not a cryptographic hash: a sender can make two Call-IDs with the same
//! prefix and hash. [`FileNames`] therefore also remembers every name given in a run and gives a
//! name already given a `-2`, `-3` … suffix: two texts never share a file within one run.

use std::collections::HashSet;

use crate::decode::{fnv, FNV_OFFSET};

/// Characters of the text kept at the front of a name.
pub const PREFIX_CHARS: usize = 80;

/// The name of the file for `text` with extension `ext` (see the module docs). The same text
/// always gives the same name, so a run writes over its own files of an earlier run.
pub fn file_name(text: &str, ext: &str) -> String {
    let kept: String = text
        .chars()
        .take(PREFIX_CHARS)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let kept = kept.trim_start_matches(['.', '-']);
    let stem = if kept.is_empty() { "call" } else { kept };
    format!("{stem}-{:016x}.{ext}", fnv(text.as_bytes(), FNV_OFFSET))
}

/// The names given in one run, so that no two texts share a file (see the module docs).
#[derive(Default, Debug)]
pub struct FileNames {
    /// Names given so far, lowercased: a file system that ignores case would see `A` and `a` as
    /// one file.
    used: HashSet<String>,
}

impl FileNames {
    pub fn new() -> FileNames {
        FileNames::default()
    }

    /// [`file_name`] of `text`, or, when another text of this run already got that name, the
    /// same with `-2`, `-3` … before the extension: a name is never given twice.
    pub fn name(&mut self, text: &str, ext: &str) -> String {
        let base = file_name(text, ext);
        if self.used.insert(base.to_ascii_lowercase()) {
            return base;
        }
        let stem = base.strip_suffix(&format!(".{ext}")).unwrap_or(&base);
        let mut n = 2u64;
        loop {
            let candidate = format!("{stem}-{n}.{ext}");
            if self.used.insert(candidate.to_ascii_lowercase()) {
                return candidate;
            }
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_in_their_directory_and_never_look_like_options() {
        for text in [
            "../../etc/passwd@x",
            "..",
            "-rf --no-preserve-root",
            "---",
            ".",
            "",
        ] {
            let n = file_name(text, "svg");
            assert!(!n.contains('/') && !n.contains('\\'), "{n}");
            assert!(
                !n.starts_with('.') && !n.starts_with('-'),
                "{text:?} gave {n}"
            );
        }
        assert_eq!(
            file_name("-rf --no-preserve-root", "svg"),
            format!(
                "rf_--no-preserve-root-{:016x}.svg",
                fnv(b"-rf --no-preserve-root", FNV_OFFSET)
            )
        );
        assert!(file_name(&"x".repeat(500), "mmd").len() <= PREFIX_CHARS + 1 + 16 + 4);
        assert_ne!(file_name("a b", "txt"), file_name("a_b", "txt"));
    }

    /// The two Call-IDs of `inject2.pcap` share their 80-character prefix and their 32-bit
    /// FNV-1a hash (`c7dd3a2b`), so they used to share one file.
    #[test]
    fn a_32_bit_collision_gets_two_names() {
        let pad = "A".repeat(80);
        let (a, b) = (
            format!("collide-{pad}-242aa@x"),
            format!("collide-{pad}-8cc08@x"),
        );
        let h = |s: &str| fnv(s.as_bytes(), FNV_OFFSET);
        assert_eq!(h(&a) as u32, h(&b) as u32, "the fixture's premise");
        assert_ne!(file_name(&a, "svg"), file_name(&b, "svg"));
    }

    /// Whatever the hash, a name given once in a run is not given again.
    #[test]
    fn a_name_is_never_given_twice() {
        let mut names = FileNames::new();
        let first = names.name("same", "txt");
        let second = names.name("same", "txt");
        let third = names.name("same", "txt");
        assert_eq!(first, file_name("same", "txt"));
        assert_eq!(second, first.replace(".txt", "-2.txt"));
        assert_eq!(third, first.replace(".txt", "-3.txt"));
    }
}
