//! The network map of a report: every SIP endpoint, the roles its messages show (as ladders
//! infer them, TRANSACTIONS.md), and the messages between each pair of endpoints. An endpoint is
//! an IP:port that receives requests (where it listens); the ephemeral ports a host sends from
//! over TCP fold into its listening port when it has just one, so a phone on TCP is one box.

use foldhash::{HashMap, HashMapExt, HashSet};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use crate::correlate::record::{CallRecord, MsgRow};
use crate::decode::{fnv, FNV_OFFSET};
use crate::render::{roles, Role, RoleFacts};

/// Hosts and pairs tracked at most; more are counted, not kept.
const MAX_HOSTS: usize = 10_000;
const MAX_PAIRS: usize = 50_000;
/// Hosts drawn in the picture (the busiest); the table lists every kept host.
const DRAWN: usize = 16;
/// Messages of one call the roles are read from (a section's limit, as its ladder).
const STEPS_PER_CALL: usize = 400;
/// Messages of open calls noted for their roles, all calls together (56 bytes each);
/// a call that does not fit has no roles read, and is counted.
const MAX_STEPS: usize = 262_144;

/// The notes of an open call's messages, for its roles ([`NetMap::note`]): kept by whoever
/// keeps the call's other state. Each note is what the role rule reads ([`RoleFacts`]), its
/// columns the call's addresses in the order they came.
#[derive(Default, Debug)]
pub struct Steps {
    columns: Vec<SocketAddr>,
    v: Vec<RoleFacts<u64>>,
    /// Over [`MAX_STEPS`]: the call's roles are not read.
    cut: bool,
}

impl Steps {
    fn column(&mut self, a: SocketAddr) -> usize {
        match self.columns.iter().position(|c| *c == a) {
            Some(i) => i,
            None => {
                self.columns.push(a);
                self.columns.len() - 1
            }
        }
    }

    /// A message as the ladder reads it (`render::Ladder::build`): its label is the method (or
    /// what a transfer adds to it), a response's the status and reason; labels and CSeqs are
    /// kept as hashes, which is all the rule compares.
    fn push(&mut self, m: &MsgRow) {
        let digit = |x: &str| x.bytes().next().is_some_and(|c| c.is_ascii_digit());
        let request = match &m.method {
            Some(x) => !digit(x),
            // An unreadable status line is drawn as `? reason`, which reads as a request.
            None => m.status.is_none(),
        };
        let plain = m.refer_to.is_none() && m.sipfrag.is_none();
        let label = match &m.method {
            Some(x) if plain => fnv(x.as_bytes(), FNV_OFFSET),
            _ if request => fnv(crate::render::label_of(m).as_bytes(), FNV_OFFSET),
            // Only a request's label is compared.
            _ => 0,
        };
        let method = m
            .cseq_method
            .as_deref()
            .map(str::trim)
            .filter(|x| !x.is_empty());
        let mut cseq = fnv(&[u8::from(m.cseq.is_some())], FNV_OFFSET);
        cseq = fnv(&m.cseq.unwrap_or(0).to_le_bytes(), cseq);
        cseq = fnv(method.unwrap_or("").as_bytes(), cseq);
        let facts = RoleFacts {
            from: self.column(m.src),
            to: self.column(m.dst),
            request,
            invite: request && plain && m.method.as_deref() == Some("INVITE"),
            // The ladder reads a status from the first three characters of its label.
            status: match (request, m.status) {
                (false, Some(s)) if (100..1000).contains(&s) => s,
                _ => 0,
            },
            label,
            cseq,
            register: method.is_some_and(|x| x.ends_with("REGISTER")),
            via_count: m.via_count,
            // One call: its own leg.
            leg: 0,
        };
        self.v.push(facts);
    }
}

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
    /// The roles it showed, most telling first, with the calls it showed each in
    /// (`proxy ×18, registrar ×2, UA ×3`). A proxy that challenges or answers a call itself
    /// looks like a UA in that call, so UA is the weakest evidence.
    pub fn roles(&self) -> String {
        ROLES
            .iter()
            .zip(self.roles)
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| format!("{} ×{n}", r.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The most telling role it showed.
    pub fn main_role(&self) -> Option<Role> {
        ROLES
            .iter()
            .zip(self.roles)
            .find(|(_, n)| *n > 0)
            .map(|(r, _)| *r)
    }
}

/// Messages from one endpoint to another: ((from, to), (requests, responses)).
pub type Pair = ((SocketAddr, SocketAddr), (u64, u64));

#[derive(Default, Debug)]
pub struct NetMap {
    pub hosts: HashMap<SocketAddr, Host>,
    pub hosts_cut: u64,
    /// (from, to) → (requests, responses)
    pub pairs: HashMap<(SocketAddr, SocketAddr), (u64, u64)>,
    pub pairs_cut: u64,
    /// Addresses that received a request: where endpoints listen.
    listening: HashSet<SocketAddr>,
    /// Caller and callee of calls that have B2BUA legs, by Call-ID.
    legs: HashMap<String, (Option<SocketAddr>, Option<SocketAddr>)>,
    /// Notes of open calls' messages held, all calls together.
    steps_held: usize,
    /// Calls whose roles were not read: their messages did not fit [`MAX_STEPS`].
    pub roles_cut: u64,
}

impl NetMap {
    fn host(&mut self, a: SocketAddr) -> Option<&mut Host> {
        if self.hosts.len() >= MAX_HOSTS && !self.hosts.contains_key(&a) {
            self.hosts_cut += 1;
            return None;
        }
        Some(self.hosts.entry(a).or_default())
    }

    pub fn message(&mut self, m: &MsgRow) {
        let (src, dst) = (m.src, m.dst);
        if m.method.is_some() && self.listening.len() < MAX_HOSTS {
            self.listening.insert(dst);
        }
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
                h.name = m.user_agent.as_deref().map(str::to_string);
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

    /// Notes a message of an open call in the call's `steps`, for its roles.
    pub fn note(&mut self, steps: &mut Steps, m: &MsgRow) {
        if steps.cut {
            return;
        }
        if self.steps_held >= MAX_STEPS {
            self.steps_held -= steps.v.len();
            *steps = Steps {
                cut: true,
                ..Steps::default()
            };
            return;
        }
        if steps.v.len() < STEPS_PER_CALL {
            steps.push(m);
            self.steps_held += 1;
        }
    }

    /// A call the report lets go without its record: what was noted for it goes.
    pub fn forget(&mut self, steps: Steps) {
        self.steps_held -= steps.v.len();
    }

    /// The roles a call's messages show (as its ladder would draw them, at each address); a
    /// B2BUA shows across two linked calls.
    pub fn call(&mut self, c: &CallRecord, steps: Steps) {
        let mut seen: BTreeSet<(SocketAddr, usize)> = BTreeSet::new();
        self.steps_held -= steps.v.len();
        match steps {
            Steps { cut: true, .. } => self.roles_cut += 1,
            Steps { columns, v, .. } => {
                for (a, role) in columns.iter().zip(roles(columns.len(), &v)) {
                    if let Some(i) = role.and_then(|r| ROLES.iter().position(|x| *x == r)) {
                        seen.insert((*a, i));
                    }
                }
            }
        }
        let callee = c.detail.as_ref().and_then(|d| d.callee);
        for l in &c.legs {
            if let Some((caller2, callee2)) = self.legs.get(&l.call_id) {
                // The callee of one leg calls out on the other: a B2BUA, at its listening address.
                if let (Some(a), Some(b)) = (callee, caller2) {
                    if a.ip() == b.ip() {
                        seen.insert((a, 0));
                    }
                }
                if let (Some(a), Some(b)) = (c.caller, callee2) {
                    if a.ip() == b.ip() {
                        seen.insert((*b, 0));
                    }
                }
            }
        }
        if !c.legs.is_empty() && self.legs.len() < MAX_HOSTS * 10 {
            self.legs.insert(c.call_id.clone(), (c.caller, callee));
        }
        for (a, i) in seen {
            // Not counted as cut: that count is of messages' endpoints.
            let h = if self.hosts.len() < MAX_HOSTS {
                Some(self.hosts.entry(a).or_default())
            } else {
                self.hosts.get_mut(&a)
            };
            if let Some(h) = h {
                h.roles[i] += 1;
            }
        }
    }

    /// Where an address belongs: itself if it listens, else its host's one listening port.
    fn fold(&self, a: SocketAddr, ports: &HashMap<IpAddr, Vec<SocketAddr>>) -> SocketAddr {
        if self.listening.contains(&a) {
            return a;
        }
        match ports.get(&a.ip()).map(Vec::as_slice) {
            Some([one]) => *one,
            _ => a,
        }
    }

    /// The endpoints and pairs with ephemeral ports folded into listening ones.
    pub fn folded(&self) -> (Vec<(SocketAddr, Host)>, Vec<Pair>) {
        let mut ports: HashMap<IpAddr, Vec<SocketAddr>> = HashMap::new();
        for a in &self.listening {
            ports.entry(a.ip()).or_default().push(*a);
        }
        // In address order, the listening address before the ports folded into it: the name a
        // folded endpoint takes must not hang on the hash map's order (it did, from run to run).
        let mut own: Vec<(SocketAddr, SocketAddr, &Host)> = self
            .hosts
            .iter()
            .map(|(a, h)| (self.fold(*a, &ports), *a, h))
            .collect();
        own.sort_by_key(|(to, a, _)| (*to, to != a, *a));
        let mut hosts: HashMap<SocketAddr, Host> = HashMap::new();
        for (to, _, h) in own {
            let e = hosts.entry(to).or_default();
            e.sent += h.sent;
            e.received += h.received;
            if e.name.is_none() {
                e.name.clone_from(&h.name);
            }
            for (x, y) in e.roles.iter_mut().zip(h.roles) {
                *x += y;
            }
        }
        let mut pairs: HashMap<(SocketAddr, SocketAddr), (u64, u64)> = HashMap::new();
        for ((a, b), (req, resp)) in &self.pairs {
            let e = pairs
                .entry((self.fold(*a, &ports), self.fold(*b, &ports)))
                .or_default();
            e.0 += req;
            e.1 += resp;
        }
        let mut hosts: Vec<_> = hosts.into_iter().collect();
        hosts.sort_by(|a, b| {
            (b.1.sent + b.1.received)
                .cmp(&(a.1.sent + a.1.received))
                .then(a.0.cmp(&b.0))
        });
        let mut pairs: Vec<_> = pairs.into_iter().collect();
        pairs.sort_by(|a, b| {
            (b.1 .0 + b.1 .1)
                .cmp(&(a.1 .0 + a.1 .1))
                .then(a.0.cmp(&b.0))
        });
        (hosts, pairs)
    }

    /// The busiest hosts on a circle, a line between each two that talk, with the messages
    /// each way. Text from the wire (names) is escaped.
    pub fn svg(&self) -> String {
        let (all, pairs) = self.folded();
        let hosts: Vec<(SocketAddr, &Host)> =
            all.iter().take(DRAWN).map(|(a, h)| (*a, h)).collect();
        let (w, h) = (900.0f64, 620.0f64);
        let (cx, cy, r) = (w / 2.0, h / 2.0, 230.0f64);
        let pos = |i: usize| {
            let n = hosts.len().max(1) as f64;
            let a = std::f64::consts::TAU * i as f64 / n - std::f64::consts::FRAC_PI_2;
            (cx + r * a.cos(), cy + r * a.sin())
        };
        let index: HashMap<SocketAddr, usize> = hosts
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
        for ((a, b), (req, resp)) in &pairs {
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
            // Counts on the lines while they stay readable; the table and tooltips have them all.
            if lines.len() <= 12 {
                let (mx, my) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
                let _ = write!(
                    out,
                    r##"<text x="{mx:.1}" y="{my:.1}" text-anchor="middle" fill="#334" paint-order="stroke" stroke="#fff" stroke-width="3">{ab}→ {ba}←</text>"##
                );
            }
        }
        for (i, (ip, host)) in hosts.iter().enumerate() {
            let (x, y) = pos(i);
            let role = host.main_role();
            let fill = match role {
                Some(Role::B2bua) => "#f4c27a",
                Some(Role::Proxy) => "#9fc5f8",
                Some(Role::Registrar) => "#b6d7a8",
                Some(Role::Redirect) => "#d5a6bd",
                Some(Role::Ua) => "#e6e6e6",
                None => "#ffffff",
            };
            // Labels outside the circle, away from the lines.
            let below = y >= cy - 1.0;
            let (y1, y2, y3) = if below {
                (y + 28.0, y + 40.0, y + 52.0)
            } else {
                (y - 44.0, y - 32.0, y - 20.0)
            };
            let _ = write!(
                out,
                r##"<g><circle cx="{x:.1}" cy="{y:.1}" r="12" fill="{fill}" stroke="#445"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{ip}</text><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#555">{}</text></g>"##,
                y1,
                y2,
                super::html::esc(&crate::output::fit(
                    &crate::output::escape(host.name.as_deref().unwrap_or("")),
                    24
                )),
                y3,
                role.map_or("—", Role::as_str),
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

    #[test]
    fn ephemeral_ports_fold_into_the_listening_one() {
        let mut n = NetMap::default();
        let row = |src: &str, dst: &str, request: bool| {
            let mut m = crate::testutil::msg_row();
            m.src = src.parse().unwrap();
            m.dst = dst.parse().unwrap();
            if !request {
                m.method = None;
                m.status = Some(200);
            }
            m
        };
        // A phone sends over TCP from port 40000 and listens on 5070; the proxy on 5060.
        n.message(&row("192.0.2.1:40000", "192.0.2.2:5060", true));
        n.message(&row("192.0.2.2:5060", "192.0.2.1:40000", false));
        n.message(&row("192.0.2.2:5060", "192.0.2.1:5070", true));
        let (hosts, pairs) = n.folded();
        let addrs: Vec<String> = hosts.iter().map(|(a, _)| a.to_string()).collect();
        assert_eq!(
            addrs,
            ["192.0.2.1:5070", "192.0.2.2:5060"],
            "equal traffic: by address"
        );
        let phone = &hosts[0].1;
        assert_eq!((phone.sent, phone.received), (1, 2));
        assert_eq!(pairs.len(), 2, "{pairs:?}");
    }
}
