//! Helpers shared by the unit tests.

/// xorshift64: deterministic, dependency-free pseudo-randomness for mutation tests.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// An INVITE row as the correlator builds it: 192.0.2.1:5060 → 192.0.2.2:5060, Call-ID `c1`.
pub fn msg_row() -> crate::correlate::record::MsgRow {
    crate::correlate::record::MsgRow {
        frame: 1,
        msg_in_frame: 1,
        ts: crate::time::Ts::from_secs_f64(1_000.0),
        src: "192.0.2.1:5060".parse().unwrap(),
        dst: "192.0.2.2:5060".parse().unwrap(),
        transport: crate::reassembly::Carrier::Udp,
        method: Some("INVITE".into()),
        status: None,
        reason: None,
        call_id: Some("c1".into()),
        cseq: Some(1),
        cseq_method: Some("INVITE".into()),
        from_user: Some("alice".into()),
        to_user: Some("bob".into()),
        from_tag: Some("f".into()),
        to_tag: None,
        branch: Some("z9hG4bK1".into()),
        via_count: 1,
        user_agent: None,
        contact_ip: None,
        expires: None,
        retransmission: false,
        ip_reassembled: false,
        node: None,
        anomalies: Vec::new(),
        sdp: None,
        refer_to: None,
        sipfrag: None,
        text: None,
        sip: None,
    }
}

/// A finished INVITE call `id` from alice to bob, answered, 192.0.2.1 → 192.0.2.2.
pub fn call_record(id: &str) -> crate::correlate::record::CallRecord {
    use crate::correlate::record::{CallKind, CallRecord, Outcome};
    CallRecord {
        call_id: id.into(),
        kind: CallKind::Invite,
        start: crate::time::Ts::from_secs_f64(1_000.0),
        end: crate::time::Ts::from_secs_f64(1_010.0),
        duration: 10.0,
        talk_time: Some(9.0),
        from: "alice".into(),
        to: "bob".into(),
        caller: Some("192.0.2.1:5060".parse().unwrap()),
        addresses: vec!["192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap()],
        nodes: Vec::new(),
        outcome: Some(Outcome::Answered),
        final_status: Some(200),
        reason: None,
        pdd: Some(0.5),
        setup_time: Some(1.0),
        messages: 7,
        retransmissions: 0,
        invite_attempts: 1,
        dialogs: 1,
        ended_by: Some("caller"),
        user_agent: None,
        anomalies: 0,
        legs: Vec::new(),
        media: None,
        link_keys: Vec::new(),
        detail: None,
    }
}
