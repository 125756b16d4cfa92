//! registration-flood: one AOR registered far faster than any expiry allows, or a source sending
//! many more REGISTERs than it has AORs. REGISTER periods per (source, AOR), tumbling a window
//! long, at most `MAX_AORS` of them (the oldest go first, counted as table-full).

use std::net::IpAddr;

use super::window::{truncate, NAME_MAX};
use super::{armed, ns, Engine, Severity};
use crate::correlate::record::MsgRow;
use crate::time::{Ts, NANOS_PER_SEC};

/// REGISTERs for one AOR from one source in its current period (tumbling, a window long).
#[derive(Debug)]
pub(super) struct AorPeriod {
    start: Ts,
    n: u64,
}

/// (source, AOR) pairs followed by registration-flood, within one window.
pub(super) const MAX_AORS: usize = 200_000;

impl Engine {
    /// A REGISTER (not a retransmission).
    pub(super) fn registration_flood(&mut self, m: &MsgRow, line: &(u64, String)) {
        let src_ip = m.src.ip();
        if let Some(ev) = self.registration(src_ip, m.to_user.as_deref(), m.ts) {
            self.raise(
                "registration-flood",
                Severity::Warning,
                m.ts,
                None,
                Some(src_ip.to_string()),
                ev,
                Some(line.clone()),
                "a misconfigured client or a flood: check its expiry and retry timers",
            );
        }
    }

    /// registration-flood, on a REGISTER from `src` for the AOR `user`: one AOR registered far
    /// faster than any expiry allows, or a source sending many more REGISTERs than it has AORs
    /// (a front-end that registers thousands of users sends two each: the challenge's and the
    /// answer's). Returns the evidence when it fires.
    pub(super) fn registration(
        &mut self,
        src: IpAddr,
        user: Option<&str>,
        ts: Ts,
    ) -> Option<String> {
        let width = ns(self.cfg.window_s);
        // Periods a window old are over: forget them, oldest first.
        while let Some((start, _)) = self.aor_order.front() {
            if ts.since(*start) <= width {
                break;
            }
            let (start, key) = self.aor_order.pop_front().expect("front");
            if self.aors.get(&key).is_some_and(|p| p.start == start) {
                self.aors.remove(&key);
            }
        }
        let key = (
            src,
            Box::<str>::from(truncate(user.unwrap_or(""), NAME_MAX)),
        );
        let mut new_aor = false;
        let n = match self.aors.get_mut(&key) {
            Some(p) if ts.since(p.start) <= width => {
                p.n += 1;
                p.n
            }
            // A period over but not yet expired (capture time ran backwards): a new one.
            Some(p) => {
                *p = AorPeriod { start: ts, n: 1 };
                new_aor = true;
                self.aor_order.push_back((ts, key.clone()));
                1
            }
            None => {
                new_aor = true;
                self.aors.insert(key.clone(), AorPeriod { start: ts, n: 1 });
                self.aor_order.push_back((ts, key.clone()));
                1
            }
        };
        // Every period has its entry in the order, so bounding the order bounds both: the
        // oldest period goes (counted).
        if self.aor_order.len() > MAX_AORS {
            if let Some((start, old)) = self.aor_order.pop_front() {
                if self.aors.get(&old).is_some_and(|p| p.start == start) {
                    self.aors.remove(&old);
                }
            }
            self.table_full("registering AOR", ts);
        }
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
        let [regs, aors] = s.registers.sum();
        let per_aor = regs as f64 / aors.max(1) as f64;
        let window = self.cfg.window_s;
        let evidence = if n > self.cfg.registration_aor_max {
            format!(
                "{n} REGISTERs for the AOR {:?} from {src} in {window:.0} s",
                key.1
            )
        } else if s.reg_second.1 > self.cfg.registration_rate
            && per_aor > self.cfg.registration_per_aor
        {
            format!(
                "{} REGISTERs from {src} within one second; {regs} in {window:.0} s for {aors} AORs ({per_aor:.1} each)",
                s.reg_second.1
            )
        } else {
            return None;
        };
        armed(&mut s.fired, "registration-flood", ts, width).then_some(evidence)
    }
}
