//! `sipscope rtp`: the RTP streams of a capture, each tied to its call through the SDP offers
//! and answers, like `tshark -z rtp,streams` plus the Call-ID.
//!
//! Streams are found in UDP that is not SIP. By default only streams that an SDP announced (to
//! their destination address and port) are listed; `--rtp-heuristic` lists every RTP-looking
//! flow, as tshark does with `rtp.heuristic_rtp`. A dynamic payload type gets the clock rate of
//! its rtpmap, learned from that SDP after the fact, so the result does not depend on the order
//! threads saw signalling and media.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::analysis::rtp::StreamStats;
use crate::correlate::Output;
use crate::output::{escape, write_csv_row, Format, OutputError, Table};
use crate::pipeline::RunStats;

use super::commands::{drive_outputs, RunError};
use super::Config;

/// Ties streams to calls and resolves late-known clock rates: `media` is every SDP media line.
/// Ports are reused from call to call, so a stream belongs to the latest announcement of its
/// address made before its first packet (or the first one, when the SDP came later).
pub fn resolve(streams: &mut [StreamStats], media: &[crate::correlate::MediaInfo]) {
    let mut at: BTreeMap<SocketAddr, Vec<&crate::correlate::MediaInfo>> = BTreeMap::new();
    for m in media {
        at.entry(m.addr).or_default().push(m);
    }
    for list in at.values_mut() {
        list.sort_by_key(|m| (m.ts, m.frame, m.idx));
    }
    let pick = |addr: &SocketAddr, t: crate::time::Ts| {
        let list = at.get(addr)?;
        list.iter()
            .rev()
            .find(|m| m.ts <= t)
            .or(list.first())
            .copied()
    };
    for s in streams.iter_mut() {
        // The receiver's SDP names where RTP goes; symmetric RTP also sends from there.
        let Some(m) = pick(&s.dst, s.first).or_else(|| pick(&s.src, s.first)) else {
            s.resolve_events(None);
            s.score(None);
            continue;
        };
        let event_pt = m
            .payloads
            .iter()
            .find(|(_, _, enc)| enc.eq_ignore_ascii_case("telephone-event"))
            .map(|(pt, _, _)| *pt);
        s.resolve_events(event_pt);
        s.call_id = Some(m.call_id.clone());
        let mut encoding = None;
        if m.addr == s.dst {
            if let Some((_, clock, enc)) =
                m.payloads.iter().find(|(pt, _, _)| *pt == s.payload_type)
            {
                s.resolve_clock(*clock);
                encoding = Some(enc.as_str());
            }
        }
        s.score(encoding);
    }
}

const HEADERS: [&str; 25] = [
    "start",
    "end",
    "source",
    "destination",
    "ssrc",
    "codec",
    "packets",
    "lost",
    "lost%",
    "dup",
    "late",
    "jumps",
    "burst",
    "cn",
    "max delta",
    "mean jitter",
    "max jitter",
    "mos",
    "r",
    "jb mos",
    "rtt",
    "rtcp",
    "dtmf",
    "call-id",
    "problems",
];

fn ms(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_default()
}

/// What RTCP reported about the stream, compactly: the receiver's last loss fraction and jitter,
/// and the XR MOS when sent.
fn rtcp_cell(r: Option<&crate::analysis::rtcp::RtcpReport>) -> String {
    let Some(r) = r else { return String::new() };
    let mut parts = Vec::new();
    if let Some(f) = r.fraction_lost_pct {
        parts.push(format!("lost {f:.1}%"));
    }
    if let Some(j) = r.jitter_ms {
        parts.push(format!("jit {j:.1}"));
    }
    if let Some(x) = &r.xr {
        if (10..=50).contains(&x.mos_lq) {
            parts.push(format!("xr mos {:.1}", f64::from(x.mos_lq) / 10.0));
        }
    }
    parts.join(" ")
}

fn cells(s: &StreamStats) -> Vec<String> {
    let pct = if s.expected > 0 {
        s.lost as f64 * 100.0 / s.expected as f64
    } else {
        0.0
    };
    let mut problems = Vec::new();
    // A stream can lose packets and still show a negative "lost" (duplicates).
    if s.missing() > 0 {
        problems.push("loss");
    }
    if s.duplicates > 0 {
        problems.push("duplicates");
    }
    if s.out_of_order > 0 {
        problems.push("reordering");
    }
    if s.payload_type_changes > 0 {
        problems.push("pt-change");
    }
    // More than 0.5 % of packets too late for a 50 ms fixed buffer.
    if s.late_fixed * 200 > s.packets {
        problems.push("jitter");
    }
    // The receiver says it lost more than 1 % in its last report, whatever we saw here.
    if s
        .rtcp
        .as_ref()
        .and_then(|r| r.fraction_lost_pct)
        .is_some_and(|f| f > 1.0)
    {
        problems.push("rtcp-loss");
    }
    vec![
        s.first.to_string(),
        s.last.to_string(),
        s.src.to_string(),
        s.dst.to_string(),
        format!("{:#010x}", s.ssrc),
        match &s.encoding {
            Some(e) => format!("{e} ({})", s.payload_type),
            None => s.payload_type.to_string(),
        },
        s.packets.to_string(),
        s.lost.to_string(),
        format!("{pct:.1}"),
        s.duplicates.to_string(),
        s.out_of_order.to_string(),
        s.sequence_jumps.to_string(),
        format!("{:.2}", s.burst_ratio),
        s.comfort_noise.to_string(),
        format!("{:.3}", s.max_delta_ms),
        ms(s.mean_jitter_ms),
        ms(s.max_jitter_ms),
        s.mos
            .map(|m| format!("{m:.2}"))
            .unwrap_or_else(|| "-".into()),
        s.r_factor.map(|r| format!("{r:.1}")).unwrap_or_default(),
        match (s.mos_fixed, s.mos_adaptive) {
            (Some(f), Some(a)) => format!("{f:.2}/{a:.2}"),
            _ => String::new(),
        },
        ms(s.rtcp.as_ref().and_then(|r| r.rtt_mean_ms)),
        rtcp_cell(s.rtcp.as_ref()),
        s.dtmf.clone(),
        escape(s.call_id.as_deref().unwrap_or("")),
        problems.join(" "),
    ]
}

pub fn rtp(cfg: &Config, stop: Arc<AtomicBool>, heuristic: bool) -> Result<RunStats, RunError> {
    let mut cfg = cfg.clone();
    cfg.pipeline.reassembly.track_rtp = true;
    cfg.pipeline.correlator.want_media = true;
    let mut streams: Vec<StreamStats> = Vec::new();
    let mut media = Vec::new();
    let stats = drive_outputs(&cfg, stop, |o| {
        match o {
            Output::Rtp(s) => streams.push(*s),
            Output::Media(m) => media.push(*m),
            _ => {}
        }
        Ok(())
    })?;
    resolve(&mut streams, &media);
    streams.retain(|s| heuristic || s.call_id.is_some());
    streams.sort_by_key(|s| (s.first, s.src, s.dst, s.ssrc));
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let err = |e: io::Error| RunError::Output(OutputError::from(e));
    match cfg.format {
        Format::Json => {
            for s in &streams {
                serde_json::to_writer(&mut out, s).map_err(|e| err(io::Error::other(e)))?;
                out.write_all(b"\n").map_err(err)?;
            }
        }
        Format::Csv => {
            write_csv_row(&mut out, &HEADERS.map(String::from))?;
            for s in &streams {
                write_csv_row(&mut out, &cells(s))?;
            }
        }
        Format::Table => {
            // The Call-ID column gives way first on a narrow terminal.
            let flexible = HEADERS.iter().map(|h| *h == "call-id").collect();
            let mut t = Table::new(HEADERS.to_vec(), flexible);
            for s in &streams {
                t.rows.push(cells(s));
            }
            t.write(&mut out, crate::output::terminal_width())?;
        }
    }
    out.flush().map_err(err)?;
    Ok(stats)
}
