//! SIP over TLS: a TCP connection recognised as TLS (a record header at the start of either
//! direction, on any port) is decrypted with the secrets of the key table ([`keylog`]), and
//! its application data handed back in order, to go through the same framing as SIP over TCP
//! (or WebSocket, for WSS).
//!
//! The connection's state ([`TlsConn`]: the two hello randoms, the suite, the extensions) is
//! shared by its two directions; each direction ([`TlsDir`]) cuts its stream into records
//! ([`record`]), reads the plaintext handshake, and opens the protected records
//! ([`cipher`]): TLS 1.2 after its ChangeCipherSpec, TLS 1.3 with the handshake traffic keys
//! until its Finished, then the application traffic keys, a new generation at each KeyUpdate.
//!
//! A connection that cannot be decrypted is counted once, at its end, by the first reason met
//! ([`Failure`]): no key, a suite or version not supported, the handshake not captured, a gap
//! in the stream, a record that fails to authenticate. Only connections that carried
//! protected application data are counted as failures (a connection that ended in its
//! handshake lost nothing).
//!
//! Bounded per direction: one record being assembled ([`record::MAX_FRAGMENT`]), a hello
//! ([`record::MAX_HELLO`]), and when the key table waits for secrets (live) at most
//! [`PENDING_MAX`] bytes of records waiting for their key.

pub mod cipher;
pub mod keylog;
pub mod record;

use std::collections::BTreeMap;

use bytes::Bytes;

use cipher::{RecordCipher, Suite};
use keylog::{KeyLog, Secrets};
use record::{content, handshake, HsMsg, HsReader, RecordReader};

/// Bytes of records one direction keeps while its key is awaited.
pub const PENDING_MAX: usize = 64 << 10;
/// Distinct server ports [`TlsStats::by_port`] keeps apart.
pub const TLS_PORTS: usize = 64;

/// Why a TLS connection was not decrypted.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No secret for its client random (or no key log at all).
    NoKey,
    /// A cipher suite or TLS version not decrypted ([`cipher::suite`]).
    Unsupported,
    /// Application data without both hellos before it (the capture began mid-connection).
    NoHandshake,
    /// Stream bytes missing (a lost segment, a cut to keep within the byte budget).
    Gap,
    /// A record failed to authenticate (wrong keys), or the stream stopped being TLS.
    BadRecord,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TlsStats {
    /// TLS connections seen to their end.
    pub connections: u64,
    /// Connections whose application data was decrypted.
    pub decrypted: u64,
    /// Application data records decrypted.
    pub records: u64,
    pub no_key: u64,
    pub unsupported: u64,
    pub no_handshake: u64,
    pub gap: u64,
    pub bad_record: u64,
    /// TLS 1.3 early data records (0-RTT), not decrypted.
    pub early_data: u64,
    /// Connections not decrypted, by server port (at most [`TLS_PORTS`] ports; the rest
    /// under port 0).
    pub by_port: BTreeMap<u16, u64>,
}

impl TlsStats {
    fn port(&mut self, port: u16, n: u64) {
        let port = if self.by_port.len() >= TLS_PORTS && !self.by_port.contains_key(&port) {
            0
        } else {
            port
        };
        *self.by_port.entry(port).or_insert(0) += n;
    }

    /// Connections not decrypted.
    pub fn failed(&self) -> u64 {
        self.no_key + self.unsupported + self.no_handshake + self.gap + self.bad_record
    }
}

impl std::ops::AddAssign<&TlsStats> for TlsStats {
    fn add_assign(&mut self, o: &TlsStats) {
        self.connections += o.connections;
        self.decrypted += o.decrypted;
        self.records += o.records;
        self.no_key += o.no_key;
        self.unsupported += o.unsupported;
        self.no_handshake += o.no_handshake;
        self.gap += o.gap;
        self.bad_record += o.bad_record;
        self.early_data += o.early_data;
        for (p, n) in &o.by_port {
            self.port(*p, *n);
        }
    }
}

/// What both directions of one TLS connection share.
#[derive(Default)]
pub struct TlsConn {
    /// The direction (0 or 1 of the flow) that sent the ClientHello.
    client: Option<usize>,
    client_random: Option<[u8; 32]>,
    hello: Option<record::ServerHello>,
    secrets: Option<Secrets>,
    /// Application data records decrypted.
    records: u64,
}

/// One direction of a TLS connection.
#[derive(Default)]
pub struct TlsDir {
    rec: RecordReader,
    hs: HsReader,
    cipher: Option<Box<RecordCipher>>,
    /// TLS 1.2: the ChangeCipherSpec was seen; records from here on are protected.
    protected: bool,
    /// TLS 1.3: the application traffic keys are in use (after this direction's Finished).
    app: bool,
    failure: Option<Failure>,
    /// Records waiting for their key (see [`PENDING_MAX`]).
    pending: Vec<(record::Header, Vec<u8>)>,
    pending_bytes: usize,
    /// Protected application-level records were met (so a failure lost data).
    saw_data: bool,
}

impl TlsDir {
    /// Records wait for their key.
    pub fn waiting(&self) -> bool {
        !self.pending.is_empty()
    }

    pub fn buffered(&self) -> usize {
        self.rec.buffered() + self.hs.buffered() + self.pending_bytes
    }

    fn fail(&mut self, f: Failure) {
        if self.failure.is_none() {
            self.failure = Some(f);
        }
        self.rec.clear();
        self.pending = Vec::new();
        self.pending_bytes = 0;
        self.cipher = None;
    }

    /// Stream bytes were lost (a TCP gap, a budget cut): the record boundaries and sequence
    /// numbers are lost with them.
    pub fn gap(&mut self) {
        self.saw_data = true;
        self.fail(Failure::Gap);
    }

    /// Takes in-order stream bytes of direction `d`; appends the application data decrypted
    /// to `plain`.
    pub fn push(
        &mut self,
        conn: &mut TlsConn,
        d: usize,
        data: &[u8],
        keys: Option<&KeyLog>,
        stats: &mut TlsStats,
        plain: &mut Vec<Bytes>,
    ) {
        if self.failure.is_some() {
            return;
        }
        // Records still waiting go first (their key may have come since); an empty push is
        // the connection's last chance at its end.
        self.retry_pending(conn, d, keys, stats, plain);
        let mut recs = Vec::new();
        let res = self.rec.push(data, &mut recs);
        for (h, frag) in recs {
            if self.failure.is_some() {
                return;
            }
            self.retry_pending(conn, d, keys, stats, plain);
            self.record(conn, d, h, frag, keys, stats, plain);
        }
        if res.is_err() {
            self.saw_data = true;
            self.fail(Failure::BadRecord);
        }
    }

    /// Records that waited for a key: decrypted once it is there.
    fn retry_pending(
        &mut self,
        conn: &mut TlsConn,
        d: usize,
        keys: Option<&KeyLog>,
        stats: &mut TlsStats,
        plain: &mut Vec<Bytes>,
    ) {
        if self.pending.is_empty() || self.failure.is_some() {
            return;
        }
        match conn.key(d, self.app, keys) {
            Ok(c) => self.cipher = Some(Box::new(c)),
            Err(Failure::NoKey) => return,
            Err(f) => return self.fail(f),
        }
        self.pending_bytes = 0;
        for (h, frag) in std::mem::take(&mut self.pending) {
            self.record(conn, d, h, frag, keys, stats, plain);
        }
    }

    #[allow(clippy::too_many_arguments)] // the direction's context, passed down as it is
    fn record(
        &mut self,
        conn: &mut TlsConn,
        d: usize,
        h: record::Header,
        mut frag: Vec<u8>,
        keys: Option<&KeyLog>,
        stats: &mut TlsStats,
        plain: &mut Vec<Bytes>,
    ) {
        if self.failure.is_some() {
            return;
        }
        // TLS 1.3 and its drafts (0x7fNN, not decrypted) protect everything after the hello.
        let tls13 = conn
            .hello
            .is_some_and(|s| s.version == 0x0304 || s.version >> 8 == 0x7f);
        if h.typ == content::CHANGE_CIPHER_SPEC {
            // TLS 1.3 sends one for middleboxes only (RFC 8446 §D.4).
            if !tls13 && conn.hello.is_some() {
                self.protected = true;
            }
            return;
        }
        let protected = self.cipher.is_some()
            || !self.pending.is_empty()
            || self.protected
            || (tls13 && h.typ == content::APPLICATION_DATA);
        if !protected {
            match h.typ {
                content::HANDSHAKE => {
                    let mut msgs = Vec::new();
                    self.hs.push(&frag, &mut msgs);
                    for m in msgs {
                        conn.hello_msg(d, m);
                    }
                }
                content::APPLICATION_DATA => {
                    self.saw_data = true;
                    if conn.hello.is_none() && conn.client == Some(d) {
                        // 0-RTT data before the ServerHello: its keys are not used for SIP.
                        stats.early_data += 1;
                    } else {
                        self.fail(Failure::NoHandshake);
                    }
                }
                _ => {}
            }
            return;
        }
        if h.typ == content::APPLICATION_DATA {
            self.saw_data = true;
        }
        if self.cipher.is_none() {
            match conn.key(d, self.app, keys) {
                Ok(c) => self.cipher = Some(Box::new(c)),
                Err(Failure::NoKey)
                    if keys.is_some_and(|k| k.waits())
                        && self.pending_bytes + frag.len() <= PENDING_MAX =>
                {
                    self.pending_bytes += frag.len();
                    self.pending.push((h, frag));
                    return;
                }
                Err(f) => {
                    // A failure before any data (a handshake record) still loses what follows.
                    self.saw_data = true;
                    return self.fail(f);
                }
            }
        }
        let Some(c) = self.cipher.as_mut() else {
            return;
        };
        let (typ, range) = match c.open(h.typ, h.version, &mut frag) {
            Ok(x) => x,
            Err(_) => {
                self.saw_data = true;
                return self.fail(Failure::BadRecord);
            }
        };
        match typ {
            content::APPLICATION_DATA => {
                self.saw_data = true;
                stats.records += 1;
                conn.records += 1;
                if !range.is_empty() {
                    frag.truncate(range.end);
                    frag.drain(..range.start);
                    plain.push(Bytes::from(frag));
                }
            }
            content::HANDSHAKE if tls13 => {
                // Finished and KeyUpdate end on a record boundary (RFC 8446 §5.1): the keys
                // change after this record.
                let mut msgs = Vec::new();
                let mut r = HsReader::default();
                r.push(&frag[range], &mut msgs);
                for m in msgs {
                    match m.typ {
                        handshake::FINISHED if !self.app => {
                            self.app = true;
                            self.cipher = None;
                            match conn.key(d, true, keys) {
                                Ok(c) => self.cipher = Some(Box::new(c)),
                                Err(f) => {
                                    self.saw_data = true;
                                    return self.fail(f);
                                }
                            }
                        }
                        handshake::KEY_UPDATE if self.app => {
                            let next = self
                                .cipher
                                .as_ref()
                                .and_then(|c| cipher::next_secret(c.hash, &c.secret));
                            let suite = conn.suite();
                            match (next, suite) {
                                (Some(s), Ok(suite)) => {
                                    self.cipher = RecordCipher::tls13(suite, &s).map(Box::new);
                                }
                                _ => return self.fail(Failure::BadRecord),
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}

impl TlsConn {
    fn hello_msg(&mut self, d: usize, m: HsMsg) {
        match (m.typ, m.body) {
            // A second ClientHello (after a HelloRetryRequest) keeps its random.
            (handshake::CLIENT_HELLO, Some(b)) if self.client_random.is_none() => {
                self.client_random = record::client_random(&b);
                self.client = Some(d);
            }
            (handshake::SERVER_HELLO, Some(b)) => {
                if let Some(sh) = record::server_hello(&b) {
                    if !sh.retry && self.client != Some(d) {
                        self.hello = Some(sh);
                    }
                }
            }
            _ => {}
        }
    }

    fn suite(&self) -> Result<Suite, Failure> {
        let sh = self.hello.ok_or(Failure::NoHandshake)?;
        let s = cipher::suite(sh.suite).ok_or(Failure::Unsupported)?;
        let ok = match sh.version {
            0x0304 => s.tls13,
            0x0303 => !s.tls13,
            _ => false,
        };
        ok.then_some(s).ok_or(Failure::Unsupported)
    }

    /// The protection of direction `d` (TLS 1.3: handshake or application keys, `app`).
    fn key(&mut self, d: usize, app: bool, keys: Option<&KeyLog>) -> Result<RecordCipher, Failure> {
        let suite = self.suite()?;
        let (Some(cr), Some(sh), Some(client_dir)) = (self.client_random, self.hello, self.client)
        else {
            return Err(Failure::NoHandshake);
        };
        let s = match self.secrets {
            Some(s) => s,
            None => {
                let s = keys.and_then(|k| k.get(&cr)).ok_or(Failure::NoKey)?;
                self.secrets = Some(s);
                s
            }
        };
        let client = d == client_dir;
        if suite.tls13 {
            let secret = match (client, app) {
                (true, false) => s.client_hs,
                (false, false) => s.server_hs,
                (true, true) => s.client_app,
                (false, true) => s.server_app,
            };
            let Some(secret) = secret else {
                // The entry may yet get this label (a key log written as it goes).
                self.secrets = None;
                return Err(Failure::NoKey);
            };
            RecordCipher::tls13(suite, secret.as_bytes()).ok_or(Failure::NoKey)
        } else {
            let Some(master) = s.master else {
                self.secrets = None;
                return Err(Failure::NoKey);
            };
            let etm = sh.etm && matches!(suite.bulk, cipher::Bulk::AesCbc(..));
            RecordCipher::tls12(suite, master.as_bytes(), &cr, &sh.random, client, etm)
                .ok_or(Failure::NoKey)
        }
    }

    /// The connection ended: counts it (decrypted, or the first reason it was not).
    /// `ports[d]`: the port that direction `d` was sent from.
    pub fn finish(&self, dirs: [Option<&TlsDir>; 2], ports: [u16; 2], stats: &mut TlsStats) {
        stats.connections += 1;
        let waited = dirs.iter().flatten().any(|t| !t.pending.is_empty());
        let failure = dirs
            .iter()
            .flatten()
            .filter(|t| t.saw_data)
            .find_map(|t| t.failure)
            .or(waited.then_some(Failure::NoKey));
        let Some(f) = failure else {
            if self.records > 0 {
                stats.decrypted += 1;
            }
            return;
        };
        match f {
            Failure::NoKey => stats.no_key += 1,
            Failure::Unsupported => stats.unsupported += 1,
            Failure::NoHandshake => stats.no_handshake += 1,
            Failure::Gap => stats.gap += 1,
            Failure::BadRecord => stats.bad_record += 1,
        }
        // The server: the side that did not send the ClientHello, else the lower port.
        let port = match self.client {
            Some(c) => ports[1 - c.min(1)],
            None => ports[0].min(ports[1]),
        };
        stats.port(port, 1);
    }
}
