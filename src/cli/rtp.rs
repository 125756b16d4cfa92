//! `sipscope rtp`: the RTP streams of a capture, each tied to its call through the SDP offers
//! and answers, like `tshark -z rtp,streams` plus the Call-ID.
//!
//! Streams are found in UDP that is not SIP. By default only streams that an SDP announced (to
//! their destination address and port) are listed; `--rtp-heuristic` lists every RTP-looking
//! flow, as tshark does with `rtp.heuristic_rtp`. A dynamic payload type gets the clock rate of
//! its rtpmap, learned from that SDP after the fact, so the result does not depend on the order
//! threads saw signalling and media.

use std::io::{self, BufWriter, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use sipscope::analysis::rtp::StreamStats;
use sipscope::output::{escape, json, schema, write_csv_row, Format, OutputError, Table};
use sipscope::session::{Event, Needs, Report, Sink};

use super::commands::{drive, RunError};
use super::Config;

/// The table's columns (the Call-ID last, whole). `--format csv` writes the fields of
/// `schema::RTP_STREAMS`.
const HEADERS: [&str; 25] = [
    "start",
    "end",
    "src",
    "dst",
    "ssrc",
    "codec",
    "packets",
    "lost",
    "loss%",
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
    "problems",
    "call-id",
];

fn ms(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_default()
}

/// What RTCP reported about the stream, compactly: the receiver's last loss fraction and jitter,
/// and the XR MOS when sent.
fn rtcp_cell(r: Option<&sipscope::analysis::rtcp::RtcpReport>) -> String {
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
    let pct = s.loss_pct().unwrap_or(0.0);
    let mut problems = Vec::new();
    if s.lost > 0 {
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
        problems.join(" "),
        escape(s.call_id.as_deref().unwrap_or("")),
    ]
}

/// One point of a stream's series: the same names in the table, CSV and JSON.
const SERIES_HEADERS: [&str; 12] = [
    "src",
    "dst",
    "ssrc",
    "start",
    "packets",
    "expected",
    "lost",
    "loss_pct",
    "max_delta_ms",
    "mean_jitter_ms",
    "max_jitter_ms",
    "call_id",
];

fn series_cells(
    s: &StreamStats,
    p: &sipscope::analysis::series::SeriesPoint,
    escaped: bool,
) -> Vec<String> {
    let call_id = s.call_id.as_deref().unwrap_or("");
    vec![
        s.src.to_string(),
        s.dst.to_string(),
        s.ssrc.to_string(),
        p.start.to_string(),
        p.packets.to_string(),
        p.expected.to_string(),
        p.lost.to_string(),
        if p.expected > 0 {
            format!("{:.3}", p.lost as f64 * 100.0 / p.expected as f64)
        } else {
            String::new()
        },
        format!("{:.3}", p.max_delta_ms),
        ms(p.mean_jitter_ms),
        ms(p.max_jitter_ms),
        if escaped {
            escape(call_id)
        } else {
            call_id.to_string()
        },
    ]
}

/// Collects the streams the filter selects (each already tied to its call by the session).
struct Streams {
    heuristic: bool,
    series: Option<sipscope::time::Nanos>,
    streams: Vec<StreamStats>,
}

impl Sink for Streams {
    fn needs(&self) -> Needs {
        Needs {
            media: true,
            series: self.series,
            ..Needs::default()
        }
    }

    fn event(&mut self, e: &Event<'_>, _: bool) -> Result<(), OutputError> {
        if let Event::Stream(s) = e {
            if self.heuristic || s.call_id.is_some() {
                self.streams.push((*s).clone());
            }
        }
        Ok(())
    }
}

pub fn rtp(
    cfg: &Config,
    stop: Arc<AtomicBool>,
    heuristic: bool,
    series: Option<sipscope::time::Nanos>,
) -> Result<Report, RunError> {
    let mut sink = Streams {
        heuristic,
        series,
        streams: Vec::new(),
    };
    let report = drive(cfg, stop, None, &mut sink)?;
    let mut streams = sink.streams;
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
                        if p.expected > 0 {
                            v["loss_pct"] = (p.lost as f64 * 100.0 / p.expected as f64).into();
                        }
                        json::write_line(&mut out, &v)?;
                    }
                }
            }
            Format::Csv => {
                write_csv_row(&mut out, &SERIES_HEADERS.map(String::from))?;
                for s in &streams {
                    for p in &s.series {
                        write_csv_row(&mut out, &series_cells(s, p, false))?;
                    }
                }
            }
            Format::Table => {
                let flexible = vec![false; SERIES_HEADERS.len()];
                let mut t = Table::new(SERIES_HEADERS.to_vec(), flexible);
                for s in &streams {
                    for p in &s.series {
                        t.rows.push(series_cells(s, p, true));
                    }
                }
                t.write(&mut out, sipscope::output::terminal_width())?;
            }
        }
        out.flush().map_err(err)?;
        return Ok(report);
    }
    match cfg.format {
        Format::Json => {
            for s in &streams {
                json::write_line(&mut out, s)?;
            }
        }
        Format::Csv => {
            write_csv_row(&mut out, &schema::names(schema::RTP_STREAMS))?;
            for s in &streams {
                let cells: Vec<String> = schema::stream_row(s).iter().map(schema::text).collect();
                write_csv_row(&mut out, &cells)?;
            }
        }
        Format::Table => {
            // The problems give way first on a narrow terminal; the Call-ID runs, whole.
            let flexible = HEADERS.iter().map(|h| *h == "problems").collect();
            let mut t = Table::new(HEADERS.to_vec(), flexible);
            for s in &streams {
                t.rows.push(cells(s));
            }
            t.write(&mut out, sipscope::output::terminal_width())?;
        }
    }
    out.flush().map_err(err)?;
    Ok(report)
}
