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

/// SDP media announcements by address, to tie RTP streams to their calls (RFC 3264: RTP sent to
/// an announced address and port belongs to the announcing call). Ports are reused from call to
/// call, so a stream belongs to the latest announcement of its address made before its first
/// packet (or the first one, when the SDP came later).
#[derive(Default)]
pub struct MediaIndex {
    at: BTreeMap<SocketAddr, Vec<crate::correlate::MediaInfo>>,
    /// The addresses each call announced, so a closed call's announcements can go.
    by_call: std::collections::HashMap<String, Vec<SocketAddr>>,
}

impl MediaIndex {
    pub fn add(&mut self, m: crate::correlate::MediaInfo) {
        let addrs = self.by_call.entry(m.call_id.clone()).or_default();
        if !addrs.contains(&m.addr) {
            addrs.push(m.addr);
        }
        let list = self.at.entry(m.addr).or_default();
        let key = (m.ts, m.frame, m.idx);
        let at = list
            .iter()
            .rposition(|x| (x.ts, x.frame, x.idx) <= key)
            .map_or(0, |p| p + 1);
        list.insert(at, m);
    }

    /// Forgets a closed call's announcements: its streams have all finished by the time its
    /// record arrives (streams expire no later than calls), so the index stays as small as the
    /// set of open calls.
    pub fn forget(&mut self, call_id: &str) {
        let Some(addrs) = self.by_call.remove(call_id) else {
            return;
        };
        for a in addrs {
            if let Some(list) = self.at.get_mut(&a) {
                list.retain(|m| m.call_id != call_id);
                if list.is_empty() {
                    self.at.remove(&a);
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.at.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }

    fn pick(&self, addr: &SocketAddr, t: crate::time::Ts) -> Option<&crate::correlate::MediaInfo> {
        let list = self.at.get(addr)?;
        list.iter().rev().find(|m| m.ts <= t).or(list.first())
    }

    /// The call a stream from `src` to `dst` that began at `first` belongs to.
    pub fn call_of(
        &self,
        src: SocketAddr,
        dst: SocketAddr,
        first: crate::time::Ts,
    ) -> Option<&str> {
        self.pick(&dst, first)
            .or_else(|| self.pick(&src, first))
            .map(|m| m.call_id.as_str())
    }

    /// Ties one stream to its call, learns its clock rate and codec from the SDP, and scores it.
    pub fn resolve(&self, s: &mut StreamStats) {
        // The receiver's SDP names where RTP goes; symmetric RTP also sends from there.
        let Some(m) = self
            .pick(&s.dst, s.first)
            .or_else(|| self.pick(&s.src, s.first))
        else {
            s.resolve_events(None);
            s.score(None);
            return;
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

/// Ties streams to calls and resolves late-known clock rates: `media` is every SDP media line.
pub fn resolve(streams: &mut [StreamStats], media: &[crate::correlate::MediaInfo]) {
    let mut index = MediaIndex::default();
    for m in media {
        index.add(m.clone());
    }
    for s in streams.iter_mut() {
        index.resolve(s);
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
    if s.rtcp
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

const SERIES_HEADERS: [&str; 11] = [
    "stream",
    "ssrc",
    "interval",
    "packets",
    "expected",
    "lost",
    "lost%",
    "max delta",
    "mean jitter",
    "max jitter",
    "call-id",
];

fn series_cells(s: &StreamStats, p: &crate::analysis::series::SeriesPoint) -> Vec<String> {
    vec![
        format!("{} -> {}", s.src, s.dst),
        format!("{:#010x}", s.ssrc),
        p.start.to_string(),
        p.packets.to_string(),
        p.expected.to_string(),
        p.lost.to_string(),
        if p.expected > 0 {
            format!("{:.1}", p.lost as f64 * 100.0 / p.expected as f64)
        } else {
            String::new()
        },
        format!("{:.3}", p.max_delta_ms),
        ms(p.mean_jitter_ms),
        ms(p.max_jitter_ms),
        escape(s.call_id.as_deref().unwrap_or("")),
    ]
}

pub fn rtp(
    cfg: &Config,
    stop: Arc<AtomicBool>,
    heuristic: bool,
    series: Option<crate::time::Nanos>,
) -> Result<RunStats, RunError> {
    let mut cfg = cfg.clone();
    cfg.pipeline.reassembly.track_rtp = true;
    cfg.pipeline.reassembly.rtp_series = series;
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
    if series.is_some() {
        match cfg.format {
            Format::Json => {
                // One object per point, with its stream's identity.
                for s in &streams {
                    for p in &s.series {
                        let mut v =
                            serde_json::to_value(p).map_err(|e| err(io::Error::other(e)))?;
                        v["src"] = s.src.to_string().into();
                        v["dst"] = s.dst.to_string().into();
                        v["ssrc"] = s.ssrc.into();
                        v["call_id"] = s.call_id.clone().into();
                        serde_json::to_writer(&mut out, &v)
                            .map_err(|e| err(io::Error::other(e)))?;
                        out.write_all(b"\n").map_err(err)?;
                    }
                }
            }
            Format::Csv => {
                write_csv_row(&mut out, &SERIES_HEADERS.map(String::from))?;
                for s in &streams {
                    for p in &s.series {
                        let mut c = series_cells(s, p);
                        c[10] = s.call_id.clone().unwrap_or_default();
                        write_csv_row(&mut out, &c)?;
                    }
                }
            }
            Format::Table => {
                let flexible = SERIES_HEADERS.iter().map(|h| *h == "call-id").collect();
                let mut t = Table::new(SERIES_HEADERS.to_vec(), flexible);
                for s in &streams {
                    for p in &s.series {
                        t.rows.push(series_cells(s, p));
                    }
                }
                t.write(&mut out, crate::output::terminal_width())?;
            }
        }
        out.flush().map_err(err)?;
        return Ok(stats);
    }
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
