//! The transaction and dialog timers of each open call: invite-timeout and non-invite-timeout
//! (Timer B/F, RFC 3261 §17.1.1.2 and §17.1.2.2, on the request's own hop), missing-ack (a 2xx
//! sent again and never ACKed within Timer H), long-pdd (the first answer to an INVITE late) and
//! missing-bye (an answered call older than `max_call_s`). One watch per call, at most
//! `MAX_WATCHED` of them (more is table-full), at most 64 pending requests per call; every
//! deadline is a capture time, so `tick` fires them the same live and on replay.

use foldhash::HashMap;
use std::net::{IpAddr, SocketAddr};

use super::{ns, secs, Alert, Engine, Severity, Source, State};
use crate::correlate::record::MsgRow;
use crate::time::{Nanos, Ts};

/// Calls watched at once.
pub(super) const MAX_WATCHED: usize = 1_000_000;

/// A request waiting for its final response, on one hop.
#[derive(Debug)]
pub(super) struct Pending {
    branch: crate::correlate::record::Text,
    method: crate::correlate::record::Text,
    ts: Ts,
    frame: u64,
    src: SocketAddr,
    dst: SocketAddr,
    /// The request's CSeq, for its line in an alert ([`Pending::line`]): the line itself is
    /// written only when an alert fires, not for every request.
    cseq: Option<u32>,
    cseq_method: Option<crate::correlate::record::Text>,
    fired: bool,
    /// Its timer ran out, unsaid: a scanner's request.
    quiet: bool,
}

impl Pending {
    /// The request's first line as alerts quote it (`super::first_line` of its row).
    fn line(&self) -> String {
        super::request_line(&self.method, self.cseq, self.cseq_method.as_deref())
    }
}

/// What the engine follows of one open call.
#[derive(Debug, Default)]
pub(super) struct Watch {
    pub(super) invite: Option<(Ts, u64)>,
    /// Who sent that INVITE.
    pub(super) invite_src: Option<IpAddr>,
    /// The first non-100 provisional or final answer to an INVITE: what PDD waits for.
    pub(super) first_answer: Option<Ts>,
    pub(super) answered: Option<Ts>,
    /// CSeq of the answered INVITE, its first 2xx, how often the 2xx came again, an ACK seen.
    pub(super) ok_cseq: Option<u32>,
    pub(super) ok_at: Option<(Ts, u64)>,
    pub(super) ok_again: u32,
    pub(super) acked: bool,
    pub(super) bye: bool,
    pub(super) pending: Vec<Pending>,
    /// Codes fired for this call (once per call), and whether each is still open.
    pub(super) fired: Vec<(&'static str, bool)>,
    /// no-rtp and one-way-audio judged (mid-call, from the streams still flowing).
    pub(super) media_checked: bool,
    /// An SDP of the call put a stream on hold (sendonly, recvonly, inactive, 0.0.0.0): a
    /// pause in its RTP is expected, not a fault.
    pub(super) on_hold: bool,
}

impl Watch {
    pub(super) fn has(&self, code: &str) -> bool {
        self.fired.iter().any(|(c, _)| *c == code)
    }
}

impl Engine {
    /// The call's transactions and dialog, on one of its messages.
    pub(super) fn transactions(&mut self, m: &MsgRow, cid: &str) {
        if !self.calls.contains_key(cid) {
            if self.calls.len() >= MAX_WATCHED {
                self.table_full("call watch", m.ts);
                return;
            }
            // The Call-ID is copied once per call, not once per message.
            self.calls.insert(cid.to_string(), Default::default());
        }
        let Some(w) = self.calls.get_mut(cid) else {
            return;
        };
        let cseq_method = m.cseq_method.as_deref().unwrap_or("");
        let mut cleared: Vec<(&'static str, String)> = Vec::new();
        let mut expired: Vec<Alert> = Vec::new();
        let t_ack = ns(self.cfg.ack_timeout_s);
        match (&m.method, m.status) {
            (Some(method), _) => {
                if m.retransmission {
                    return;
                }
                match method.as_str() {
                    "INVITE" if m.to_tag.is_none() && w.invite.is_none() => {
                        w.invite = Some((m.ts, m.frame));
                        w.invite_src = Some(m.src.ip());
                    }
                    "ACK" if w.ok_cseq.is_some() && w.ok_cseq == m.cseq && !w.acked => {
                        w.acked = true;
                        if let Some((ok_ts, frame)) = w.ok_at {
                            if w.ok_again > 0 && m.ts.since(ok_ts) >= t_ack && !w.has("missing-ack")
                            {
                                w.fired.push(("missing-ack", true));
                                expired.push(ack_alert(cid, ok_ts, frame, w.ok_again, t_ack));
                            }
                        }
                        if let Some(f) = w.fired.iter_mut().find(|f| f.0 == "missing-ack" && f.1) {
                            f.1 = false;
                            cleared.push(("missing-ack", "the ACK came late".into()));
                        }
                    }
                    "BYE" => w.bye = true,
                    _ => {}
                }
                if method != "ACK" {
                    if let Some(b) = &m.branch {
                        // A CANCEL shares its INVITE's branch: the method keeps them apart.
                        if w.pending.len() < 64
                            && !w
                                .pending
                                .iter()
                                .any(|p| p.branch == b && p.src == m.src && p.method == *method)
                        {
                            w.pending.push(Pending {
                                branch: b.clone(),
                                method: method.clone(),
                                ts: m.ts,
                                frame: m.frame,
                                src: m.src,
                                dst: m.dst,
                                cseq: m.cseq,
                                cseq_method: m.cseq_method.clone(),
                                fired: false,
                                quiet: false,
                            });
                        }
                    }
                }
            }
            (None, Some(status)) => {
                if cseq_method == "INVITE" && status > 100 && w.first_answer.is_none() {
                    w.first_answer = Some(m.ts);
                }
                if cseq_method == "INVITE" && (200..300).contains(&status) {
                    // Only a copy on the same hop is the 2xx sent again (a proxy relaying it
                    // to the caller is the next hop, not a retransmission).
                    if w.ok_at.is_none() {
                        w.ok_at = Some((m.ts, m.frame));
                        w.ok_cseq = m.cseq;
                        w.answered = Some(m.ts);
                    } else if m.retransmission && w.ok_cseq == m.cseq {
                        w.ok_again += 1;
                    }
                }
                // On the reverse of the request's hop, a final response ends the wait; for an
                // INVITE any response does: Timer B runs only until the first one (RFC 3261
                // §17.1.1.2, the Calling state), a ringing phone may ring for minutes.
                if status >= 200 || cseq_method == "INVITE" {
                    if let Some(i) = w.pending.iter().position(|p| {
                        Some(&p.branch) == m.branch.as_ref()
                            && p.src == m.dst
                            && p.dst == m.src
                            && p.method == cseq_method
                            && (status >= 200 || p.method == "INVITE")
                    }) {
                        let mut p = w.pending.remove(i);
                        let late = m.ts.since(p.ts) >= ns(self.cfg.transaction_timeout_s);
                        let width = ns(self.cfg.window_s);
                        if late && !p.fired && !scanner(&self.sources, p.src.ip(), p.ts, width) {
                            // Its timer ran out before this answer, whether or not a tick saw it.
                            p.fired = true;
                            let a = p_alert(cid, &p, ns(self.cfg.transaction_timeout_s));
                            if !w.has(a.code) {
                                w.fired.push((a.code, true));
                                expired.push(a);
                            }
                        }
                        let code = if p.method == "INVITE" {
                            "invite-timeout"
                        } else {
                            "non-invite-timeout"
                        };
                        // Cleared once, and only what fired and is still open.
                        let open = w.fired.iter_mut().find(|f| f.0 == code && f.1);
                        if let (true, Some(f)) = (p.fired, open) {
                            f.1 = false;
                            cleared.push((
                                code,
                                format!(
                                    "{status} came {:.1} s after the {}",
                                    secs(m.ts.since(p.ts)),
                                    p.method
                                ),
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
        for a in expired {
            *self.stats.alerts.entry(a.code).or_default() += 1;
            self.out.push(a);
        }
        for (code, why) in cleared {
            self.clear(code, m.ts, cid, why);
        }
    }

    /// Capture time has reached `now`: fire the timers that ran out.
    pub fn tick(&mut self, now: Ts) {
        self.now = self.now.max(now);
        let now = self.now;
        let t_tx = ns(self.cfg.transaction_timeout_s);
        let t_ack = ns(self.cfg.ack_timeout_s);
        let t_pdd = ns(self.cfg.long_pdd_s);
        let max_call = ns(self.cfg.max_call_s);
        let width = ns(self.cfg.window_s);
        let mut raise: Vec<(String, Alert)> = Vec::new();
        for (cid, w) in self.calls.iter_mut() {
            for p in w.pending.iter_mut().filter(|p| !p.fired && !p.quiet) {
                if now.since(p.ts) >= t_tx {
                    if scanner(&self.sources, p.src.ip(), p.ts, width) {
                        p.quiet = true;
                        continue;
                    }
                    p.fired = true;
                    let a = p_alert(cid, p, t_tx);
                    if w.fired.iter().any(|f| f.0 == a.code) {
                        continue;
                    }
                    w.fired.push((a.code, true));
                    raise.push((cid.clone(), a));
                }
            }
            if let Some((ok_ts, frame)) = w.ok_at {
                if !w.acked && w.ok_again > 0 && now.since(ok_ts) >= t_ack && !w.has("missing-ack")
                {
                    w.fired.push(("missing-ack", true));
                    raise.push((cid.clone(), ack_alert(cid, ok_ts, frame, w.ok_again, t_ack)));
                }
            }
            if let Some((inv, frame)) = w.invite {
                // Decided by when the first answer came, not by when this tick runs.
                let waited = w.first_answer.unwrap_or(now).since(inv);
                let quiet = w
                    .invite_src
                    .is_some_and(|ip| scanner(&self.sources, ip, inv, width));
                if waited >= t_pdd && quiet && !w.has("long-pdd") {
                    // Not said: marked so that it is not judged again.
                    w.fired.push(("long-pdd", false));
                } else if waited >= t_pdd && !w.has("long-pdd") {
                    w.fired.push(("long-pdd", false));
                    raise.push((
                        cid.clone(),
                        Alert {
                            code: "long-pdd",
                            severity: Severity::Warning,
                            state: State::Fired,
                            ts: inv.saturating_add(t_pdd),
                            call_id: Some(cid.clone()),
                            endpoint: None,
                            evidence: match w.first_answer {
                                Some(_) => format!(
                                    "the first answer to the INVITE came after {:.1} s (> {:.0} s)",
                                    secs(waited),
                                    secs(t_pdd)
                                ),
                                None => {
                                    format!("no answer to the INVITE {:.0} s after it", secs(t_pdd))
                                }
                            },
                            frame: Some(frame),
                            message: None,
                            hint: "slow routing, DNS, or a far end that does not send 180/183",
                        },
                    ));
                }
            }
            if max_call > 0 {
                if let Some(a) = w.answered {
                    if !w.bye && now.since(a) >= max_call && !w.has("missing-bye") {
                        w.fired.push(("missing-bye", true));
                        raise.push((
                            cid.clone(),
                            Alert {
                                code: "missing-bye",
                                severity: Severity::Warning,
                                state: State::Fired,
                                ts: a.saturating_add(max_call),
                                call_id: Some(cid.clone()),
                                endpoint: None,
                                evidence: format!(
                                    "answered call up for {:.0} s without a BYE",
                                    secs(max_call)
                                ),
                                frame: None,
                                message: None,
                                hint: "a hung call: the BYE was lost or never sent",
                            },
                        ));
                    }
                }
            }
        }
        raise.sort_by_key(|(c, a)| (a.ts, c.clone()));
        for (_, a) in raise {
            *self.stats.alerts.entry(a.code).or_default() += 1;
            self.out.push(a);
        }
    }
}

fn p_alert(cid: &str, p: &Pending, t_tx: Nanos) -> Alert {
    let invite = p.method == "INVITE";
    Alert {
        code: if invite {
            "invite-timeout"
        } else {
            "non-invite-timeout"
        },
        severity: if invite {
            Severity::Critical
        } else {
            Severity::Warning
        },
        state: State::Fired,
        ts: p.ts.saturating_add(t_tx),
        call_id: Some(cid.to_string()),
        endpoint: Some(p.dst.to_string()),
        evidence: format!(
            "{} from {} to {} had no final response in {:.0} s (Timer {})",
            p.method,
            p.src,
            p.dst,
            secs(t_tx),
            if invite { "B" } else { "F" }
        ),
        frame: Some(p.frame),
        message: Some(p.line()),
        hint: if invite {
            "the next hop never answered: is it up, reachable, listening on that transport?"
        } else {
            "the request was never answered: check the next hop's health and reachability"
        },
    }
}

fn ack_alert(cid: &str, ok_ts: Ts, frame: u64, again: u32, t_ack: Nanos) -> Alert {
    Alert {
        code: "missing-ack",
        severity: Severity::Critical,
        state: State::Fired,
        ts: ok_ts.saturating_add(t_ack),
        call_id: Some(cid.to_string()),
        endpoint: None,
        evidence: format!(
            "the 2xx was sent {} times and no ACK came in {:.0} s",
            again + 1,
            secs(t_ack)
        ),
        frame: Some(frame),
        message: None,
        hint: "the caller never confirmed: NAT or Record-Route trouble on the ACK's path; the callee will hang up",
    }
}

/// A request sent at `ts` by `ip` while it was scanning: its timers are not the network's
/// trouble (most addresses a sweep tries have nothing listening).
fn scanner(sources: &HashMap<IpAddr, Source>, ip: IpAddr, ts: Ts, width: Nanos) -> bool {
    sources.get(&ip).is_some_and(|s| s.scanning_at(ts, width))
}
