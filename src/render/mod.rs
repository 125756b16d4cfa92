//! Ladder diagrams (sequence diagrams) of calls, one model rendered by several backends.
//!
//! [`Ladder::build`] takes the message rows of one call (or of several linked legs) in capture
//! order and computes the model once: one column per endpoint (IP:port, or per host), named by
//! the user's aliases or by what the traffic says (User-Agent/Server); one row per message with
//! its time, delta, label, CSeq and SDP summary; retransmissions folded into the row they repeat
//! (`INVITE ×3`) rather than drawn again; a message seen on two hops drawn on both. Backends:
//! [`text`] (Unicode or ASCII, terminal colours per transaction), [`mermaid`], [`svg`] and
//! [`png`] (plotters), and [`html`] (the SVG with each arrow clickable).

#[cfg(feature = "tables")]
pub mod charts;
#[cfg(feature = "tables")]
pub mod html;
pub mod mermaid;
#[cfg(feature = "tables")]
pub mod png;
#[cfg(feature = "tables")]
pub mod svg;
pub mod text;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use crate::correlate::record::MsgRow;
use crate::time::{Nanos, Ts};

/// What a column stands for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Endpoint {
    Addr(SocketAddr),
    Host(IpAddr),
}

#[derive(Clone, Debug)]
pub struct Column {
    pub endpoint: Endpoint,
    /// The address as text (`10.0.0.1:5060`, or the host).
    pub address: String,
    /// The alias the user gave, else the User-Agent/Server this endpoint sent, if any.
    pub name: Option<String>,
    /// What the endpoint does in this ladder (UA, proxy, registrar, redirect server).
    pub role: Option<Role>,
}

/// Roles inferred from what an endpoint does (TRANSACTIONS.md, endpoint roles).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sends or answers INVITEs with its own requests and final answers.
    Ua,
    /// Forwards requests it receives, adding a Via.
    Proxy,
    /// Answers REGISTER with 2xx.
    Registrar,
    /// Answers with 3xx.
    Redirect,
    /// Receives an INVITE on one leg and starts another leg (a new Call-ID) for it.
    B2bua,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ua => "UA",
            Role::Proxy => "proxy",
            Role::Registrar => "registrar",
            Role::Redirect => "redirect server",
            Role::B2bua => "B2BUA",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Row {
    pub ts: Ts,
    /// Time since the previous row.
    pub delta: Nanos,
    pub from: usize,
    pub to: usize,
    /// Method, or status and reason phrase.
    pub label: String,
    pub cseq: String,
    /// How many times the message was seen on this hop (1 + retransmissions).
    pub count: u32,
    /// Identifies the transaction (for colours): CSeq number and method class, and branch.
    pub transaction: u64,
    pub sdp: Option<String>,
    /// The message text (verbose ladders and HTML).
    pub text: Option<String>,
    /// Which leg (Call-ID) of a merged ladder the row belongs to.
    pub leg: usize,
    pub frame: u64,
    /// Via headers the message carried (a forwarded request carries one more).
    pub via_count: usize,
    /// An RTP stream drawn as a span from its first packet (`ts`) to its last (`until`).
    pub rtp: Option<crate::time::Ts>,
}

#[derive(Clone, Debug, Default)]
pub struct LadderOptions {
    /// One column per host instead of per IP:port.
    pub by_host: bool,
    /// Names for endpoints: an IP (any port) or IP:port.
    pub aliases: BTreeMap<String, String>,
    /// Only the shape is wanted (the report's network map: columns and their roles): the rows
    /// carry no message text, SDP or transaction id, and the columns no address text or name.
    pub skip_text: bool,
}

#[derive(Clone, Debug)]
pub struct Ladder {
    /// The Call-IDs drawn, in order of first appearance (more than one with merged legs).
    pub call_ids: Vec<String>,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
    /// How the call ended (`busy · 486`), when the caller knows it: shown in image titles.
    pub outcome: Option<String>,
}

fn fnv(s: &str, h: u64) -> u64 {
    crate::decode::fnv(s.as_bytes(), h)
}

impl Ladder {
    /// Builds the model from the message rows of the call(s), in capture order.
    pub fn build(messages: &[MsgRow], opts: &LadderOptions) -> Ladder {
        let mut columns: Vec<Column> = Vec::new();
        let mut call_ids: Vec<String> = Vec::new();
        let mut rows: Vec<Row> = Vec::new();
        let endpoint = |a: SocketAddr| {
            if opts.by_host {
                Endpoint::Host(a.ip())
            } else {
                Endpoint::Addr(a)
            }
        };
        let column_of = |a: SocketAddr, columns: &mut Vec<Column>| -> usize {
            let e = endpoint(a);
            if let Some(i) = columns.iter().position(|c| c.endpoint == e) {
                return i;
            }
            let address = match &e {
                _ if opts.skip_text => String::new(),
                Endpoint::Addr(a) => a.to_string(),
                Endpoint::Host(h) => h.to_string(),
            };
            let name = if opts.aliases.is_empty() {
                None
            } else {
                opts.aliases
                    .get(&a.to_string())
                    .or_else(|| opts.aliases.get(&a.ip().to_string()))
                    .cloned()
            };
            columns.push(Column {
                endpoint: e,
                address,
                name,
                role: None,
            });
            columns.len() - 1
        };
        let mut last_ts: Option<Ts> = None;
        let mut anomalous: Vec<(usize, &Vec<&'static str>)> = Vec::new();
        let mut secure: Vec<(usize, &'static str)> = Vec::new();
        for m in messages {
            let from = column_of(m.src, &mut columns);
            let to = column_of(m.dst, &mut columns);
            // The software an endpoint runs names its column, unless the user named it. Only a
            // request with a single Via was written by its sender: a proxy forwards the caller's
            // User-Agent header, and responses carry the far end's Server header back.
            if let Some(ua) = m.user_agent.as_ref().filter(|_| !opts.skip_text) {
                if m.method.is_some() && m.via_count == 1 && columns[from].name.is_none() {
                    columns[from].name = Some(ua.to_string());
                }
            }
            let call_id = m.call_id.as_deref().unwrap_or_default();
            let leg = match call_ids.iter().position(|c| c == call_id) {
                Some(i) => i,
                None => {
                    call_ids.push(call_id.to_string());
                    call_ids.len() - 1
                }
            };
            let label = label_of(m);
            // `1 INVITE`, or whichever half there is.
            let cseq = match (m.cseq, m.cseq_method.as_deref().map(str::trim)) {
                (Some(n), Some(x)) if !x.is_empty() => format!("{n} {x}"),
                (Some(n), _) => n.to_string(),
                (None, Some(x)) => x.to_string(),
                (None, None) => String::new(),
            };
            if m.retransmission {
                // Fold into the latest row it repeats (same hop, same label, same CSeq).
                if let Some(r) = rows.iter_mut().rev().find(|r| {
                    r.from == from
                        && r.to == to
                        && r.label == label
                        && r.cseq == cseq
                        && r.leg == leg
                }) {
                    r.count += 1;
                    continue;
                }
            }
            // A request's own method names its transaction (its CSeq may disagree: anomaly
            // cseq-method-mismatch); a response has only its CSeq's.
            let class = match m.method.as_deref().or(m.cseq_method.as_deref()) {
                Some("ACK") => "INVITE",
                Some(x) => x,
                None => "",
            };
            let transaction = if opts.skip_text {
                0
            } else {
                fnv(
                    m.branch.as_deref().unwrap_or(""),
                    fnv(
                        &format!("{}{class}", m.cseq.unwrap_or(0)),
                        crate::decode::FNV_OFFSET,
                    ),
                )
            };
            let delta = last_ts.map_or(0, |t| m.ts.since(t));
            last_ts = Some(m.ts);
            rows.push(Row {
                ts: m.ts,
                delta,
                from,
                to,
                label,
                cseq,
                count: 1,
                transaction,
                sdp: if opts.skip_text { None } else { m.sdp.clone() },
                text: if opts.skip_text { None } else { m.text.clone() },
                leg,
                frame: m.frame,
                via_count: m.via_count,
                rtp: None,
            });
            if !m.anomalies.is_empty() {
                anomalous.push((rows.len() - 1, &m.anomalies));
            }
            if m.transport.is_tls() {
                secure.push((rows.len() - 1, m.transport.as_str()));
            }
        }
        let facts: Vec<RoleFacts<&str>> = rows
            .iter()
            .map(|r| {
                let request = is_method(&r.label);
                RoleFacts {
                    from: r.from,
                    to: r.to,
                    request,
                    invite: request && r.label == "INVITE",
                    status: if request {
                        0
                    } else {
                        r.label.get(..3).and_then(|s| s.parse().ok()).unwrap_or(0)
                    },
                    label: r.label.as_str(),
                    cseq: r.cseq.as_str(),
                    register: r.cseq.ends_with("REGISTER"),
                    via_count: r.via_count,
                    leg: r.leg,
                }
            })
            .collect();
        let found = roles(columns.len(), &facts);
        for (c, role) in columns.iter_mut().zip(found) {
            c.role = role;
        }
        // Decrypted from TLS (a key log): said on the arrow, like the grammar breaks below.
        for (i, t) in secure {
            let r = &mut rows[i];
            r.label = format!("{} [{t}]", r.label);
        }
        // Grammar breaks are said on the arrow, after the roles were read from the clean labels.
        for (i, a) in anomalous {
            let r = &mut rows[i];
            r.label = format!("{} [malformed: {}]", r.label, a.join(", "));
        }
        Ladder {
            call_ids,
            columns,
            rows,
            outcome: None,
        }
    }

    /// Adds the call's RTP streams as spans between the endpoints that exchange them. RTP uses
    /// media ports, so a stream joins the column of the same host (the signalling endpoint);
    /// a host seen only in media gets a column of its own.
    /// `owners` maps a media address to the signalling endpoint whose SDP announced it, which is
    /// the column it belongs to even when several endpoints share a host.
    pub fn add_streams(
        &mut self,
        streams: &[crate::analysis::rtp::StreamStats],
        owners: &BTreeMap<SocketAddr, SocketAddr>,
    ) {
        for st in streams {
            let col = |ladder: &mut Ladder, a: SocketAddr| -> usize {
                if let Some(owner) = owners.get(&a) {
                    let e = if ladder
                        .columns
                        .iter()
                        .any(|c| matches!(c.endpoint, Endpoint::Host(_)))
                    {
                        Endpoint::Host(owner.ip())
                    } else {
                        Endpoint::Addr(*owner)
                    };
                    if let Some(i) = ladder.columns.iter().position(|c| c.endpoint == e) {
                        return i;
                    }
                }
                if let Some(i) = ladder.columns.iter().position(|c| match &c.endpoint {
                    Endpoint::Addr(x) => x.ip() == a.ip(),
                    Endpoint::Host(h) => *h == a.ip(),
                }) {
                    return i;
                }
                ladder.columns.push(Column {
                    endpoint: Endpoint::Addr(a),
                    address: a.to_string(),
                    name: None,
                    role: None,
                });
                ladder.columns.len() - 1
            };
            let from = col(self, st.src);
            let to = col(self, st.dst);
            let mut label = format!(
                "RTP {} {} pkts lost {}",
                st.encoding
                    .clone()
                    .unwrap_or_else(|| format!("pt{}", st.payload_type)),
                st.packets,
                st.missing()
            );
            if st.duplicates > 0 {
                label.push_str(&format!(" dup {}", st.duplicates));
            }
            let mut jitter = match (st.mean_jitter_ms, st.max_jitter_ms) {
                (Some(m), Some(x)) => format!("jitter {m:.2}/{x:.2} ms · "),
                _ => String::new(),
            };
            if let Some(m) = st.mos {
                jitter.push_str(&format!("MOS {m:.2} · "));
            }
            if !st.dtmf.is_empty() {
                jitter.push_str(&format!("DTMF {} · ", st.dtmf));
            }
            let at = self.rows.partition_point(|r| r.ts <= st.first);
            self.rows.insert(
                at,
                Row {
                    ts: st.first,
                    delta: 0,
                    from,
                    to,
                    label,
                    cseq: format!("{jitter}until {}", time_of_day(st.last)),
                    count: 1,
                    transaction: 0,
                    sdp: None,
                    text: None,
                    leg: 0,
                    frame: 0,
                    via_count: 0,
                    rtp: Some(st.last),
                },
            );
        }
        let mut last: Option<Ts> = None;
        for r in &mut self.rows {
            r.delta = last.map_or(0, |t| r.ts.since(t));
            last = Some(r.ts);
        }
    }

    /// The heading of a column: its address, and its name and role (if known).
    pub fn column_title(&self, i: usize) -> (String, Option<String>) {
        let c = &self.columns[i];
        let second = match (&c.name, c.role) {
            (Some(n), Some(r)) => Some(format!("{n} ({})", r.as_str())),
            (Some(n), None) => Some(n.clone()),
            (None, Some(r)) => Some(format!("({})", r.as_str())),
            (None, None) => None,
        };
        (c.address.clone(), second)
    }
}

fn is_method(label: &str) -> bool {
    label.chars().next().is_some_and(|c| !c.is_ascii_digit())
}

/// The label of a message's arrow: its method (with a transfer's target or progress), or a
/// response's status and reason.
pub(crate) fn label_of(m: &MsgRow) -> String {
    match (&m.method, m.status) {
        // A transfer reads from the arrows: where to, and how it went.
        (Some(meth), _) if m.refer_to.is_some() => {
            let to = m.refer_to.as_deref().unwrap_or("");
            let to = to.trim_start_matches('<');
            let to = to.split(['>', ';']).next().unwrap_or(to);
            let to = to.strip_prefix("sip:").unwrap_or(to);
            format!("{meth} → {to}")
        }
        (Some(meth), _) if m.sipfrag.is_some() => {
            let f = m.sipfrag.as_deref().unwrap_or("");
            format!("{meth} ({})", f.strip_prefix("SIP/2.0 ").unwrap_or(f))
        }
        _ => plain_label(m),
    }
}

/// A message's method, or a response's status and reason (`? reason` when its status code could
/// not be read: anomaly bad-status-code).
pub fn plain_label(m: &MsgRow) -> String {
    match (&m.method, m.status) {
        (Some(meth), _) => meth.to_string(),
        (None, Some(s)) => match &m.reason {
            Some(r) if !r.is_empty() => format!("{s} {r}"),
            _ => s.to_string(),
        },
        _ => match &m.reason {
            Some(r) if !r.is_empty() => format!("? {r}"),
            _ => "?".into(),
        },
    }
}

/// What the role rule reads of one message (a ladder row, or the network map's note of it): the
/// sender's and receiver's columns, whether it reads as a request, its status, and keys equal
/// when two messages have the same label (method) and the same CSeq.
#[derive(Debug)]
pub(crate) struct RoleFacts<K> {
    pub from: usize,
    pub to: usize,
    pub request: bool,
    /// A request whose label is INVITE.
    pub invite: bool,
    pub status: u16,
    pub label: K,
    pub cseq: K,
    /// Its CSeq names REGISTER.
    pub register: bool,
    pub via_count: usize,
    pub leg: usize,
}

/// The role each of `n` columns shows in these messages (in capture order). A column that
/// receives an INVITE and starts another leg is a B2BUA; one that receives a request and sends
/// the same request (method and CSeq) on with one more Via is a proxy; one that answers REGISTER
/// with 2xx is a registrar; one that answers 3xx a redirect server; any other that sends
/// requests or final answers of its own is a UA.
pub(crate) fn roles<K: PartialEq>(n: usize, rows: &[RoleFacts<K>]) -> Vec<Option<Role>> {
    let mut proxy = vec![false; n];
    let mut registrar = vec![false; n];
    let mut redirect = vec![false; n];
    let mut active = vec![false; n];
    let mut b2bua = vec![false; n];
    for (i, r) in rows.iter().enumerate() {
        if r.request {
            active[r.from] = true;
            // Forwarded: the receiver sends the same request on, with one more Via, later.
            if rows[i + 1..].iter().any(|x| {
                x.from == r.to
                    && x.to != r.from
                    && x.label == r.label
                    && x.cseq == r.cseq
                    && x.via_count == r.via_count + 1
            }) {
                proxy[r.to] = true;
            }
            // Another leg (merged with --legs) starts from the receiver of this INVITE.
            if r.invite
                && rows[i + 1..]
                    .iter()
                    .any(|x| x.from == r.to && x.leg != r.leg && x.invite)
            {
                b2bua[r.to] = true;
            }
        } else {
            if r.status >= 200 {
                active[r.from] = true;
            }
            if (200..300).contains(&r.status) && r.register {
                registrar[r.from] = true;
            }
            if (300..400).contains(&r.status) {
                redirect[r.from] = true;
            }
        }
    }
    (0..n)
        .map(|i| {
            if b2bua[i] {
                Some(Role::B2bua)
            } else if proxy[i] {
                Some(Role::Proxy)
            } else if registrar[i] {
                Some(Role::Registrar)
            } else if redirect[i] {
                Some(Role::Redirect)
            } else if active[i] {
                Some(Role::Ua)
            } else {
                None
            }
        })
        .collect()
}

impl Ladder {
    /// `busy · 486`: a call's outcome and final status, for [`Ladder::outcome`] (none for a call
    /// without an outcome).
    pub fn outcome_of(c: &crate::correlate::record::CallRecord) -> Option<String> {
        let o = c.outcome?.as_str();
        Some(match c.final_status {
            Some(st) => format!("{o} · {st}"),
            None => o.to_string(),
        })
    }

    /// The title an image of the ladder carries: the Call-ID(s), the date and zone of its first
    /// row (the rows show the time of day), and the outcome when known. Wire text unescaped: each
    /// backend escapes it its own way.
    pub fn title(&self) -> String {
        let mut t = format!("Call-ID: {}", self.call_ids.join(" + "));
        if let Some(r) = self.rows.first() {
            t.push_str(" · ");
            t.push_str(&r.ts.date_and_zone());
        }
        if let Some(o) = &self.outcome {
            t.push_str(" · ");
            t.push_str(o);
        }
        t
    }
}

/// `HH:MM:SS.ffffff` of a capture time (UTC, or local with `--local-time`).
pub fn time_of_day(t: Ts) -> String {
    let ((_, _, _, h, m, s, ns), _) = t.display_civil();
    format!("{h:02}:{m:02}:{s:02}.{:06}", ns / 1000)
}

/// Parses `--alias ADDR=NAME` values.
pub fn parse_alias(s: &str) -> Option<(String, String)> {
    let (a, n) = s.split_once('=')?;
    let a = a.trim();
    let n = n.trim();
    let ok = a.parse::<IpAddr>().is_ok() || a.parse::<SocketAddr>().is_ok();
    (ok && !n.is_empty()).then(|| (a.to_string(), n.to_string()))
}
