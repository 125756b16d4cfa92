//! fuzz-seeds: writes the fuzz targets' starting corpora from captures.
//!
//! ```text
//! fuzz-seeds OUTDIR PATH...
//! ```
//!
//! Every capture file under each PATH (pcap, pcapng, NetMon, gzip-compressed or not; files
//! that are not captures are skipped) is split by `sipscope::fuzzing::seeds` into inputs for
//! each target: the whole file, one input per frame, per TCP connection and direction, the UDP
//! payloads, and one per SIP message and SDP body. They go to `OUTDIR/TARGET/`, named after the
//! capture; identical inputs are written once. Used by `scripts/fuzz.sh` (docs/FUZZING.md).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

fn walk(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let Ok(rd) = std::fs::read_dir(p) else { return };
        let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        v.sort();
        for c in v {
            walk(&c, out);
        }
    } else if p.is_file() {
        out.push(p.to_path_buf());
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((out, paths)) = args.split_first() else {
        eprintln!("usage: fuzz-seeds OUTDIR PATH...");
        std::process::exit(2);
    };
    let mut files = Vec::new();
    for p in paths {
        walk(Path::new(p), &mut files);
    }
    let mut seen = HashSet::new();
    let mut written = 0usize;
    for f in &files {
        // Big captures make slow seeds; the small ones cover the same code.
        if std::fs::metadata(f).map_or(true, |m| m.len() > 4 << 20) {
            continue;
        }
        let stem: String = f
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        for (target, name, bytes) in sipscope::fuzzing::seeds(f) {
            if bytes.is_empty() || !seen.insert((target, bytes.clone())) {
                continue;
            }
            let dir = Path::new(out).join(target);
            if let Err(e) = std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(dir.join(format!("{stem}-{name}")), &bytes))
            {
                eprintln!("fuzz-seeds: {}: {e}", dir.display());
                std::process::exit(1);
            }
            written += 1;
        }
    }
    eprintln!("fuzz-seeds: {written} inputs from {} files", files.len());
}
