//! The network map of a report: every host that sent or received SIP, the roles its messages
//! show (as ladders infer them, TRANSACTIONS.md), and the messages between each pair of hosts.
//! Hosts, not IP:port: a proxy answering UAs over TCP from many ephemeral ports is one box.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use crate::correlate::record::{CallRecord, MsgRow};
use crate::render::{Ladder, LadderOptions, Role};

/// Hosts and pairs tracked at most; more are counted, not kept.
const MAX_HOSTS: usize = 10_000;
const MAX_PAIRS: usize = 50_000;
/// Hosts drawn in the picture (the busiest); the table lists every kept host.
const DRAWN: usize = 16;

const ROLES: [Role; 5] = [
    Role::B2bua,
    Role::Proxy,
    Role::Registrar,
    Role::Redirect,
    Role::Ua,
];

#[derive(Default, Debug, Clone)]
pub struct Host {
    pub sent: u64,
    pub received: u64,
    /// The User-Agent or Server it announced first.
    pub name: Option<String>,
    /// Calls in which it showed each role of [`ROLES`].
    pub roles: [u64; 5],
}

impl Host {
    /// Its roles, most telling first (`proxy, registrar`).
    pub fn roles(&self) -> String {
        ROLES
            .iter()
            .zip(self.roles)
            .filter(|(_, n)| *n > 0)
            .map(|(r, _)| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Default, Debug)]
pub struct NetMap {
    pub hosts: HashMap<IpAddr, Host>,
    pub hosts_cut: u64,
    /// (from, to) → (requests, responses)
    pub pairs: HashMap<(IpAddr, IpAddr), (u64, u64)>,
    pub pairs_cut: u64,
    /// Caller and callee of calls that have B2BUA legs, by Call-ID.
    legs: HashMap<String, (Option<SocketAddr>, Option<SocketAddr>)>,
}

impl NetMap {
    fn host(&mut self, ip: IpAddr) -> Option<&mut Host> {
        if self.hosts.len() >= MAX_HOSTS && !self.hosts.contains_key(&ip) {
            self.hosts_cut += 1;
            return None;
        }
        Some(self.hosts.entry(ip).or_default())
    }

    pub fn message(&mut self, m: &MsgRow) {
        let (src, dst) = (m.src.ip(), m.dst.ip());
        if let Some(h) = self.host(src) {
            h.sent += 1;
            // Only a request with one Via was written by its sender (a proxy forwards the
            // caller's User-Agent); a response's Server is the sender's own.
            let own = if m.method.is_some() {
                m.via_count == 1
            } else {
                true
            };
            if h.name.is_none() && own {
                h.name.clone_from(&m.user_agent);
            }
        }
        if let Some(h) = self.host(dst) {
            h.received += 1;
        }
        if self.pairs.len() >= MAX_PAIRS && !self.pairs.contains_key(&(src, dst)) {
            self.pairs_cut += 1;
            return;
        }
        let p = self.pairs.entry((src, dst)).or_default();
        if m.method.is_some() {
            p.0 += 1;
        } else {
            p.1 += 1;
        }
    }

    /// The roles a call's messages show; a B2BUA shows across two linked calls.
    pub fn call(&mut self, c: &CallRecord, msgs: &[MsgRow]) {
        let shape = LadderOptions {
            skip_text: true,
            ..LadderOptions::default()
        };
        let ladder = Ladder::build(msgs, &shape);
        let mut seen: BTreeSet<(IpAddr, usize)> = BTreeSet::new();
        for col in &ladder.columns {
            if let (crate::render::Endpoint::Addr(a), Some(role)) = (&col.endpoint, col.role) {
                if let Some(i) = ROLES.iter().position(|r| *r == role) {
                    seen.insert((a.ip(), i));
                }
            }
        }
        let callee = c.detail.as_ref().and_then(|d| d.callee);
        for l in &c.legs {
            if let Some((caller2, callee2)) = self.legs.get(&l.call_id) {
                if let (Some(a), Some(b)) = (callee, caller2) {
                    if a.ip() == b.ip() {
                        seen.insert((a.ip(), 0));
                    }
                }
                if let (Some(a), Some(b)) = (c.caller, callee2) {
                    if a.ip() == b.ip() {
                        seen.insert((a.ip(), 0));
                    }
                }
            }
        }
        if !c.legs.is_empty() && self.legs.len() < MAX_HOSTS * 10 {
            self.legs.insert(c.call_id.clone(), (c.caller, callee));
        }
        for (ip, i) in seen {
            if let Some(h) = self.host(ip) {
                h.roles[i] += 1;
            }
        }
    }

    /// Hosts by traffic, busiest first.
    pub fn ranked(&self) -> Vec<(IpAddr, &Host)> {
        let mut v: Vec<(IpAddr, &Host)> = self.hosts.iter().map(|(k, h)| (*k, h)).collect();
        v.sort_by(|a, b| {
            (b.1.sent + b.1.received)
                .cmp(&(a.1.sent + a.1.received))
                .then(a.0.cmp(&b.0))
        });
        v
    }

    /// Pairs by messages, busiest first.
    pub fn ranked_pairs(&self) -> Vec<((IpAddr, IpAddr), (u64, u64))> {
        let mut v: Vec<_> = self.pairs.iter().map(|(k, n)| (*k, *n)).collect();
        v.sort_by(|a, b| {
            (b.1 .0 + b.1 .1)
                .cmp(&(a.1 .0 + a.1 .1))
                .then(a.0.cmp(&b.0))
        });
        v
    }

    /// The busiest hosts on a circle, a line between each two that talk, with the messages
    /// each way. Text from the wire (names) is escaped.
    pub fn svg(&self) -> String {
        let hosts: Vec<(IpAddr, &Host)> = self.ranked().into_iter().take(DRAWN).collect();
        let (w, h) = (760.0f64, 520.0f64);
        let (cx, cy, r) = (w / 2.0, h / 2.0, 190.0f64);
        let pos = |i: usize| {
            let n = hosts.len().max(1) as f64;
            let a = std::f64::consts::TAU * i as f64 / n - std::f64::consts::FRAC_PI_2;
            (cx + r * a.cos(), cy + r * a.sin())
        };
        let index: HashMap<IpAddr, usize> = hosts
            .iter()
            .enumerate()
            .map(|(i, (ip, _))| (*ip, i))
            .collect();
        let mut out = String::new();
        let _ = write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="netmap" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">"#
        );
        if hosts.is_empty() {
            let _ = write!(
                out,
                r#"<text x="{cx}" y="{cy}" text-anchor="middle">no SIP hosts</text></svg>"#
            );
            return out;
        }
        // One line per pair of drawn hosts, both directions together.
        let mut lines: HashMap<(usize, usize), (u64, u64)> = HashMap::new();
        for ((a, b), (req, resp)) in &self.pairs {
            let (Some(&i), Some(&j)) = (index.get(a), index.get(b)) else {
                continue;
            };
            if i == j {
                continue;
            }
            let key = (i.min(j), i.max(j));
            let e = lines.entry(key).or_default();
            if i < j {
                e.0 += req + resp;
            } else {
                e.1 += req + resp;
            }
        }
        let mut lines: Vec<_> = lines.into_iter().collect();
        lines.sort();
        let max = lines
            .iter()
            .map(|(_, (a, b))| a + b)
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        for ((i, j), (ab, ba)) in &lines {
            let ((x1, y1), (x2, y2)) = (pos(*i), pos(*j));
            let width = 1.0 + 5.0 * ((ab + ba) as f64).ln_1p() / max.ln_1p();
            let _ = write!(
                out,
                r##"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="#7a8ca8" stroke-opacity="0.7" stroke-width="{width:.1}"><title>{} ⇄ {}: {ab} → / {ba} ←</title></line>"##,
                hosts[*i].0, hosts[*j].0
            );
            let (mx, my) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
            let _ = write!(
                out,
                r##"<text x="{mx:.1}" y="{my:.1}" text-anchor="middle" fill="#334" paint-order="stroke" stroke="#fff" stroke-width="3">{ab}→ {ba}←</text>"##
            );
        }
        for (i, (ip, host)) in hosts.iter().enumerate() {
            let (x, y) = pos(i);
            let roles = host.roles();
            let fill = match roles.split(',').next().unwrap_or("") {
                "B2BUA" => "#f4c27a",
                "proxy" => "#9fc5f8",
                "registrar" => "#b6d7a8",
                "redirect server" => "#d5a6bd",
                "UA" => "#e6e6e6",
                _ => "#ffffff",
            };
            let _ = write!(
                out,
                r##"<g><circle cx="{x:.1}" cy="{y:.1}" r="16" fill="{fill}" stroke="#445"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{ip}</text><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#555">{}</text></g>"##,
                y + 28.0,
                y + 41.0,
                super::html::esc(&crate::output::fit(
                    &crate::output::escape(host.name.as_deref().unwrap_or("")),
                    28
                )),
                y + 54.0,
                super::html::esc(if roles.is_empty() { "—" } else { &roles }),
            );
        }
        out.push_str("</svg>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_and_hosts_bounded() {
        let mut n = NetMap::default();
        let mut m = crate::testutil::msg_row();
        m.user_agent = Some("<script>alert(1)</script>".into());
        n.message(&m);
        let svg = n.svg();
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(roxmltree::Document::parse(&svg).is_ok(), "{svg}");
        assert!(NetMap::default().svg().contains("no SIP hosts"));
    }
}
