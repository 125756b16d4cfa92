//! Registrations (RFC 3261 §10): each attempt from the first REGISTER, through any 401/407
//! challenges, to its final answer, becomes one [`RegRecord`]. A client keeps its Call-ID across
//! refreshes, so one Call-ID yields many attempts over time.

use std::net::SocketAddr;

use super::record::RegRecord;
use crate::sip::{HeaderName, SipMessage};
use crate::time::{Nanos, Ts, NANOS_PER_SEC};

/// RFC 3261 Timer F: a REGISTER unanswered this long has timed out.
pub const TIMER_F: Nanos = 32 * NANOS_PER_SEC;

#[derive(Debug)]
struct Attempt {
    start: Ts,
    last_request: Ts,
    aor: String,
    contact: Option<String>,
    expires: Option<u32>,
    client: SocketAddr,
    registrar: SocketAddr,
    challenged: bool,
    last_status: Option<u16>,
    requests: u32,
    user_agent: Option<String>,
}

#[derive(Debug, Default)]
pub struct Registrations {
    open: Option<Attempt>,
    done: Vec<RegRecord>,
}

use crate::sip::message::lossy;

/// Expires of the (first) Contact, else the Expires header (RFC 3261 §10.2.1.1).
pub(crate) fn expires_of(msg: &SipMessage) -> Option<u32> {
    if let Some(c) = msg.header(HeaderName::Contact) {
        if let Some(na) = crate::sip::nameaddr::NameAddr::parse(c) {
            if let Some(e) = na.param("expires") {
                // A header listing several contacts (a registrar's 2xx lists every binding of
                // the AOR, the first one often not this client's) says no one expiry: None.
                return crate::sip::message::parse_u32(e);
            }
        }
    }
    msg.header(HeaderName::Expires)
        .and_then(crate::sip::message::parse_u32)
}

impl Registrations {
    pub fn on_message(&mut self, msg: &SipMessage, ts: Ts, src: SocketAddr, dst: SocketAddr) {
        if msg.method() == Some(&crate::sip::Method::Register) {
            let contact = msg.header(HeaderName::Contact).map(lossy);
            let expires = expires_of(msg);
            let ua = msg.header(HeaderName::UserAgent).map(lossy);
            match &mut self.open {
                // A REGISTER after a challenge continues the attempt.
                Some(a)
                    if a.client == src && a.last_status.is_none_or(|s| s == 401 || s == 407) =>
                {
                    a.requests += 1;
                    a.last_request = ts;
                    if a.last_status.is_some() {
                        a.challenged = true;
                    }
                    a.last_status = None;
                    a.contact = contact.or(a.contact.take());
                    a.expires = expires.or(a.expires);
                }
                _ => {
                    self.close(ts, false);
                    let aor = msg.to().map(|t| lossy(t.uri_text)).unwrap_or_default();
                    self.open = Some(Attempt {
                        start: ts,
                        last_request: ts,
                        aor,
                        contact,
                        expires,
                        client: src,
                        registrar: dst,
                        challenged: false,
                        last_status: None,
                        requests: 1,
                        user_agent: ua,
                    });
                }
            }
            return;
        }
        let Some(status) = msg.status() else { return };
        if status < 200 || msg.cseq().map(|c| c.1) != Some(crate::sip::Method::Register) {
            return;
        }
        if let Some(a) = &mut self.open {
            if a.client != dst {
                return;
            }
            a.last_status = Some(status);
            if (200..300).contains(&status) {
                // The registrar's answer states the granted expiry.
                if let Some(e) = expires_of(msg) {
                    a.expires = Some(e);
                }
            }
            if !(status == 401 || status == 407) {
                self.close(ts, false);
            }
        }
    }

    /// Ends the open attempt. `at_end`: the capture ended (or the call is evicted).
    pub fn close(&mut self, now: Ts, at_end: bool) {
        let Some(a) = self.open.take() else { return };
        let result = match a.last_status {
            Some(200..=299) if a.expires == Some(0) => "unregistered",
            Some(200..=299) => "registered",
            Some(401 | 407 | 403) => "auth-failed",
            Some(_) => "failed",
            None if at_end && now.since(a.last_request) < TIMER_F => "in-progress",
            None => "timeout",
        };
        let rrd = match a.last_status {
            Some(200..=299) => Some(now.since(a.start) as f64 / NANOS_PER_SEC as f64),
            _ => None,
        };
        self.done.push(RegRecord {
            start: a.start,
            call_id: String::new(),
            aor: a.aor,
            contact: a.contact,
            expires: a.expires,
            client: a.client,
            registrar: a.registrar,
            challenged: a.challenged,
            final_status: a.last_status,
            result,
            rrd,
            requests: a.requests,
            user_agent: a.user_agent,
        });
    }

    /// Finished attempts, handed over once.
    pub fn take_done(&mut self) -> Vec<RegRecord> {
        std::mem::take(&mut self.done)
    }

    pub fn has_done(&self) -> bool {
        !self.done.is_empty()
    }

    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }
}
