//! The TLS key table: secrets from NSS key log files (`--tls-keylog`, the format of
//! `SSLKEYLOGFILE` and RFC 9850) and from pcapng Decryption Secrets Blocks, by client random.
//!
//! Labels read: `CLIENT_RANDOM` (the TLS ≤ 1.2 master secret) and the TLS 1.3
//! `CLIENT_HANDSHAKE_TRAFFIC_SECRET`, `SERVER_HANDSHAKE_TRAFFIC_SECRET`, `CLIENT_TRAFFIC_SECRET_0`
//! and `SERVER_TRAFFIC_SECRET_0` (later generations are derived at each KeyUpdate, RFC 8446
//! §7.2). Other labels (exporter, early data) are skipped; lines that do not parse are counted.
//!
//! Shared by every worker thread (one read-mostly lock; a connection looks its keys up once).
//! Bounded: at most `max_entries` client randoms; past it the oldest entry is evicted (FIFO,
//! O(1)) and counted. Files are re-read from where they were left when a lookup misses (an SBC
//! appends secrets as connections open): at most once per [`REREAD_EVERY`] of wall time, a
//! partial last line kept for the next read; a file that shrank is read again from its start.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

/// Client randoms kept by default (about 400 bytes each).
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;
/// How often a missing key may make the files be read again.
pub const REREAD_EVERY: Duration = Duration::from_millis(20);
/// The longest line kept while waiting for its end (a key log line is under 300 bytes).
const MAX_LINE: usize = 1024;

/// A secret of up to 48 bytes (SHA-384's length).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Secret {
    len: u8,
    b: [u8; 48],
}

impl Secret {
    pub fn new(v: &[u8]) -> Option<Secret> {
        if v.is_empty() || v.len() > 48 {
            return None;
        }
        let mut b = [0u8; 48];
        b[..v.len()].copy_from_slice(v);
        Some(Secret {
            len: v.len() as u8,
            b,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.b[..usize::from(self.len)]
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets are not printed.
        write!(f, "Secret({} bytes)", self.len)
    }
}

/// What the key log holds for one client random.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Secrets {
    /// TLS ≤ 1.2 master secret (48 bytes).
    pub master: Option<Secret>,
    pub client_hs: Option<Secret>,
    pub server_hs: Option<Secret>,
    pub client_app: Option<Secret>,
    pub server_app: Option<Secret>,
}

/// What the table did, for the end of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct KeyLogStats {
    /// Client randoms with at least one secret, now.
    pub entries: u64,
    /// Entries dropped from a full table (their connections, if later, cannot be decrypted).
    pub evicted: u64,
    /// Lines that are neither a comment nor a known label with hex values.
    pub bad_lines: u64,
    /// Files that could not be read again (a warning; what was read stays).
    pub read_errors: u64,
}

struct Tail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

struct Inner {
    map: FxHashMap<[u8; 32], Secrets>,
    order: VecDeque<[u8; 32]>,
    max: usize,
    stats: KeyLogStats,
    files: Vec<Tail>,
    last_read: Option<Instant>,
}

/// The key table (see the module docs).
pub struct KeyLog {
    inner: RwLock<Inner>,
    /// Secrets may arrive after the connection they open (a live capture whose key log is
    /// written as it goes): a connection waits for its key, a bounded number of records.
    wait: bool,
}

impl std::fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyLog({:?})", self.stats())
    }
}

impl Default for KeyLog {
    fn default() -> Self {
        KeyLog::new(DEFAULT_MAX_ENTRIES)
    }
}

fn unhex(s: &[u8]) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let d = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.chunks(2)
        .map(|p| Some(d(p[0])? << 4 | d(p[1])?))
        .collect()
}

impl Inner {
    fn line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) || line.first() == Some(&b'#') {
            return;
        }
        let mut f = line
            .split(|c| *c == b' ' || *c == b'\t')
            .filter(|f| !f.is_empty());
        let (Some(label), Some(cr), Some(secret), None) = (f.next(), f.next(), f.next(), f.next())
        else {
            self.stats.bad_lines += 1;
            return;
        };
        let (Some(cr), Some(secret)) = (unhex(cr), unhex(secret).and_then(|s| Secret::new(&s)))
        else {
            self.stats.bad_lines += 1;
            return;
        };
        let Ok(cr) = <[u8; 32]>::try_from(&cr[..]) else {
            self.stats.bad_lines += 1;
            return;
        };
        let slot: fn(&mut Secrets) -> &mut Option<Secret> = match label {
            b"CLIENT_RANDOM" => |s| &mut s.master,
            b"CLIENT_HANDSHAKE_TRAFFIC_SECRET" => |s| &mut s.client_hs,
            b"SERVER_HANDSHAKE_TRAFFIC_SECRET" => |s| &mut s.server_hs,
            b"CLIENT_TRAFFIC_SECRET_0" => |s| &mut s.client_app,
            b"SERVER_TRAFFIC_SECRET_0" => |s| &mut s.server_app,
            // Known labels we have no use for (RFC 9850 §3).
            b"EXPORTER_SECRET"
            | b"EARLY_EXPORTER_SECRET"
            | b"CLIENT_EARLY_TRAFFIC_SECRET"
            | b"ECH_SECRET"
            | b"ECH_CONFIG"
            | b"RSA" => return,
            _ => {
                self.stats.bad_lines += 1;
                return;
            }
        };
        if !self.map.contains_key(&cr) {
            if self.map.len() >= self.max {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                    self.stats.evicted += 1;
                }
            }
            self.order.push_back(cr);
        }
        *slot(self.map.entry(cr).or_default()) = Some(secret);
    }

    /// Takes bytes of a key log; a line without its end waits in `partial`.
    fn text(&mut self, partial: &mut Vec<u8>, mut data: &[u8], end: bool) {
        while let Some(n) = memchr::memchr(b'\n', data) {
            if partial.is_empty() {
                self.line(&data[..n]);
            } else {
                partial.extend_from_slice(&data[..n]);
                let l = std::mem::take(partial);
                self.line(&l);
            }
            data = &data[n + 1..];
        }
        partial.extend_from_slice(data);
        if end || partial.len() > MAX_LINE {
            let l = std::mem::take(partial);
            self.line(&l);
        }
    }

    fn read_files(&mut self) {
        let mut files = std::mem::take(&mut self.files);
        for t in &mut files {
            let read = (|| -> std::io::Result<Vec<u8>> {
                let mut f = std::fs::File::open(&t.path)?;
                let len = f.metadata()?.len();
                if len < t.offset {
                    // Truncated or replaced: read it again from the start.
                    t.offset = 0;
                    t.partial.clear();
                }
                if len == t.offset {
                    return Ok(Vec::new());
                }
                f.seek(SeekFrom::Start(t.offset))?;
                let mut v = Vec::new();
                f.take(len - t.offset).read_to_end(&mut v)?;
                Ok(v)
            })();
            match read {
                Ok(v) => {
                    t.offset += v.len() as u64;
                    self.text(&mut t.partial, &v, false);
                }
                Err(_) => self.stats.read_errors += 1,
            }
        }
        self.files = files;
        self.last_read = Some(Instant::now());
    }
}

impl KeyLog {
    pub fn new(max_entries: usize) -> KeyLog {
        KeyLog {
            inner: RwLock::new(Inner {
                map: FxHashMap::default(),
                order: VecDeque::new(),
                max: max_entries.max(1),
                stats: KeyLogStats::default(),
                files: Vec::new(),
                last_read: None,
            }),
            wait: false,
        }
    }

    /// Connections wait (boundedly) for a key that is not there yet (see `wait`).
    pub fn waiting(mut self, wait: bool) -> KeyLog {
        self.wait = wait;
        self
    }

    pub fn waits(&self) -> bool {
        self.wait
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads a key log file now, and again as it grows (see the module docs).
    pub fn add_file(&self, path: &Path) -> std::io::Result<()> {
        let mut f = std::fs::File::open(path)?;
        let mut v = Vec::new();
        f.read_to_end(&mut v)?;
        let mut inner = self.write();
        let mut partial = Vec::new();
        inner.text(&mut partial, &v, false);
        inner.files.push(Tail {
            path: path.to_path_buf(),
            offset: v.len() as u64,
            partial,
        });
        Ok(())
    }

    /// Takes the text of a key log (a pcapng Decryption Secrets Block of type `TLSK`).
    pub fn add_text(&self, text: &[u8]) {
        let mut partial = Vec::new();
        self.write().text(&mut partial, text, true);
    }

    /// The secrets for a client random; on a miss the files are read again if they may have
    /// grown (at most once per [`REREAD_EVERY`]).
    pub fn get(&self, client_random: &[u8; 32]) -> Option<Secrets> {
        {
            let inner = self.read();
            if let Some(s) = inner.map.get(client_random) {
                return Some(*s);
            }
            if inner.files.is_empty() || inner.last_read.is_some_and(|t| t.elapsed() < REREAD_EVERY)
            {
                return None;
            }
        }
        let mut inner = self.write();
        inner.read_files();
        inner.map.get(client_random).copied()
    }

    /// Reads the files again now if they may have grown, whatever the time since the last
    /// reading: a connection that ends with records still waiting for their key gets this last
    /// chance (its records may all have come within one [`REREAD_EVERY`]).
    pub fn reread(&self) {
        let mut inner = self.write();
        if !inner.files.is_empty() {
            inner.read_files();
        }
    }

    pub fn stats(&self) -> KeyLogStats {
        let inner = self.read();
        KeyLogStats {
            entries: inner.map.len() as u64,
            ..inner.stats
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CR: &str = "9870bc2ca90cb07e2a4ccbaad8e8c913979a2bf02b08bd3108f60d36162d8ce7";

    fn cr(i: u8) -> [u8; 32] {
        [i; 32]
    }

    #[test]
    fn labels_comments_and_bad_lines() {
        let k = KeyLog::new(10);
        let text = format!(
            "# comment\n\nCLIENT_RANDOM {CR} {}\r\nSERVER_TRAFFIC_SECRET_0 {CR} {}\nEXPORTER_SECRET {CR} 00\nBOGUS {CR} 00\nCLIENT_RANDOM zz 00\nCLIENT_RANDOM {CR}",
            "ab".repeat(48),
            "cd".repeat(32)
        );
        k.add_text(text.as_bytes());
        let r: [u8; 32] = unhex(CR.as_bytes()).unwrap().try_into().unwrap();
        let s = k.get(&r).unwrap();
        assert_eq!(s.master.unwrap().as_bytes(), &[0xab; 48]);
        assert_eq!(s.server_app.unwrap().as_bytes(), &[0xcd; 32]);
        assert!(s.client_hs.is_none());
        assert_eq!(k.stats().bad_lines, 3);
        assert_eq!(k.stats().entries, 1);
    }

    #[test]
    fn a_full_table_evicts_the_oldest_and_counts() {
        let k = KeyLog::new(3);
        for i in 0..5u8 {
            let line = format!(
                "CLIENT_RANDOM {} {}\n",
                "0".repeat(62) + &format!("{i:02x}"),
                "11".repeat(48)
            );
            k.add_text(line.as_bytes());
        }
        let st = k.stats();
        assert_eq!((st.entries, st.evicted), (3, 2));
        let mut r = [0u8; 32];
        r[31] = 0;
        assert!(k.get(&r).is_none());
        r[31] = 4;
        assert!(k.get(&r).is_some());
        assert!(k.get(&cr(9)).is_none());
    }

    #[test]
    fn a_growing_file_is_read_again_on_a_miss() {
        let dir = std::env::temp_dir().join(format!("sipscope-keylog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("keys");
        let a = format!("CLIENT_RANDOM {} {}\n", "01".repeat(32), "11".repeat(48));
        let b = format!("CLIENT_RANDOM {} {}\n", "02".repeat(32), "22".repeat(48));
        // The second line arrives in two writes: its first half waits for its end.
        std::fs::write(&p, format!("{a}{}", &b[..40])).unwrap();
        let k = KeyLog::new(10);
        k.add_file(&p).unwrap();
        assert!(k.get(&cr(1)).is_some());
        assert!(k.get(&cr(2)).is_none());
        std::fs::write(&p, format!("{a}{b}")).unwrap();
        std::thread::sleep(REREAD_EVERY * 2);
        assert_eq!(
            k.get(&cr(2)).unwrap().master.unwrap().as_bytes(),
            &[0x22; 48]
        );
        assert_eq!(k.stats().bad_lines, 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
