//! The session's joins and its filter, fed by hand: what a call closes with, what comes late,
//! what a filter lets through, and that every table empties.

use super::*;
use crate::correlate::MediaInfo;
use crate::testutil::call_record;

fn at(s: f64) -> Ts {
    Ts::from_secs_f64(s)
}

fn media(call: &str, addr: &str, t: f64) -> Output {
    Output::Media(std::sync::Arc::new(MediaInfo {
        frame: 1,
        idx: 1,
        ts: at(t),
        call_id: call.into(),
        addr: addr.parse().unwrap(),
        announced_by: "192.0.2.1:5060".parse().unwrap(),
        held: false,
        rtcp_port: None,
        payloads: vec![(0, 8000, "PCMU".into())],
    }))
}

/// One RTP stream of 50 packets, src → dst, starting at `t`.
fn stream(src: &str, dst: &str, t: f64) -> Output {
    let mut tr = crate::analysis::rtp::RtpTracker::default();
    for i in 0..50u16 {
        let h = crate::analysis::rtp::RtpHeader {
            marker: false,
            payload_type: 0,
            seq: 100 + i,
            timestamp: 160 * u32::from(i),
            ssrc: 7,
            payload_len: 160,
            payload_offset: 12,
        };
        tr.packet(
            at(t + f64::from(i) * 0.02),
            src.parse().unwrap(),
            dst.parse().unwrap(),
            &h,
            &[0; 172],
        );
    }
    Output::Rtp(Box::new(tr.finish().remove(0)))
}

fn call(id: &str, end: f64, keys: &[(&str, &str)]) -> Output {
    let mut c = call_record(id);
    c.end = at(end);
    c.link_keys = keys
        .iter()
        .map(|(h, v)| (h.to_string(), v.to_string()))
        .collect();
    Output::Call(Box::new(c))
}

#[derive(Default)]
struct Seen {
    needs: Needs,
    closed: Vec<ClosedCall>,
    streams: Vec<(Option<String>, bool)>,
    rtcp: Vec<(Option<String>, bool)>,
    ticks: usize,
}

impl Sink for Seen {
    fn needs(&self) -> Needs {
        self.needs
    }

    fn event(&mut self, e: &Event<'_>, selected: bool) -> Result<(), OutputError> {
        match e {
            Event::CallClosed(c) => self.closed.push((*c).clone()),
            Event::Stream(s) => self.streams.push((s.call_id.clone(), selected)),
            Event::Tick(_) => self.ticks += 1,
            Event::Rtcp(r) => self.rtcp.push((r.call_id.clone(), selected)),
            _ => {}
        }
        Ok(())
    }
}

fn session(filter: Filter, needs: Needs) -> (Session, Seen) {
    let cfg = SessionConfig {
        filter,
        ..SessionConfig::default()
    };
    (
        Session::new(cfg, needs),
        Seen {
            needs,
            ..Seen::default()
        },
    )
}

fn feed(s: &mut Session, sink: &mut Seen, outs: Vec<Output>) {
    for o in outs {
        s.output(o, sink).unwrap();
    }
}

const MEDIA: Needs = Needs {
    messages: false,
    text: false,
    raw: false,
    detail: false,
    changes: false,
    media: true,
    series: None,
    alerts: false,
    context: false,
    rtcp: false,
};

#[test]
fn a_call_closes_with_its_streams_legs_and_media_then_every_table_empties() {
    let (mut s, mut sink) = session(Filter::default(), MEDIA);
    feed(
        &mut s,
        &mut sink,
        vec![
            media("a", "10.0.0.1:4000", 1.0),
            media("b", "10.0.0.2:4000", 1.0),
            // a's stream ends before a closes: it waits for the call.
            stream("10.0.0.9:5000", "10.0.0.1:4000", 2.0),
            Output::Tick(at(40.0), Default::default()),
            call("a", 10.0, &[("x-call-id", "b")]),
            // b closes 20 s later (within the window): the legs meet.
            Output::Tick(at(60.0), Default::default()),
            call("b", 30.0, &[]),
            // b's stream ends after b closed, while it is held: it still joins.
            stream("10.0.0.9:6000", "10.0.0.2:4000", 20.0),
            Output::Tick(at(200.0), Default::default()),
        ],
    );
    assert_eq!(sink.closed.len(), 2);
    for c in &sink.closed {
        let m = c.call.media.as_ref().expect("media figures");
        assert_eq!((m.streams, c.streams.len()), (1, 1), "{}", c.call.call_id);
        assert_eq!(c.call.legs.len(), 1, "{}", c.call.call_id);
        assert_eq!(c.media.len(), 1);
    }
    assert_eq!(sink.streams.len(), 2);
    assert_eq!(s.stats.late_streams, 0);
    // Another call comes and goes: released calls leave the media index.
    feed(
        &mut s,
        &mut sink,
        vec![
            media("c", "10.0.0.3:4000", 190.0),
            call("c", 195.0, &[]),
            Output::Tick(at(400.0), Default::default()),
        ],
    );
    assert_eq!(s.index.len(), 0, "released calls leave the media index");
    s.finish(&RunStats::default(), &mut sink).unwrap();
    assert!(s.held.is_empty() && s.waiting_streams.is_empty() && s.waiting == 0);
    assert!(s.queue.is_empty() && s.open.is_empty());
}

#[test]
fn a_stream_follows_its_calls_verdict() {
    let filter = Filter {
        call_id: Some("a".into()),
        ..Filter::default()
    };
    let (mut s, mut sink) = session(filter, MEDIA);
    feed(
        &mut s,
        &mut sink,
        vec![
            media("a", "10.0.0.1:4000", 1.0),
            media("b", "10.0.0.2:4000", 1.0),
            stream("10.0.0.9:5000", "10.0.0.1:4000", 2.0),
            stream("10.0.0.9:6000", "10.0.0.2:4000", 2.0),
            // A stream no SDP announced belongs to no call: a Call-ID filter leaves it out.
            stream("10.0.0.9:7000", "10.0.0.7:4000", 2.0),
            call("a", 10.0, &[]),
            call("b", 10.0, &[]),
        ],
    );
    s.finish(&RunStats::default(), &mut sink).unwrap();
    assert_eq!(sink.streams, vec![(Some("a".to_string()), true)]);
    assert_eq!(
        sink.closed
            .iter()
            .map(|c| c.call.call_id.as_str())
            .collect::<Vec<_>>(),
        ["a"]
    );
}

#[test]
fn a_context_sink_sees_what_the_filter_leaves_out_marked_so() {
    let filter = Filter {
        call_id: Some("a".into()),
        ..Filter::default()
    };
    let needs = Needs {
        context: true,
        ..MEDIA
    };
    let (mut s, mut sink) = session(filter, needs);
    feed(
        &mut s,
        &mut sink,
        vec![
            media("b", "10.0.0.2:4000", 1.0),
            stream("10.0.0.9:6000", "10.0.0.2:4000", 2.0),
            call("b", 10.0, &[]),
        ],
    );
    s.finish(&RunStats::default(), &mut sink).unwrap();
    assert_eq!(sink.streams, vec![(Some("b".to_string()), false)]);
    assert_eq!(sink.closed.len(), 1);
}

fn rtcp(src: &str, dst: &str, t: f64) -> Output {
    Output::Rtcp(Box::new(crate::analysis::rtcp::RtcpSeen {
        frame: 9,
        ts: at(t),
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        raw: bytes::Bytes::from_static(&[0x80, 201, 0, 1, 0, 0, 0, 7]),
        call_id: None,
    }))
}

#[test]
fn rtcp_is_tied_to_its_call_by_port_plus_one_mux_or_a_rtcp_and_judged_with_it() {
    let needs = Needs {
        rtcp: true,
        ..MEDIA
    };
    let (mut s, mut sink) = session(Filter::default(), needs);
    let mut mux = media("m", "10.0.0.3:6000", 1.0);
    let mut own = media("o", "10.0.0.4:7000", 1.0);
    if let (Output::Media(a), Output::Media(b)) = (&mut mux, &mut own) {
        std::sync::Arc::make_mut(a).rtcp_port = Some(6000);
        std::sync::Arc::make_mut(b).rtcp_port = Some(7100);
    }
    feed(
        &mut s,
        &mut sink,
        vec![
            media("a", "10.0.0.1:4000", 1.0),
            mux,
            own,
            // To the announced RTP port + 1, and from it (the other way).
            rtcp("10.0.0.9:5001", "10.0.0.1:4001", 5.0),
            rtcp("10.0.0.1:4001", "10.0.0.9:5001", 5.5),
            // rtcp-mux: on the RTP port itself; a=rtcp: on its own port.
            rtcp("10.0.0.9:5001", "10.0.0.3:6000", 6.0),
            rtcp("10.0.0.9:5001", "10.0.0.4:7100", 6.0),
            // Not RTP + 1 of an address with its own RTCP port, and an address no SDP named.
            rtcp("10.0.0.9:5001", "10.0.0.4:7001", 6.0),
            rtcp("10.0.0.9:5003", "10.0.0.8:4001", 7.0),
        ],
    );
    let ids: Vec<Option<&str>> = sink.rtcp.iter().map(|r| r.0.as_deref()).collect();
    assert_eq!(
        ids,
        vec![Some("a"), Some("a"), Some("m"), Some("o"), None, None]
    );
    assert!(sink.rtcp.iter().all(|r| r.1));
    // Not asked for: nothing (the other commands pay nothing).
    let (mut s, mut sink) = session(Filter::default(), MEDIA);
    feed(
        &mut s,
        &mut sink,
        vec![rtcp("10.0.0.9:5001", "10.0.0.1:4001", 5.0)],
    );
    assert!(sink.rtcp.is_empty());
    // A filter: the call's verdict once judged; before, a Call-ID filter alone decides.
    let needs = Needs {
        context: true,
        ..needs
    };
    let f = Filter {
        call_id: Some("a".into()),
        ..Filter::default()
    };
    let (mut s, mut sink) = session(f, needs);
    feed(
        &mut s,
        &mut sink,
        vec![
            media("a", "10.0.0.1:4000", 1.0),
            media("b", "10.0.0.2:4000", 1.0),
            rtcp("10.0.0.9:5001", "10.0.0.1:4001", 5.0),
            rtcp("10.0.0.9:5001", "10.0.0.2:4001", 5.0),
            rtcp("10.0.0.9:5001", "10.0.0.7:4001", 5.0),
        ],
    );
    let sel: Vec<bool> = sink.rtcp.iter().map(|r| r.1).collect();
    assert_eq!(sel, vec![true, false, false]);
    let f = Filter {
        from: Some(regex::Regex::new("^alice$").unwrap()),
        ..Filter::default()
    };
    let (mut s, mut sink) = session(f, needs);
    feed(
        &mut s,
        &mut sink,
        vec![
            media("a", "10.0.0.1:4000", 1.0),
            rtcp("10.0.0.9:5001", "10.0.0.1:4001", 5.0),
            call("a", 6.0, &[]),
            rtcp("10.0.0.9:5001", "10.0.0.1:4001", 7.0),
        ],
    );
    // (call_record's From user is alice.) Before the call closed it could not be judged.
    let sel: Vec<bool> = sink.rtcp.iter().map(|r| r.1).collect();
    assert_eq!(sel, vec![false, true]);
}
