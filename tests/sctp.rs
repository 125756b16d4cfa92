//! SIP over SCTP against tshark, on a capture of a real SCTP association on loopback
//! (`tests/data/derived/sctp-sip.pcap`, made by `scripts/sctp/make-capture.sh`: the kernel here has
//! no SCTP, so both ends run the userland stack usrsctp over raw IP protocol 132). With SCTP_MAXSEG
//! at 300 octets most messages leave as several DATA fragments, some bundled with SACKs or with
//! each other. `sctp-sip.tsv` is tshark 4.0.17's reading (`-Y sip -T fields -e frame.number -e
//! sip.Method -e sip.Status-Code -e sip.Call-ID -e sip.CSeq`).
//!
//! One difference, on purpose: two user messages carry two SIP messages each (the server's 100
//! and 180 in frame 16, the client's MESSAGE 4 and 5 in frame 21), and tshark's SIP-over-SCTP
//! reads only the first of each; we read both (the 200 OK to MESSAGE 5 in frame 24 shows the
//! second one was on the wire and answered).

use crate::support::{repo, run};

fn rows(text: &str) -> Vec<(u64, String, String, String)> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let what = if c[1].is_empty() { c[2] } else { c[1] };
            (c[0].parse().unwrap(), what.into(), c[3].into(), c[4].into())
        })
        .collect()
}

#[test]
fn sip_over_a_real_sctp_association_matches_tshark() {
    let pcap = repo().join("tests/data/derived/sctp-sip.pcap");
    let truth =
        rows(&std::fs::read_to_string(repo().join("tests/data/derived/sctp-sip.tsv")).unwrap());
    assert_eq!(truth.len(), 13);
    if let Ok(out) = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&pcap)
        .args([
            "-Y",
            "sip",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "sip.Method",
            "-e",
            "sip.Status-Code",
            "-e",
            "sip.Call-ID",
            "-e",
            "sip.CSeq",
        ])
        .output()
    {
        assert_eq!(
            rows(&String::from_utf8(out.stdout).unwrap()),
            truth,
            "tshark reads it differently"
        );
    }
    let r = run(&pcap);
    let ours: Vec<(u64, String, String, String)> = r
        .messages
        .iter()
        .map(|m| {
            (
                m.frame,
                m.method
                    .as_deref()
                    .map(str::to_string)
                    .unwrap_or_else(|| m.status.map(|s| s.to_string()).unwrap_or_default()),
                m.call_id.as_deref().unwrap_or_default().to_string(),
                format!(
                    "{} {}",
                    m.cseq.unwrap_or(0),
                    m.cseq_method.clone().unwrap_or_default()
                ),
            )
        })
        .collect();
    let mut expected = truth.clone();
    let call = "call-sctp@127.0.0.1".to_string();
    expected.push((16, "180".into(), call.clone(), "3 INVITE".into()));
    expected.push((21, "MESSAGE".into(), call, "5 MESSAGE".into()));
    expected.sort_by_key(|e| e.0);
    assert_eq!(ours, expected);
    assert!(r.messages.iter().all(|m| m.transport.as_str() == "sctp"));
    assert!(
        r.messages.iter().all(|m| m.anomalies.is_empty()),
        "{:?}",
        r.messages
    );
    let s = &r.stats.reassembly.sctp;
    assert_eq!((s.sip, s.messages, s.not_sip), (15, 13, 0));
    assert!(s.reassembled >= 5, "{s:?}");
    assert_eq!(
        (s.incomplete, s.malformed, s.duplicates, s.cut_by_budget),
        (0, 0, 0, 0)
    );
    let c = crate::support::call(&r, "call-sctp@127.0.0.1");
    assert_eq!(
        c.outcome,
        Some(sipscope::correlate::record::Outcome::Answered)
    );
}
