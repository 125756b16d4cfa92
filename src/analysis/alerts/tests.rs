use super::registration::MAX_AORS;
use super::*;
use crate::analysis::rtp::StreamStats;
use crate::correlate::record::CallRecord;
use crate::correlate::MediaInfo;

fn at(s: f64) -> Ts {
    Ts::from_secs_f64(1_000.0 + s)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A message row as the correlator builds it.
struct M(MsgRow);

impl M {
    fn req(t: f64, method: &str, src: &str, dst: &str, cid: &str, branch: &str) -> M {
        let mut m = crate::testutil::msg_row();
        m.frame = (t * 1000.0) as u64;
        m.ts = at(t);
        m.src = addr(src);
        m.dst = addr(dst);
        m.method = Some(method.into());
        m.call_id = Some(cid.into());
        m.cseq_method = Some(method.into());
        m.branch = Some(branch.into());
        M(m)
    }

    fn resp(t: f64, status: u16, method: &str, src: &str, dst: &str, cid: &str, branch: &str) -> M {
        let mut m = M::req(t, method, src, dst, cid, branch).0;
        m.method = None;
        m.status = Some(status);
        m.to_tag = Some("t".into());
        M(m)
    }

    fn again(mut self) -> M {
        self.0.retransmission = true;
        self
    }
}

fn codes(e: &mut Engine) -> Vec<(&'static str, State, Ts)> {
    e.take()
        .into_iter()
        .map(|a| (a.code, a.state, a.ts))
        .collect()
}

const A: &str = "192.0.2.1:5060";
const B: &str = "192.0.2.2:5060";

#[test]
fn invite_timeout_fires_at_timer_b_and_clears_when_the_answer_comes() {
    let mut e = Engine::new(Thresholds::default());
    // No response at all (not even 100 Trying): the transaction stays in Calling.
    e.on_msg(&M::req(0.0, "INVITE", A, B, "c1", "z9hG4bK1").0);
    e.tick(at(31.0));
    assert!(codes(&mut e).iter().all(|c| c.0 != "invite-timeout"));
    e.tick(at(33.5));
    let c = codes(&mut e);
    assert!(
        c.contains(&("invite-timeout", State::Fired, at(32.0))),
        "{c:?}"
    );
    e.on_msg(&M::resp(40.0, 408, "INVITE", B, A, "c1", "z9hG4bK1").0);
    assert_eq!(
        codes(&mut e),
        [("invite-timeout", State::Cleared, at(40.0))]
    );
}

/// The alert quotes the unanswered request by its line and CSeq, as it came.
#[test]
fn an_unanswered_request_is_quoted_by_its_line() {
    let mut e = Engine::new(Thresholds::default());
    let mut m = M::req(0.0, "OPTIONS", A, B, "c1", "z9hG4bK1").0;
    m.cseq = Some(7);
    e.on_msg(&m);
    e.tick(at(40.0));
    let fired: Vec<Alert> = e.take();
    let a = fired
        .iter()
        .find(|a| a.code == "non-invite-timeout")
        .expect("no timeout fired");
    assert_eq!(a.message.as_deref(), Some("OPTIONS (CSeq 7 OPTIONS)"));
    assert_eq!(a.frame, Some(0));
}

#[test]
fn a_ringing_invite_has_no_timer_b() {
    // 180 at once, the final answer 45 s later: the transaction left Calling at the 180.
    let mut e = Engine::new(Thresholds::default());
    e.on_msg(&M::req(0.0, "INVITE", A, B, "ring", "z9hG4bKr").0);
    e.on_msg(&M::resp(0.5, 180, "INVITE", B, A, "ring", "z9hG4bKr").0);
    e.tick(at(40.0));
    e.on_msg(&M::resp(45.0, 480, "INVITE", B, A, "ring", "z9hG4bKr").0);
    assert!(codes(&mut e).iter().all(|c| c.0 != "invite-timeout"));
}

#[test]
fn one_way_audio_through_a_proxy() {
    // The proxy P announces both SDPs again on the next hop; the sides are the first
    // announcers, the caller A and the callee B.
    let p = "192.0.2.9:5060";
    let mut e = Engine::new(Thresholds::default());
    e.on_media(&media("px", "10.0.0.1:4000", A));
    e.on_media(&media("px", "10.0.0.1:4000", p));
    e.on_media(&media("px", "10.0.0.2:5000", B));
    e.on_media(&media("px", "10.0.0.2:5000", p));
    e.on_stream(&stream("px", "10.0.0.2:5000", "10.0.0.1:4000"));
    e.on_call(&call("px", 20.0));
    e.settle(at(500.0), true);
    let c: Vec<_> = e.take().into_iter().map(|a| a.code).collect();
    assert_eq!(c, ["one-way-audio"]);
}

#[test]
fn a_late_answer_between_ticks_still_fires_at_the_deadline() {
    // No tick ran between 32 s and the answer at 35 s: the alert is the same.
    let mut e = Engine::new(Thresholds::default());
    e.on_msg(&M::req(0.0, "OPTIONS", A, B, "c2", "z9hG4bK2").0);
    e.on_msg(&M::resp(35.0, 200, "OPTIONS", B, A, "c2", "z9hG4bK2").0);
    assert_eq!(
        codes(&mut e),
        [
            ("non-invite-timeout", State::Fired, at(32.0)),
            ("non-invite-timeout", State::Cleared, at(35.0))
        ]
    );
}

#[test]
fn missing_ack_needs_a_repeated_2xx_and_clears_on_a_late_ack() {
    let mut e = Engine::new(Thresholds::default());
    e.on_msg(&M::req(0.0, "INVITE", A, B, "c3", "z9hG4bK3").0);
    e.on_msg(&M::resp(1.0, 200, "INVITE", B, A, "c3", "z9hG4bK3").0);
    e.tick(at(40.0));
    assert!(codes(&mut e).is_empty(), "one 2xx and silence is not proof");
    e.on_msg(
        &M::resp(1.5, 200, "INVITE", B, A, "c3", "z9hG4bK3")
            .again()
            .0,
    );
    e.tick(at(41.0));
    assert_eq!(codes(&mut e), [("missing-ack", State::Fired, at(33.0))]);
    e.on_msg(&M::req(45.0, "ACK", A, B, "c3", "z9hG4bK4").0);
    assert_eq!(codes(&mut e), [("missing-ack", State::Cleared, at(45.0))]);
}

#[test]
fn long_pdd_is_decided_by_the_first_answer() {
    let mut e = Engine::new(Thresholds::default());
    e.on_msg(&M::req(0.0, "INVITE", A, B, "quick", "z9hG4bK5").0);
    e.on_msg(&M::resp(1.0, 180, "INVITE", B, A, "quick", "z9hG4bK5").0);
    e.on_msg(&M::req(0.0, "INVITE", A, B, "slow", "z9hG4bK6").0);
    e.on_msg(&M::resp(7.0, 183, "INVITE", B, A, "slow", "z9hG4bK6").0);
    e.tick(at(8.0));
    let c = codes(&mut e);
    assert_eq!(c, [("long-pdd", State::Fired, at(5.0))]);
}

#[test]
fn auth_failures_and_probing_sources() {
    let mut e = Engine::new(Thresholds::default());
    let brute = "198.51.100.7:5070";
    // Four 401s then a success: nothing. Five in a row: auth-failures.
    for i in 0..4 {
        e.on_msg(&M::resp(f64::from(i), 401, "REGISTER", B, brute, "r", "b").0);
    }
    e.on_msg(&M::resp(4.5, 200, "REGISTER", B, brute, "r", "b").0);
    assert!(codes(&mut e).is_empty());
    for i in 0..5 {
        e.on_msg(&M::resp(5.0 + f64::from(i), 401, "REGISTER", B, brute, "r", "b").0);
    }
    assert_eq!(codes(&mut e), [("auth-failures", State::Fired, at(9.0))]);
    // A scanner: 404 for ten different users from one address.
    let scan = "203.0.113.9:5060";
    for i in 0..10 {
        let mut m = M::resp(
            20.0 + f64::from(i),
            404,
            "INVITE",
            B,
            scan,
            &format!("s{i}"),
            "x",
        )
        .0;
        m.to_user = Some(format!("{}", 100 + i).into());
        e.on_msg(&m);
    }
    let c = codes(&mut e);
    assert!(c.contains(&("scanner", State::Fired, at(29.0))), "{c:?}");
    // And a known scanner's User-Agent at once.
    let mut m = M::req(30.0, "OPTIONS", "203.0.113.10:5060", B, "ua", "y").0;
    m.user_agent = Some("friendly-scanner".into());
    e.on_msg(&m);
    assert_eq!(codes(&mut e), [("scanner", State::Fired, at(30.0))]);
}

#[test]
fn rates_storms_and_spikes() {
    let mut e = Engine::new(Thresholds::default());
    // 21 REGISTERs within one second from one source.
    for i in 0..21 {
        e.on_msg(
            &M::req(
                0.01 * f64::from(i),
                "REGISTER",
                A,
                B,
                &format!("r{i}"),
                &format!("b{i}"),
            )
            .0,
        );
    }
    let c = codes(&mut e);
    assert!(c.iter().any(|c| c.0 == "registration-flood"), "{c:?}");
    // 20 messages from B, 3 of them retransmissions (15 %).
    for i in 0..20 {
        let m = M::req(
            10.0 + 0.1 * f64::from(i),
            "OPTIONS",
            B,
            A,
            &format!("o{i}"),
            &format!("p{i}"),
        );
        e.on_msg(&if i % 7 == 0 { m.again() } else { m }.0);
    }
    let c = codes(&mut e);
    assert!(c.iter().any(|c| c.0 == "retransmission-storm"), "{c:?}");
    // A peer answering 503 to 20 calls in a row, after a calm minute.
    let peer = "192.0.2.50:5060";
    for i in 0..30 {
        e.on_msg(
            &M::resp(
                20.0 + f64::from(i),
                200,
                "OPTIONS",
                peer,
                A,
                &format!("k{i}"),
                "q",
            )
            .0,
        );
    }
    assert!(codes(&mut e).iter().all(|c| c.0 != "error-spike"));
    for i in 0..20 {
        e.on_msg(
            &M::resp(
                90.0 + 0.1 * f64::from(i),
                503,
                "INVITE",
                peer,
                A,
                &format!("e{i}"),
                "w",
            )
            .0,
        );
    }
    let c = codes(&mut e);
    assert_eq!(
        c.iter().filter(|c| c.0 == "error-spike").count(),
        1,
        "{c:?}"
    );
}

#[test]
fn malformed_once_per_source_and_code() {
    let mut e = Engine::new(Thresholds::default());
    for i in 0..3 {
        let mut m = M::req(f64::from(i), "INVITE", A, B, "m", &format!("b{i}")).0;
        m.anomalies = vec!["content-length-mismatch"];
        e.on_msg(&m);
    }
    assert_eq!(codes(&mut e).len(), 1);
}

fn media(cid: &str, addr: &str, by: &str) -> MediaInfo {
    MediaInfo {
        frame: 1,
        idx: 1,
        ts: at(0.0),
        call_id: cid.into(),
        addr: addr.parse().unwrap(),
        announced_by: by.parse().unwrap(),
        held: false,
        rtcp_port: None,
        payloads: vec![(0, 8000, "PCMU".into())],
    }
}

fn call(cid: &str, talk: f64) -> CallRecord {
    CallRecord {
        start: at(0.0),
        end: at(1.0 + talk),
        duration: 1.0 + talk,
        talk_time: Some(talk),
        caller: Some(addr(A)),
        addresses: Vec::new(),
        nodes: Vec::new(),
        messages: 5,
        ..crate::testutil::call_record(cid)
    }
}

fn stream(cid: &str, src: &str, dst: &str) -> StreamStats {
    let mut t = crate::analysis::rtp::RtpTracker::default();
    let h = crate::analysis::rtp::RtpHeader {
        marker: false,
        payload_type: 0,
        seq: 1,
        timestamp: 160,
        ssrc: 7,
        payload_len: 160,
        payload_offset: 12,
    };
    t.packet(
        at(2.0),
        src.parse().unwrap(),
        dst.parse().unwrap(),
        &h,
        &[0; 172],
    );
    let mut s = t.finish().remove(0);
    s.call_id = Some(cid.into());
    s
}

#[test]
fn media_detectors_at_the_end_of_a_call() {
    let mut e = Engine::new(Thresholds::default());
    // Both sides offered media; RTP reached only the caller's side.
    e.on_media(&media("oneway", "10.0.0.1:4000", A));
    e.on_media(&media("oneway", "10.0.0.2:5000", B));
    e.on_stream(&stream("oneway", "10.0.0.2:5000", "10.0.0.1:4000"));
    e.on_call(&call("oneway", 20.0));
    // No RTP at all.
    e.on_media(&media("silent", "10.0.0.3:4000", A));
    e.on_media(&media("silent", "10.0.0.4:5000", B));
    e.on_call(&call("silent", 20.0));
    // Too short to judge.
    e.on_media(&media("short", "10.0.0.5:4000", A));
    e.on_call(&call("short", 2.0));
    // The checks wait for the calls' streams: nothing until 62 s after their ends.
    assert!(e.settle(at(30.0), false).is_empty());
    assert!(e.take().is_empty());
    assert_eq!(e.settle(at(100.0), false).len(), 3);
    let c: Vec<(&str, Option<String>)> =
        e.take().into_iter().map(|a| (a.code, a.call_id)).collect();
    assert_eq!(
        c,
        [
            ("one-way-audio", Some("oneway".to_string())),
            ("no-rtp", Some("silent".to_string()))
        ]
    );
}

#[test]
fn one_way_audio_is_judged_mid_call_from_live_streams() {
    let mut e = Engine::new(Thresholds::default());
    // An answered call still up: RTP flows only towards the caller's media address.
    e.on_msg(&M::req(0.0, "INVITE", A, B, "live", "z9hG4bKv").0);
    e.on_msg(&M::resp(1.0, 200, "INVITE", B, A, "live", "z9hG4bKv").0);
    e.on_media(&media("live", "10.0.0.1:4000", A));
    e.on_media(&media("live", "10.0.0.2:5000", B));
    e.on_live_stream("live", "10.0.0.1:4000".parse().unwrap(), at(8.0));
    // 5 s of talk, then the reports' 10 s: judged at 16 s, not before.
    e.decide_media(at(15.0));
    assert!(e.take().is_empty());
    e.decide_media(at(16.0));
    assert_eq!(codes(&mut e), [("one-way-audio", State::Fired, at(6.0))]);
    // Once: not again mid-call, nor when the call closes and settles.
    e.decide_media(at(40.0));
    e.on_call(&call("live", 60.0));
    e.settle(at(200.0), true);
    assert!(e.take().is_empty());
}

/// Calls judged on the same tick raise their alerts in time order, then Call-ID order, not in
/// the order of a hash map (which changes from run to run, and made the report's alerts table
/// differ between two runs on the same capture).
#[test]
fn media_decisions_on_one_tick_come_in_a_fixed_order() {
    let mut e = Engine::new(Thresholds::default());
    // RTP flows elsewhere in the capture: each silent call is judged on its own.
    e.media_flowing();
    let ids: Vec<String> = (0..24).map(|i| format!("call-{i:02}")).collect();
    for (i, cid) in ids.iter().enumerate() {
        let t = if i % 2 == 0 { 1.0 } else { 2.0 };
        let branch = format!("z9hG4bK{i}");
        e.on_msg(&M::req(0.0, "INVITE", A, B, cid, &branch).0);
        e.on_msg(&M::resp(t, 200, "INVITE", B, A, cid, &branch).0);
        e.on_media(&media(cid, "10.0.0.1:4000", A));
        e.on_media(&media(cid, "10.0.0.2:5000", B));
    }
    e.decide_media(at(60.0));
    let got: Vec<(Ts, String)> = e
        .take()
        .into_iter()
        .map(|a| (a.ts, a.call_id.unwrap_or_default()))
        .collect();
    assert_eq!(got.len(), ids.len());
    let mut want = got.clone();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn private_sdp_from_a_public_address() {
    let mut e = Engine::new(Thresholds::default());
    e.on_media(&media("nat", "192.168.1.20:4000", "81.2.69.142:5060"));
    e.on_media(&media("nat", "192.168.1.20:4002", "81.2.69.142:5060"));
    e.on_media(&media("lan", "192.168.1.20:4000", "192.168.1.20:5060"));
    e.on_media(&media("cgn", "100.64.3.3:4000", "8.8.4.4:5060"));
    let c: Vec<_> = e.take().into_iter().map(|a| (a.code, a.call_id)).collect();
    assert_eq!(
        c,
        [
            ("sdp-nat-mismatch", Some("nat".to_string())),
            ("sdp-nat-mismatch", Some("cgn".to_string()))
        ]
    );
}

#[test]
fn private_contact_from_a_public_address() {
    let mut e = Engine::new(Thresholds::default());
    let mut m = M::req(0.0, "INVITE", "81.2.69.142:5060", B, "natc", "z9hG4bKn").0;
    m.contact_ip = Some("10.1.2.3".parse().unwrap());
    e.on_msg(&m);
    e.on_msg(&m);
    let mut lan = M::req(0.0, "INVITE", "10.1.2.3:5060", B, "lan", "z9hG4bKl").0;
    lan.contact_ip = Some("10.1.2.3".parse().unwrap());
    e.on_msg(&lan);
    let c: Vec<_> = e.take().into_iter().map(|a| (a.code, a.call_id)).collect();
    assert_eq!(c, [("sdp-nat-mismatch", Some("natc".to_string()))]);
}

#[test]
fn thresholds_from_toml() {
    let t = Thresholds::from_toml("min_mos = 3.0\nwindow_s = 30\nscanner_agents = [\"evil\"]\n")
        .unwrap();
    assert_eq!((t.min_mos, t.window_s), (3.0, 30.0));
    assert_eq!(t.scanner_agents, ["evil"]);
    assert_eq!(t.long_pdd_s, 5.0, "the rest keep their defaults");
    assert!(Thresholds::from_toml("min_moss = 3")
        .unwrap_err()
        .contains("min_moss"));
}

/// A final answer `status` from `from` to `to` about `user`.
fn answer(t: f64, status: u16, method: &str, from: &str, to: &str, user: &str, i: u32) -> MsgRow {
    let mut m = M::resp(
        t,
        status,
        method,
        from,
        to,
        &format!("c{i}"),
        &format!("b{i}"),
    )
    .0;
    m.to_user = Some(user.into());
    m
}

fn fired(e: &mut Engine, code: &str) -> Vec<Alert> {
    e.take().into_iter().filter(|a| a.code == code).collect()
}

#[test]
fn a_trunk_refused_for_many_users_is_no_scanner() {
    // A trunk at 20 calls a second for 5 minutes: one call in 25 to a user that does not exist
    // (404, a different user each time), the rest answered or busy. Refused for hundreds of
    // users a minute, and still no scanner: almost everything it asks for succeeds.
    let mut e = Engine::new(Thresholds::default());
    let trunk = "198.51.100.3:5060";
    for i in 0..6000u32 {
        let t = f64::from(i) * 0.05;
        let user = format!("4155{:06}", (i * 7919) % 1_000_000);
        let status = match i % 25 {
            0 => 404,
            1 => 486,
            _ => 200,
        };
        e.on_msg(&answer(t, status, "INVITE", B, trunk, &user, i));
    }
    assert!(fired(&mut e, "scanner").is_empty());
}

#[test]
fn a_sweep_of_extensions_is_a_scanner_once() {
    // REGISTER to 100..159 in sequence, every one refused (401 for those that exist, 404 for
    // the others): a scanner, said once, with the sequence in the evidence.
    let mut e = Engine::new(Thresholds::default());
    let scan = "203.0.113.9:5060";
    for i in 0..60u32 {
        let status = if i % 3 == 0 { 401 } else { 404 };
        let user = format!("{}", 100 + i);
        e.on_msg(&answer(
            f64::from(i) * 0.2,
            status,
            "REGISTER",
            B,
            scan,
            &user,
            i,
        ));
    }
    let a = fired(&mut e, "scanner");
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].endpoint.as_deref(), Some("203.0.113.9"));
    assert!(
        a[0].evidence.contains("10 in sequence (100-109)"),
        "{}",
        a[0].evidence
    );
    assert!(a[0].evidence.contains("0 of its 10 final answers"));
}

#[test]
fn a_front_end_registering_thousands_of_users_is_no_flood() {
    // Three front-ends register 1000 users each at 15 users a second (each user twice: the
    // challenge, then the answer with credentials): 30 REGISTERs a second from each. No
    // flood, no scanner (every challenge is answered), no auth failure.
    let mut e = Engine::new(Thresholds::default());
    let mut i = 0;
    for round in 0..2 {
        for u in 0..1000u32 {
            for f in 0..3u32 {
                let fe = format!("192.0.2.{}:5060", 106 + f);
                let user = format!("u{}", 1000 + f * 1000 + u);
                let t = f64::from(round) * 100.0 + f64::from(u) / 15.0;
                for (dt, status) in [(0.0, 401), (0.01, 200)] {
                    let mut m = M::req(t + dt, "REGISTER", &fe, B, &format!("r{i}"), "b").0;
                    m.to_user = Some(user.as_str().into());
                    e.on_msg(&m);
                    e.on_msg(&answer(
                        t + dt + 0.001,
                        status,
                        "REGISTER",
                        B,
                        &fe,
                        &user,
                        i,
                    ));
                    i += 1;
                }
            }
        }
    }
    let a = e.take();
    assert!(a.is_empty(), "{:?}", &a[..a.len().min(3)]);
}

/// A phone at `src` registering the AOR `user` at `t` asking for `expires`: REGISTER, 401,
/// REGISTER with credentials, 200 granting `granted`.
fn register(e: &mut Engine, t: f64, src: &str, user: &str, expires: u32, granted: u32, i: u32) {
    for (k, (dt, status)) in [(0.0, 401), (0.01, 200)].into_iter().enumerate() {
        let mut m = M::req(
            t + dt,
            "REGISTER",
            src,
            B,
            &format!("p{i}"),
            &format!("b{i}{k}"),
        )
        .0;
        m.to_user = Some(user.into());
        m.expires = Some(expires);
        e.on_msg(&m);
        let mut a = answer(t + dt + 0.005, status, "REGISTER", B, src, user, i);
        a.expires = (status == 200).then_some(granted);
        e.on_msg(&a);
    }
}

#[test]
fn an_aor_registering_far_faster_than_its_expiry_is_a_flood_once() {
    // One phone re-registering every second for two minutes with Expires 3600 (a challenge and
    // the answer to it each time: one registration, not two). Four registrations within 3 s
    // while a quarter of the expiry is 900 s: a flood, said once while it lasts.
    let mut e = Engine::new(Thresholds::default());
    for i in 0..120u32 {
        register(&mut e, f64::from(i), A, "1001", 3600, 3600, i);
    }
    let a = fired(&mut e, "registration-flood");
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].ts, at(3.0), "the fourth registration");
    assert!(
        a[0].evidence.contains(
            "4 registrations of the AOR \"1001\" from 192.0.2.1 in 3 s (one every 1.0 s), with an expiry of 3600 s (granted)"
        ),
        "{}",
        a[0].evidence
    );
    // It stops, and a day later starts again: another episode.
    for i in 0..10u32 {
        register(
            &mut e,
            86_400.0 + f64::from(i),
            A,
            "1001",
            3600,
            3600,
            200 + i,
        );
    }
    assert_eq!(fired(&mut e, "registration-flood").len(), 1);

    // What is no flood: a phone behind NAT asking for 60 s and refreshing every 20 s; one
    // asking for 3600 s, granted 120, refreshing every 50 s; one asking for 10 s and refreshing
    // every 5 s (the floor: a quarter of 10 s is under registration_min_span_s); and a phone
    // answering every challenge (the retries are no refreshes).
    let mut e = Engine::new(Thresholds::default());
    for i in 0..30u32 {
        register(&mut e, f64::from(i) * 20.0, A, "nat", 60, 60, i);
        register(&mut e, f64::from(i) * 50.0, A, "short", 3600, 120, 100 + i);
        register(&mut e, f64::from(i) * 5.0, A, "tiny", 10, 10, 200 + i);
    }
    let a = e.take();
    assert!(a.is_empty(), "{a:?}");
    // Without answers (a one-sided capture), the requested expiry is what counts: every 20 s
    // while asking for 3600 s is a flood.
    let mut e = Engine::new(Thresholds::default());
    for i in 0..10u32 {
        let mut m = M::req(f64::from(i) * 20.0, "REGISTER", A, B, &format!("q{i}"), "b").0;
        m.to_user = Some("1002".into());
        m.expires = Some(3600);
        e.on_msg(&m);
    }
    let a = fired(&mut e, "registration-flood");
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(a[0].evidence.contains("(requested)"), "{}", a[0].evidence);

    // A source flooding a few AORs: 30 a second over 3 AORs.
    let mut e = Engine::new(Thresholds::default());
    for i in 0..300u32 {
        let mut m = M::req(f64::from(i) / 30.0, "REGISTER", B, A, &format!("q{i}"), "b").0;
        m.to_user = Some(format!("u{}", i % 3).into());
        e.on_msg(&m);
    }
    assert_eq!(fired(&mut e, "registration-flood").len(), 1);
}

/// `n` final answers from `peer` starting at `t0`, `per_s` a second, one in `every` an error
/// (`status`); returns the error-spike alerts.
fn answers_from(
    e: &mut Engine,
    peer: &str,
    t0: f64,
    n: u32,
    per_s: f64,
    every: u32,
    status: u16,
) -> Vec<Alert> {
    for i in 0..n {
        let s = if i % every == 0 { status } else { 200 };
        let t = t0 + f64::from(i) / per_s;
        e.on_msg(&answer(t, s, "INVITE", peer, A, "x", i));
    }
    fired(e, "error-spike")
}

#[test]
fn a_steady_failure_ratio_is_no_error_spike() {
    // 20 % errors from the first answer to the last, 20 a second for 5 minutes: no baseline
    // during the first minute (and 20 % is no outage), then a baseline of 20 %.
    let mut e = Engine::new(Thresholds::default());
    assert!(answers_from(&mut e, B, 0.0, 6000, 20.0, 5, 486).is_empty());
    // The same peer then fails every call: a spike against its 20 % once the window's share
    // passes 3 × 20 % (30 s of it at this rate).
    let a = answers_from(&mut e, B, 300.0, 800, 20.0, 1, 503);
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(a[0].evidence.contains("baseline 20 %"), "{}", a[0].evidence);
}

#[test]
fn an_outage_with_no_baseline_yet_is_an_error_spike_once() {
    // A peer answering nothing but 503 from its first answer: no baseline needed.
    let mut e = Engine::new(Thresholds::default());
    let a = answers_from(&mut e, B, 0.0, 25, 50.0, 1, 503);
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(
        a[0].evidence.contains("no baseline yet"),
        "{}",
        a[0].evidence
    );
    // Half the answers errors from the start: not an outage, and nothing yet to compare with.
    let mut e = Engine::new(Thresholds::default());
    let p = "192.0.2.77:5060";
    assert!(answers_from(&mut e, p, 0.0, 100, 50.0, 2, 500).is_empty());
}

#[test]
fn distinct_names_stay_within_their_bound() {
    let mut d = Distinct::default();
    let w = ns(60.0);
    for i in 0..1000 {
        d.see(at(f64::from(i) * 0.01), &format!("u{i}"), w, 10);
    }
    assert_eq!((d.len(), d.order.len()), (10, 10));
    // A name seen again is not new; a window later everything is gone.
    assert!(!d.see(at(9.99), "u999", w, 10));
    assert!(d.see(at(200.0), "u999", w, 10));
    assert_eq!(d.len(), 1);
}

#[test]
fn the_registering_aor_table_is_bounded_and_its_evictions_counted() {
    let mut e = Engine::new(Thresholds::default());
    let ip: IpAddr = "192.0.2.9".parse().unwrap();
    for i in 0..(MAX_AORS as u32 + 5) {
        e.registration(
            ip,
            Some(&format!("u{i}")),
            at(f64::from(i) * 1e-5),
            Some(60),
        );
    }
    assert_eq!((e.aors.len(), e.aor_order.len()), (MAX_AORS, MAX_AORS));
    assert_eq!(e.stats.evicted, 5);
    assert_eq!(
        fired(&mut e, "table-full").len(),
        1,
        "said once, counted each time"
    );
    // Kept a window (a quarter of 60 s is less): a window later they are forgotten.
    e.registration(ip, Some("u0"), at(100.0), Some(60));
    assert_eq!((e.aors.len(), e.aor_order.len()), (1, 1));
    // An AOR refreshing often leaves stale order entries behind a long-kept one: the order
    // stays within a bound of the table.
    e.registration(ip, Some("long"), at(100.0), Some(86_400));
    for i in 0..10_000u32 {
        e.registration(ip, Some("busy"), at(101.0 + f64::from(i) * 0.001), Some(60));
    }
    assert!(e.aor_order.len() <= 2 * e.aors.len() + 1024 + 1);
}

/// An out-of-dialog `method` from `src` to `dst` for `user`, its Call-ID and branch from `i`.
fn asked(t: f64, method: &str, src: &str, dst: &str, user: &str, i: u32) -> MsgRow {
    let mut m = M::req(t, method, src, dst, &format!("s{i}"), &format!("sb{i}")).0;
    m.to_user = Some(user.into());
    m
}

#[test]
fn an_address_sweep_is_a_scanner_once() {
    // svmap: OPTIONS to every address of 192.0.2.0/24, 50 a second; two of them are SIP hosts
    // and answer 200, the rest have nothing listening.
    let mut e = Engine::new(Thresholds::default());
    let scan = "203.0.113.50:5060";
    for i in 1..=254u32 {
        let t = f64::from(i) * 0.02;
        let host = format!("192.0.2.{i}:5060");
        e.on_msg(&asked(t, "OPTIONS", scan, &host, "100", i));
        if i == 10 || i == 200 {
            let mut a = answer(t + 0.001, 200, "OPTIONS", &host, scan, "100", i);
            a.call_id = Some(format!("s{i}").into());
            e.on_msg(&a);
        }
    }
    let a = fired(&mut e, "scanner");
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].endpoint.as_deref(), Some("203.0.113.50"));
    assert_eq!(a[0].ts, at(0.6), "the 30th address");
    assert!(
        a[0].evidence.contains(
            "OPTIONS requests to 30 different addresses in 60 s, the last 30 in sequence (192.0.2.1-192.0.2.30)"
        ) && a[0].evidence.contains("1 of its 30 requests succeeded"),
        "{}",
        a[0].evidence
    );
}

#[test]
fn a_user_sweep_is_a_scanner_once_however_long_it_lasts() {
    // svwar: INVITE to extensions 100..999, 5 a second (three minutes), every one answered 480
    // (no refusal code, so only the sweep can tell). One episode, one alert.
    let mut e = Engine::new(Thresholds::default());
    let scan = "203.0.113.51:5060";
    for i in 0..900u32 {
        let t = f64::from(i) * 0.2;
        let user = format!("{}", 100 + i);
        e.on_msg(&asked(t, "INVITE", scan, B, &user, i));
        e.on_msg(&answer(t + 0.01, 480, "INVITE", B, scan, &user, i));
    }
    let a = fired(&mut e, "scanner");
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(
        a[0].evidence
            .contains("INVITE requests for 30 different users in 60 s; 0 of its 30 requests"),
        "{}",
        a[0].evidence
    );
    // The same, refused 401: the refusal trigger finds it first; still one alert for the whole
    // sweep (it used to be said again every window).
    let mut e = Engine::new(Thresholds::default());
    for i in 0..900u32 {
        let t = f64::from(i) * 0.2;
        let user = format!("{}", 100 + i);
        e.on_msg(&asked(t, "REGISTER", scan, B, &user, i));
        e.on_msg(&answer(t + 0.01, 401, "REGISTER", B, scan, &user, i));
    }
    assert_eq!(fired(&mut e, "scanner").len(), 1);
    // Back a window after it stopped: a new episode.
    for i in 0..40u32 {
        let t = 300.0 + f64::from(i) * 0.2;
        e.on_msg(&asked(
            t,
            "REGISTER",
            scan,
            B,
            &format!("{}", 2000 + i),
            1000 + i,
        ));
        e.on_msg(&answer(
            t + 0.01,
            401,
            "REGISTER",
            B,
            scan,
            &format!("{}", 2000 + i),
            1000 + i,
        ));
    }
    assert_eq!(fired(&mut e, "scanner").len(), 1);
}

#[test]
fn keepalives_and_a_dead_registrar_are_no_sweep() {
    let mut e = Engine::new(Thresholds::default());
    // A proxy pinging 40 gateways every 10 s for 5 minutes, all answering.
    let proxy = "192.0.2.5:5060";
    let mut i = 0;
    for round in 0..30 {
        for g in 0..40u32 {
            let t = f64::from(round) * 10.0 + f64::from(g) * 0.01;
            let gw = format!("198.51.100.{}:5060", 10 + g);
            e.on_msg(&asked(t, "OPTIONS", proxy, &gw, "", i));
            e.on_msg(&answer(t + 0.001, 200, "OPTIONS", &gw, proxy, "", i));
            i += 1;
        }
    }
    // A front-end registering 600 users whose registrar never answers.
    let fe = "192.0.2.6:5060";
    for u in 0..600u32 {
        e.on_msg(&asked(
            f64::from(u) * 0.1,
            "REGISTER",
            fe,
            B,
            &format!("u{u}"),
            10_000 + u,
        ));
    }
    assert!(fired(&mut e, "scanner").is_empty());
}

#[test]
fn a_cancels_200_does_not_answer_the_invite() {
    // A UA that CANCELs before any provisional (RFC 3261 says wait for one; real phones do
    // not): the CANCEL shares the INVITE's branch, and its 200 answers the CANCEL only. The
    // INVITE, never answered, still runs into Timer B.
    let mut e = Engine::new(Thresholds::default());
    e.on_msg(&M::req(0.0, "INVITE", A, B, "cx", "z9hG4bKc").0);
    e.on_msg(&M::req(1.0, "CANCEL", A, B, "cx", "z9hG4bKc").0);
    e.on_msg(&M::resp(1.1, 200, "CANCEL", B, A, "cx", "z9hG4bKc").0);
    e.tick(at(33.5));
    let c = codes(&mut e);
    assert!(
        c.contains(&("invite-timeout", State::Fired, at(32.0))),
        "{c:?}"
    );
    assert!(c.iter().all(|x| x.0 != "non-invite-timeout"), "{c:?}");
}

#[test]
fn a_cleared_alert_was_fired_and_is_cleared_once() {
    // Two OPTIONS of one dialog time out (one alert: the code fires once per call), then both
    // get late answers: one "cleared", for the one alert that fired.
    let mut e = Engine::new(Thresholds::default());
    e.on_msg(&M::req(0.0, "OPTIONS", A, B, "co", "z9hG4bKo1").0);
    e.on_msg(&M::req(0.5, "OPTIONS", A, B, "co", "z9hG4bKo2").0);
    e.tick(at(40.0));
    let c = codes(&mut e);
    assert_eq!(
        c.iter()
            .filter(|x| x.0 == "non-invite-timeout" && x.1 == State::Fired)
            .count(),
        1,
        "{c:?}"
    );
    e.on_msg(&M::resp(41.0, 408, "OPTIONS", B, A, "co", "z9hG4bKo1").0);
    e.on_msg(&M::resp(41.5, 408, "OPTIONS", B, A, "co", "z9hG4bKo2").0);
    assert_eq!(
        codes(&mut e),
        [("non-invite-timeout", State::Cleared, at(41.0))]
    );
}

/// An answered call with the engine: INVITE, 200, ACK at 0-0.2 s.
fn answered(e: &mut Engine, cid: &str) {
    e.on_msg(&M::req(0.0, "INVITE", A, B, cid, "z9hG4bKa").0);
    e.on_msg(&M::resp(0.1, 200, "INVITE", B, A, cid, "z9hG4bKa").0);
    let mut ack = M::req(0.2, "ACK", A, B, cid, "z9hG4bKb").0;
    ack.to_tag = Some("t".into());
    ack.cseq = Some(1);
    e.on_msg(&ack);
}

/// A stream of two packets `gap` seconds apart, from 1 s on.
fn paused_stream(cid: &str, gap: f64) -> StreamStats {
    let mut t = crate::analysis::rtp::RtpTracker::default();
    for (i, ts) in [1.0, 1.0 + gap].into_iter().enumerate() {
        let h = crate::analysis::rtp::RtpHeader {
            marker: false,
            payload_type: 0,
            seq: 1 + i as u16,
            timestamp: 160 * (1 + i as u32),
            ssrc: 9,
            payload_len: 160,
            payload_offset: 12,
        };
        t.packet(
            at(ts),
            "10.0.0.2:5000".parse().unwrap(),
            "10.0.0.1:4000".parse().unwrap(),
            &h,
            &[0; 172],
        );
    }
    let mut s = t.finish().remove(0);
    s.call_id = Some(cid.into());
    s
}

#[test]
fn missing_bye_fires_for_any_media_gone_time() {
    // media_gone_s longer than a stream's own 60 s idle end: the stream has ended by then, and
    // the check still runs (it ran only when a stream ended, so it could never fire).
    let mut e = Engine::new(Thresholds {
        media_gone_s: 120.0,
        ..Thresholds::default()
    });
    answered(&mut e, "hung");
    e.on_stream(&paused_stream("hung", 0.02));
    e.decide_media(at(100.0));
    assert!(fired(&mut e, "missing-bye").is_empty());
    e.decide_media(at(125.0));
    let f = fired(&mut e, "missing-bye");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].ts, at(1.02 + 120.0));
    e.decide_media(at(200.0));
    assert!(fired(&mut e, "missing-bye").is_empty(), "once");
}

#[test]
fn a_pause_on_hold_is_no_rtp_stopped() {
    // The same 15 s pause, once in a call its SDP put on hold (sendonly) and once without:
    // only the second is a fault.
    let mut e = Engine::new(Thresholds::default());
    answered(&mut e, "held");
    let mut hold = media("held", "10.0.0.1:4000", A);
    hold.held = true;
    e.on_media(&hold);
    e.on_stream(&paused_stream("held", 15.0));
    answered(&mut e, "dropped");
    e.on_stream(&paused_stream("dropped", 15.0));
    let f = fired(&mut e, "rtp-stopped");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].call_id.as_deref(), Some("dropped"));
}

/// A capture without any RTP (signalling only: a SIP-only filter, an SBC trace) cannot show
/// media: no-rtp is said once for the capture, not for each of its answered calls; once RTP is
/// seen anywhere, a call without it is judged as before.
#[test]
fn no_rtp_is_said_once_on_a_signalling_only_capture() {
    let mut e = Engine::new(Thresholds::default());
    let n = super::media::NO_MEDIA_CALLS + 5;
    for i in 0..n {
        let cid = format!("sig{i}");
        e.on_media(&media(&cid, "10.0.0.3:4000", A));
        e.on_media(&media(&cid, "10.0.0.4:5000", B));
        e.on_call(&call(&cid, 20.0));
    }
    e.settle(at(500.0), true);
    e.media_end(at(500.0));
    let got: Vec<_> = e
        .take()
        .into_iter()
        .map(|a| (a.code, a.severity, a.call_id))
        .collect();
    assert_eq!(got, [("no-rtp", Severity::Warning, None)]);

    // Fewer calls than the threshold: said at the end of the input.
    let mut e = Engine::new(Thresholds::default());
    e.on_media(&media("one", "10.0.0.3:4000", A));
    e.on_call(&call("one", 20.0));
    e.settle(at(500.0), true);
    assert!(e.take().is_empty());
    e.media_end(at(500.0));
    let a = e.take();
    assert_eq!(a.len(), 1);
    assert!(
        a[0].evidence.contains("1 answered call offered media"),
        "{}",
        a[0].evidence
    );

    // RTP seen (another call's stream): the silent call is a fault of its own.
    let mut e = Engine::new(Thresholds::default());
    e.on_stream(&stream("other", "10.0.0.9:5000", "10.0.0.8:4000"));
    e.on_media(&media("silent", "10.0.0.3:4000", A));
    e.on_media(&media("silent", "10.0.0.4:5000", B));
    e.on_call(&call("silent", 20.0));
    e.settle(at(500.0), true);
    e.media_end(at(500.0));
    let got: Vec<_> = e
        .take()
        .into_iter()
        .filter(|a| a.code == "no-rtp")
        .map(|a| (a.severity, a.call_id))
        .collect();
    assert_eq!(got, [(Severity::Critical, Some("silent".to_string()))]);
}

/// A User-Agent names a scanner whatever the case of either side, and the kept verdicts answer
/// as the first reading did, also once the table has started again.
#[test]
fn scanner_agents_ignore_case_and_keep_their_verdicts() {
    let names = [
        "friendly-scanner".to_string(),
        "VaxSIPUserAgent".to_string(),
    ];
    let mut a = super::scanner::Agents::new(&names);
    let ua = |s: &str| -> std::sync::Arc<str> { s.into() };
    for _ in 0..2 {
        assert!(a.is_scanner(&ua("Friendly-Scanner 1.0")));
        assert!(a.is_scanner(&ua("vaxsipuseragent/3.1")));
        assert!(!a.is_scanner(&ua("Zoiper rv2.10")));
        assert!(!a.is_scanner(&ua("friendly-scan")));
    }
    for i in 0..5000 {
        let text = format!("agent {i}");
        assert!(!a.is_scanner(&ua(&text)), "{text}");
    }
    assert!(a.is_scanner(&ua("x FRIENDLY-SCANNER")));
    assert!(!a.is_scanner(&ua("agent 1")));
    // An empty name matches every agent, as a substring test says.
    let mut all = super::scanner::Agents::new(&[String::new()]);
    assert!(all.is_scanner(&ua("anything")));
}
