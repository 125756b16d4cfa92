//! registration-flood, two ways:
//!
//! - by AOR: one AOR from one source registered again and again far faster than its expiry asks
//!   for. A refresh is a REGISTER that is not the retry of a challenge (REGISTER, 401 or 407 or
//!   423, REGISTER again is one registration) nor a removal (expires 0). The expiry is the one the
//!   registrar granted in its last 2xx, else the one the REGISTER asked for, else RFC 3261's
//!   default of 3600 s. More than `registration_refreshes` refreshes within a quarter of that
//!   expiry (at least `registration_min_span_s`) is a flood: a UA refreshes once per expiry or
//!   twice, never several times a quarter. Said once while it lasts; a refresh that comes at a
//!   sane pace again ends it.
//!
//! Both share one alert per source and window: a source whose AORs flood all at once, or that
//! floods by rate as well, is said once.
//! - by source: more than `registration_rate` REGISTERs in one second from one source, and more
//!   than `registration_per_aor` per distinct AOR over the window (a front-end that registers
//!   thousands of users sends two each: the challenge's and the answer's).
//!
//! State per (source, AOR): the times of its last few refreshes, the expiries, in a table of at
//! most `MAX_AORS` entries. An entry is forgotten once it has been idle for its span (or a
//! window, if longer); when the table is full the least recently active entry goes (counted as
//! table-full). O(1) amortised per REGISTER.

use std::collections::VecDeque;
use std::net::IpAddr;

use super::window::{truncate, NAME_MAX};
use super::{armed, ns, secs, Engine, Line, Severity};
use crate::correlate::record::MsgRow;
use crate::time::{Nanos, Ts, NANOS_PER_SEC};

/// RFC 3261 §10.2.1.1: a REGISTER without an expiry asks for 3600 s.
const DEFAULT_EXPIRES: u32 = 3600;
/// The most refreshes an AOR's history keeps (bounds `registration_refreshes`).
const MAX_REFRESHES: usize = 32;

/// One AOR registered by one source.
#[derive(Debug, Default)]
pub(super) struct AorState {
    /// Its last refreshes (at most `registration_refreshes + 1`).
    refreshes: VecDeque<Ts>,
    requested: Option<u32>,
    granted: Option<u32>,
    /// A challenge (401/407) or 423 came: the next REGISTER is its retry, not a refresh.
    retry_due: bool,
    /// A flood was said and has not ended.
    flooding: bool,
    /// Last activity, and how long the entry is kept after it.
    last: Ts,
    keep: Nanos,
    /// The start of its current source-level period (a window long): a new one counts the AOR
    /// again among the source's distinct AORs.
    period: Option<Ts>,
}

/// (source, AOR) pairs followed by registration-flood.
pub(super) const MAX_AORS: usize = 200_000;

type AorKey = (IpAddr, Box<str>);

impl Engine {
    /// A REGISTER (not a retransmission).
    pub(super) fn registration_flood(&mut self, m: &MsgRow, line: &Line<'_>) {
        let src_ip = m.src.ip();
        if let Some(ev) = self.registration(src_ip, m.to_user.as_deref(), m.ts, m.expires) {
            self.raise(
                "registration-flood",
                Severity::Warning,
                m.ts,
                None,
                Some(src_ip.to_string()),
                ev,
                Some(line.owned()),
                "a misconfigured client or a flood: check its expiry and retry timers",
            );
        }
    }

    /// A final answer (not a retransmission) to a REGISTER from `client`: a challenge makes
    /// the next REGISTER a retry; a 2xx states the granted expiry.
    pub(super) fn registration_answer(&mut self, m: &MsgRow, client: IpAddr, status: u16) {
        if status < 200 || m.cseq_method.as_deref() != Some("REGISTER") {
            return;
        }
        let user = truncate(m.to_user.as_deref().unwrap_or(""), NAME_MAX);
        let key: AorKey = (client, user.into());
        let Some(a) = self.aors.get_mut(&key) else {
            return;
        };
        match status {
            401 | 407 | 423 => a.retry_due = true,
            200..=299 if m.expires.is_some() => a.granted = m.expires,
            _ => {}
        }
    }

    /// Forgets the entries idle past their keep, oldest activity first. An order entry whose
    /// AOR was active since is stale and dropped as it comes up; when stale ones pile up behind
    /// a long-kept entry, the order is rebuilt (amortised O(1)).
    fn expire_aors(&mut self, ts: Ts) {
        while let Some((at, key)) = self.aor_order.front() {
            match self.aors.get(key) {
                Some(a) if a.last == *at => {
                    if ts.since(a.last) <= a.keep {
                        break;
                    }
                    let (_, key) = self.aor_order.pop_front().expect("front");
                    self.aors.remove(&key);
                }
                _ => {
                    self.aor_order.pop_front();
                }
            }
        }
        if self.aor_order.len() > 2 * self.aors.len() + 1024 {
            let aors = &self.aors;
            self.aor_order
                .retain(|(at, key)| aors.get(key).is_some_and(|a| a.last == *at));
        }
    }

    /// registration-flood, on a REGISTER from `src` for the AOR `user` asking for `expires`.
    /// Returns the evidence when it fires.
    pub(super) fn registration(
        &mut self,
        src: IpAddr,
        user: Option<&str>,
        ts: Ts,
        expires: Option<u32>,
    ) -> Option<String> {
        let width = ns(self.cfg.window_s);
        self.expire_aors(ts);
        let key: AorKey = (src, truncate(user.unwrap_or(""), NAME_MAX).into());
        if !self.aors.contains_key(&key) && self.aors.len() >= MAX_AORS {
            // The least recently active entry goes (counted).
            while let Some((at, old)) = self.aor_order.pop_front() {
                if self.aors.get(&old).is_some_and(|a| a.last == at) {
                    self.aors.remove(&old);
                    break;
                }
            }
            self.table_full("registering AOR", ts);
        }
        let n_max = (self.cfg.registration_refreshes as usize).min(MAX_REFRESHES - 1);
        let a = self.aors.entry(key.clone()).or_default();
        let new_aor = a.period.is_none_or(|p| ts.since(p) > width);
        if new_aor {
            a.period = Some(ts);
        }
        if expires.is_some() {
            a.requested = expires;
        }
        let expiry = a.granted.or(a.requested).unwrap_or(DEFAULT_EXPIRES);
        let span = (u64::from(expiry) * NANOS_PER_SEC as u64 / 4) as Nanos;
        let span = span.max(ns(self.cfg.registration_min_span_s));
        // A challenge's retry, or a removal, is no refresh.
        let refresh = !std::mem::take(&mut a.retry_due) && expires != Some(0);
        let mut by_aor = None;
        if refresh {
            a.refreshes.push_back(ts);
            while a.refreshes.len() > n_max + 1 {
                a.refreshes.pop_front();
            }
            let first = *a.refreshes.front().expect("just pushed");
            let flood = a.refreshes.len() > n_max && ts.since(first) <= span;
            if flood && !a.flooding {
                let n = a.refreshes.len();
                let took = secs(ts.since(first));
                let said = if a.granted.is_some() {
                    "granted"
                } else if a.requested.is_some() {
                    "requested"
                } else {
                    "the default"
                };
                by_aor = Some(format!(
                    "{n} registrations of the AOR {:?} from {src} in {took:.0} s (one every {:.1} s), with an expiry of {expiry} s ({said}): more than {n_max} within a quarter of it",
                    key.1,
                    took / (n - 1) as f64
                ));
            }
            a.flooding = flood;
        }
        a.last = ts;
        a.keep = span.max(width);
        self.aor_order.push_back((ts, key));
        let s = self.sources.get_mut(&src)?;
        s.registers.add(ts, 0, 1, width);
        if new_aor {
            s.registers.add(ts, 1, 1, width);
        }
        let sec = ts.0.div_euclid(NANOS_PER_SEC);
        if s.reg_second.0 == sec {
            s.reg_second.1 += 1;
        } else {
            s.reg_second = (sec, 1);
        }
        if by_aor.is_some() {
            // One alert per source and window, however many of its AORs flood.
            return armed(&mut s.fired, "registration-flood", ts, width)
                .then_some(by_aor)
                .flatten();
        }
        let [regs, aors] = s.registers.sum();
        let per_aor = regs as f64 / aors.max(1) as f64;
        let window = self.cfg.window_s;
        if s.reg_second.1 > self.cfg.registration_rate && per_aor > self.cfg.registration_per_aor {
            let evidence = format!(
                "{} REGISTERs from {src} within one second; {regs} in {window:.0} s for {aors} AORs ({per_aor:.1} each)",
                s.reg_second.1
            );
            return armed(&mut s.fired, "registration-flood", ts, width).then_some(evidence);
        }
        None
    }
}
