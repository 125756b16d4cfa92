//! Running a session: the pipeline over a source into one sink, what the run counted, what it
//! lost (said to the user), and why it failed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{Session, SessionConfig, SessionStats, Sink};
use crate::capture::{CaptureError, Source};
use crate::output::OutputError;
use crate::pipeline::{self, PipelineConfig, Progress, RunStats};

/// Why a run failed.
#[derive(Debug)]
pub enum RunError {
    Capture(CaptureError),
    Output(OutputError),
    /// The run went through, but what was asked for (a Call-ID) matched nothing: said, and the
    /// command fails (exit 1). The run's report is kept for its warnings.
    NoMatch(Box<Report>, String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Capture(e) => e.fmt(f),
            RunError::Output(e) => e.fmt(f),
            RunError::NoMatch(_, what) => f.write_str(what),
        }
    }
}

impl std::error::Error for RunError {}

impl From<CaptureError> for RunError {
    fn from(e: CaptureError) -> Self {
        RunError::Capture(e)
    }
}

impl From<OutputError> for RunError {
    fn from(e: OutputError) -> Self {
        RunError::Output(e)
    }
}

impl From<std::io::Error> for RunError {
    fn from(e: std::io::Error) -> Self {
        RunError::Output(OutputError::from(e))
    }
}

/// What a run counted: the pipeline's stages and the session.
///
/// Contract: every counter of data lost, dropped, skipped, evicted, truncated or left unparsed,
/// here or in a struct it holds, yields a line of [`Report::warnings`] when it is not zero; the
/// test `every_loss_counter_is_said` fails when a counter is added without being said there (or
/// listed, with its reason, as not a loss).
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub run: RunStats,
    pub session: SessionStats,
    /// What the HEP sender (`monitor --hep-out`) sent and lost.
    pub hep_out: crate::hep::sender::HepOutStats,
    /// What the command itself had to leave out within its own bounds (the report's message
    /// hold, the statistics tables' bounds), each a whole sentence, said with the rest.
    pub notes: Vec<String>,
}

impl Report {
    /// What the run lost or doubted, for stderr: every drop is said, never hidden.
    pub fn warnings(&self) -> Vec<String> {
        let r = self;
        let s = &r.run;
        let mut w = Vec::new();
        for e in &s.capture.stopped_early {
            w.push(format!("stopped early: {e}"));
        }
        let mut say = |n: u64, what: &str| {
            if n > 0 {
                w.push(format!("{n} {what}"));
            }
        };
        say(
            s.capture.dropped_kernel,
            "packets dropped by the kernel (capture loss)",
        );
        say(
            s.capture.dropped_interface,
            "packets dropped by the interface",
        );
        say(
            s.capture.dropped_behind,
            "live packets dropped because the analysis was behind (capture loss)",
        );
        say(s.capture.truncated_frames, "frames cut by the snap length");
        say(
            s.bpf_uncompiled,
            "frames left out: the --bpf filter does not compile for their link type",
        );
        say(
            s.capture.unknown_interface,
            "pcapng packets skipped: they name an interface the file never declared (link type unknown)",
        );
        say(
            s.capture.bad_tsresol,
            "pcapng interfaces with an unusable time resolution (if_tsresol; their times read as microseconds)",
        );
        say(
            s.capture.bad_subsecond,
            "frames with an out-of-range sub-second time field (clamped to the end of their second)",
        );
        say(
            s.capture.skipped_bytes,
            "bytes past the end of a NetMon file's frame table skipped (nothing there is a frame)",
        );
        say(
            s.decode.ip_frag_incomplete,
            "IP datagrams never completed (fragments missing)",
        );
        say(
            s.decode.ip_frag_evicted,
            "IP datagrams evicted from a full fragment table (count or byte budget)",
        );
        say(
            s.decode.ip_frag_too_large,
            "IP datagrams dropped: a fragment ends past 65,535 bytes",
        );
        say(
            s.decode.ip_frag_bad,
            "IP datagrams dropped: fragments contradict each other or are too many",
        );
        say(
            s.reassembly.tcp.gaps,
            &format!(
                "gaps in TCP streams ({} bytes never seen: lost by the capture, or a hole given up when its direction's out-of-order buffer filled)",
                s.reassembly.tcp.gap_bytes
            ),
        );
        say(
            s.reassembly.framing.cut_by_gap,
            "SIP messages cut by a TCP gap (lost)",
        );
        say(
            s.reassembly.framing.incomplete_at_end,
            "incomplete SIP messages at the end of a TCP stream",
        );
        say(
            s.reassembly.framing.oversized,
            "oversized SIP messages skipped",
        );
        say(
            s.reassembly.flows_evicted,
            "TCP connections evicted from a full table",
        );
        say(s.reassembly.hep_errors, "damaged HEP packets");
        say(
            s.capture.hep_rejected,
            "HEP packets received and refused: not valid HEPv3 (framing, or a chunk of the wrong size)",
        );
        say(
            s.capture.hep_auth_failed,
            "HEP packets received and refused: wrong or missing --hep-password",
        );
        say(
            s.capture.hep_dropped_full,
            "HEP packets received and dropped because the analysis was behind (capture loss)",
        );
        say(
            s.capture.hep_connections_refused,
            "HEP TCP connections refused: too many agents connected at once",
        );
        let h = &r.hep_out;
        say(
            h.dropped_full,
            "HEP packets not sent: the queue to the collector was full (collector slow or down)",
        );
        say(
            h.too_large,
            "HEP packets not sent: too large for HEP or for one UDP datagram",
        );
        say(
            h.send_failed,
            "HEP packets not sent: the system refused to send them (collector unreachable)",
        );
        say(
            h.unsent_at_exit,
            "HEP packets still queued at exit and not sent (collector slow or down)",
        );
        say(
            h.links_forgotten,
            "B2BUA leg links HEP out forgot to stay within its bound (later messages of those legs sent without a correlation id)",
        );
        say(
            s.reassembly.ws_errors,
            "WebSocket frames refused (protocol errors; their message lost)",
        );
        say(
            s.reassembly.cut_by_budget,
            &format!(
                "partial TCP messages dropped to keep stream buffers within their byte budget ({} bytes held let go)",
                s.reassembly.cut_by_budget_bytes
            ),
        );
        say(
            s.ts_outliers,
            "frames stamped more than an hour ahead of the rest (clock glitch; timers and durations ignore them)",
        );
        say(
            s.ts_behind,
            "frames stamped more than an hour before the rest (clock glitch; timers and durations ignore them)",
        );
        say(
            s.capture.out_of_order_ts,
            "frames stamped earlier than the frame before them (out of order)",
        );
        say(
            s.correlate.calls_evicted,
            "calls evicted early from a full table of live calls (still reported; --max-live-calls raises the bound)",
        );
        say(
            s.rtp.evicted,
            "RTP streams finished early from a full stream table (a later packet starts a new stream)",
        );
        say(s.sip_rejected, "SIP-looking payloads that did not parse");
        say(s.decode.unknown_link, "frames of an unknown link type");
        // Decode, reassembly and media losses not said above.
        say(
            s.decode.malformed,
            "frames with a broken link-layer, IP or transport header (not decoded)",
        );
        say(
            s.decode.gtpu.malformed,
            "datagrams on the GTP-U port (2152) with a damaged GTP-U header (what they carry not decoded)",
        );
        say(
            s.decode.gtpu.teids_untracked,
            "GTP-U packets whose tunnel id found no room in the full TEID table (the distinct TEID count in --stats is a lower bound)",
        );
        let sc = &s.reassembly.sctp;
        say(
            sc.incomplete,
            "fragmented SCTP messages never completed (a fragment lost, or the association ended first)",
        );
        say(
            sc.cut_by_budget,
            &format!(
                "SCTP associations whose partial messages were dropped to keep within their byte budget ({} bytes let go)",
                sc.cut_by_budget_bytes
            ),
        );
        say(
            sc.assoc_evicted,
            "SCTP associations evicted from a full table (their partial messages lost)",
        );
        say(
            sc.malformed,
            "SCTP chunks with an impossible length or empty DATA (the rest of their packet not read)",
        );
        say(
            sc.idata_chunks,
            "SCTP I-DATA chunks (RFC 8260) not decoded (any SIP in them not seen)",
        );
        say(
            s.decode.too_deep,
            "frames inside more tunnels or tags than are unwrapped (not decoded)",
        );
        say(
            s.reassembly.framing.skipped_bytes,
            "bytes of TCP streams skipped while looking for a SIP start line (after a gap, or not SIP)",
        );
        say(
            s.rtp.rtcp_evicted,
            "RTCP reports not kept: the table of reported streams was full (those streams show no RTCP figures)",
        );
        say(
            s.rtp.series_dropped,
            "points of --series beyond its bound per stream, not kept (use a longer --series interval)",
        );
        let ss = &r.session;
        say(
            ss.late_streams,
            "RTP streams ended after their call was written (not in its MOS/loss figures)",
        );
        say(
            ss.detector_evicted,
            "entries the alert detectors dropped from their full tables (alerts about them may be missed)",
        );
        say(
            ss.waiting_dropped,
            "RTP streams or alerts that found no room to wait for their call (not joined to it)",
        );
        say(
            ss.legs_capped,
            "B2BUA leg links not made: a session key shared by too many calls, or a call naming too many legs",
        );
        say(
            ss.media_dropped,
            "SDP media announcements not indexed (the media index was full)",
        );
        say(
            ss.held_released_early,
            "closed calls released early from a full hold (a later stream or leg of theirs is not joined)",
        );
        say(
            ss.verdicts_dropped,
            "closed calls forgotten early (a later stream or alert of theirs is judged unfiltered)",
        );
        say(
            s.reassembly.tls.early_data,
            "TLS 1.3 early-data records not decrypted (0-RTT)",
        );
        say(
            s.tls_keys.evicted,
            "TLS secrets dropped from a full key table (connections they open later are not decrypted)",
        );
        say(
            s.tls_keys.bad_lines,
            "key log lines not understood (neither a comment nor a known label with hex values)",
        );
        say(
            s.tls_keys.read_errors,
            "key log files that could not be read again as they grew",
        );
        // What could not be seen: TLS connections not decrypted, by reason, then where.
        let t = &s.reassembly.tls;
        for (n, why) in [
            (t.no_key, "no key for them (give the key log with --tls-keylog, or a pcapng with its secrets)"),
            (t.unsupported, "a TLS version or cipher suite not decrypted"),
            (t.no_handshake, "their handshake is not in the capture"),
            (t.gap, "a gap in the stream (lost segments)"),
            (t.bad_record, "a record failed to authenticate (wrong keys) or was damaged"),
        ] {
            if n > 0 {
                let conns = if n == 1 { "connection" } else { "connections" };
                w.push(format!(
                    "{n} TLS {conns} not decrypted: {why}; any SIP in them is not in this output"
                ));
            }
        }
        if !t.by_port.is_empty() {
            let ports: Vec<String> = t
                .by_port
                .iter()
                .map(|(p, n)| match p {
                    0 => format!("other ports: {n}"),
                    p => format!("port {p}: {n}"),
                })
                .collect();
            w.push(format!(
                "TLS connections not decrypted, by server port: {}",
                ports.join(", ")
            ));
        }
        if s.interrupted {
            w.push(match s.last_ts {
                Some(t) => format!(
                    "interrupted: the output is partial, up to capture time {t} (the rest of the input was not read)"
                ),
                None => "interrupted before any frame was read".into(),
            });
        }
        w.extend(r.notes.iter().cloned());
        w
    }
}

/// Runs the pipeline over `source` into `sink` through a session: the sink's needs choose the
/// pipeline's work. A sink error stops the reading (outputs already read are drained).
pub fn run(
    source: Box<dyn Source>,
    pipeline: &PipelineConfig,
    cfg: SessionConfig,
    stop: Arc<AtomicBool>,
    progress: Option<Progress>,
    sink: &mut dyn Sink,
) -> Result<Report, RunError> {
    let needs = sink.needs();
    let mut pcfg = pipeline.clone();
    needs.configure(&mut pcfg);
    let mut session = Session::new(cfg, needs);
    let mut failed: Option<OutputError> = None;
    let stop2 = stop.clone();
    let run = pipeline::run(source, &pcfg, stop, progress, |o| {
        if failed.is_none() {
            if let Err(e) = session.output(o, sink) {
                failed = Some(e);
                stop2.store(true, Ordering::Relaxed);
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    session.finish(&run, sink)?;
    Ok(Report {
        run,
        session: session.stats.clone(),
        hep_out: Default::default(),
        notes: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The leaves of `{:#?}` of a report, as paths (`run.capture.frames`): every field of every
    /// stats struct, found without a list to keep up to date.
    fn leaves(r: &Report) -> Vec<String> {
        let mut path: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for line in format!("{r:#?}").lines().skip(1) {
            let t = line.trim();
            if t.starts_with('}') {
                path.pop();
            } else if let Some((name, value)) = t.split_once(": ") {
                if value.ends_with('{') {
                    path.push(name.to_string());
                } else {
                    let mut p = path.clone();
                    p.push(name.to_string());
                    out.push(p.join("."));
                }
            }
        }
        out
    }

    /// `path = value;` entries: the path as text and a setter.
    macro_rules! fields {
        ($($($f:ident).+ = $v:expr;)*) => {
            vec![$((
                concat!($(stringify!($f), "."),+).trim_end_matches('.'),
                Box::new(|r: &mut Report| r.$($f).+ = $v) as Box<dyn Fn(&mut Report)>,
            )),*]
        };
    }

    /// Each counter of a loss, alone at 7 (or set), says a line of its own; the counters said
    /// inside another's line show their figure there; every other field is listed as not a
    /// loss, with its reason. A field added to any stats struct lands in none of the lists
    /// and fails here until it is said in `Report::warnings` or listed below.
    #[test]
    fn every_loss_counter_is_said() {
        let losses = fields! {
            run.capture.stopped_early = vec!["record 9 cut short".into()];
            run.capture.dropped_kernel = 7;
            run.capture.dropped_interface = 7;
            run.capture.dropped_behind = 7;
            run.capture.truncated_frames = 7;
            run.decode.unknown_link = 7;
            run.decode.malformed = 7;
            run.decode.too_deep = 7;
            run.decode.gtpu.malformed = 7;
            run.decode.gtpu.teids_untracked = 7;
            run.reassembly.sctp.incomplete = 7;
            run.reassembly.sctp.cut_by_budget = 7;
            run.reassembly.sctp.assoc_evicted = 7;
            run.reassembly.sctp.malformed = 7;
            run.reassembly.sctp.idata_chunks = 7;
            run.decode.ip_frag_incomplete = 7;
            run.decode.ip_frag_evicted = 7;
            run.decode.ip_frag_too_large = 7;
            run.decode.ip_frag_bad = 7;
            run.reassembly.tcp.gaps = 7;
            run.reassembly.framing.skipped_bytes = 7;
            run.reassembly.framing.cut_by_gap = 7;
            run.reassembly.framing.oversized = 7;
            run.reassembly.framing.incomplete_at_end = 7;
            run.reassembly.flows_evicted = 7;
            run.reassembly.hep_errors = 7;
            run.capture.hep_rejected = 7;
            run.capture.hep_auth_failed = 7;
            run.capture.hep_dropped_full = 7;
            run.capture.hep_connections_refused = 7;
            hep_out.dropped_full = 7;
            hep_out.too_large = 7;
            hep_out.send_failed = 7;
            hep_out.unsent_at_exit = 7;
            hep_out.links_forgotten = 7;
            run.reassembly.ws_errors = 7;
            run.reassembly.cut_by_budget = 7;
            run.correlate.calls_evicted = 7;
            run.rtp.evicted = 7;
            run.rtp.rtcp_evicted = 7;
            run.rtp.series_dropped = 7;
            run.sip_rejected = 7;
            run.ts_outliers = 7;
            run.ts_behind = 7;
            run.capture.out_of_order_ts = 7;
            run.capture.unknown_interface = 7;
            run.capture.bad_tsresol = 7;
            run.capture.bad_subsecond = 7;
            run.capture.skipped_bytes = 7;
            run.bpf_uncompiled = 7;
            run.reassembly.tls.no_key = 7;
            run.reassembly.tls.unsupported = 7;
            run.reassembly.tls.no_handshake = 7;
            run.reassembly.tls.gap = 7;
            run.reassembly.tls.bad_record = 7;
            run.reassembly.tls.early_data = 7;
            run.reassembly.tls.by_port = [(5061, 7)].into_iter().collect();
            run.tls_keys.evicted = 7;
            run.tls_keys.bad_lines = 7;
            run.tls_keys.read_errors = 7;
            run.interrupted = true;
            session.late_streams = 7;
            session.waiting_dropped = 7;
            session.legs_capped = 7;
            session.media_dropped = 7;
            session.verdicts_dropped = 7;
            session.held_released_early = 7;
            session.detector_evicted = 7;
            notes = vec!["7 call sections without their messages".into()];
        };
        // (field, the loss whose line says it): set with its owner at 7, its figure (12345)
        // must show in the warnings, or the owner's line must stand for the same event.
        let said_with = fields! {
            run.reassembly.tcp.gap_bytes = 12345;
            run.reassembly.cut_by_budget_bytes = 12345;
            run.reassembly.sctp.cut_by_budget_bytes = 12345;
            // The same frames as ws_errors (summed at the end of a connection).
            run.reassembly.ws.errors = 12345;
            // Parts of the cuts counted by reassembly.cut_by_budget.
            run.reassembly.framing.cut_by_budget = 12345;
            run.reassembly.ws.cut = 12345;
        };
        let owners = [
            (
                "run.reassembly.tcp.gap_bytes",
                "run.reassembly.tcp.gaps",
                true,
            ),
            (
                "run.reassembly.cut_by_budget_bytes",
                "run.reassembly.cut_by_budget",
                true,
            ),
            (
                "run.reassembly.sctp.cut_by_budget_bytes",
                "run.reassembly.sctp.cut_by_budget",
                true,
            ),
            (
                "run.reassembly.ws.errors",
                "run.reassembly.ws_errors",
                false,
            ),
            (
                "run.reassembly.framing.cut_by_budget",
                "run.reassembly.cut_by_budget",
                false,
            ),
            (
                "run.reassembly.ws.cut",
                "run.reassembly.cut_by_budget",
                false,
            ),
        ];
        let not_losses = [
            // Volumes.
            "run.capture.frames",
            "run.capture.bytes",
            "run.decode.frames",
            "run.decode.ipv4",
            "run.decode.ipv6",
            "run.decode.vlan_tagged",
            "run.decode.tunnelled",
            "run.decode.udp",
            "run.decode.tcp",
            "run.decode.icmp",
            "run.decode.ip_fragments",
            "run.decode.ip_reassembled",
            "run.decode.gtpu.decoded",
            "run.decode.sctp",
            "run.reassembly.sctp.packets",
            "run.reassembly.sctp.data_chunks",
            "run.reassembly.sctp.other_chunks",
            "run.reassembly.sctp.messages",
            "run.reassembly.sctp.reassembled",
            "run.reassembly.sctp.sip",
            "run.reassembly.sctp.associations",
            "run.decode.gtpu.teids",
            "run.reassembly.udp_sip",
            "run.reassembly.tcp.segments",
            "run.reassembly.framing.messages",
            "run.reassembly.framing.keepalives",
            "run.reassembly.ws.frames",
            "run.reassembly.ws.control_frames",
            "run.reassembly.ws.close_frames",
            "run.reassembly.ws.masked_frames",
            "run.reassembly.ws.messages",
            "run.reassembly.ws.bytes",
            "run.reassembly.hep_packets",
            "hep_out.sent",
            "hep_out.sent_bytes",
            // Attempts, not data: while no connection is up the queue holds the packets, and
            // what it cannot hold is counted in hep_out.dropped_full.
            "hep_out.reconnects",
            "hep_out.connect_failures",
            "run.reassembly.flows",
            "run.reassembly.tls.connections",
            "run.reassembly.tls.decrypted",
            "run.reassembly.tls.records",
            "run.tls_keys.entries",
            "run.correlate.messages",
            "run.correlate.calls",
            "run.correlate.calls_finished",
            "run.correlate.peak_live_calls",
            "run.rtp.packets",
            "run.rtp.streams",
            "session.calls_closed",
            "run.first_ts",
            "run.last_ts",
            // Traffic that is not SIP or not for us: nothing of SIP lost.
            "run.decode.non_ip",
            "run.decode.other_ip_proto",
            "run.decode.icmp_quoting_sip",
            "run.decode.gtpu.not_gpdu",
            "run.reassembly.sctp.not_sip",
            "run.reassembly.udp_other",
            "run.reassembly.hep_not_sip",
            "run.reassembly.flows_not_sip",
            // Left out on purpose: frames the user's --bpf filter does not match.
            "run.bpf_rejected",
            // Followed, not lost: a capture's clock stepping (confirmed by the next frame).
            "run.ts_steps",
            // Read and used anyway: copies dropped once their bytes were had, order restored,
            // odd but readable encodings.
            "run.decode.ip_frag_overlaps",
            "run.decode.ip_frag_duplicates",
            "run.reassembly.tcp.retransmitted",
            "run.reassembly.sctp.duplicates",
            "run.reassembly.tcp.out_of_order",
            "run.reassembly.tcp.overlaps",
            "run.reassembly.framing.missing_content_length",
            "run.reassembly.ws.reserved_bits",
            "run.reassembly.ws.non_minimal_lengths",
            "run.correlate.retransmissions",
            // Closed normally (idle connections flush what they hold, idle calls are listed).
            "run.reassembly.flows_expired",
            "run.correlate.calls_idle",
            // Messages without a Call-ID are listed (messages, stats), only in no call; the
            // anomalies are counted on the messages and in stats.
            "run.correlate.without_call_id",
            "run.correlate.without_call_id_by_kind",
            "run.correlate.anomalies",
        ];
        let base = Report::default();
        assert!(base.warnings().is_empty(), "{:?}", base.warnings());
        let all = leaves(&base);
        let mut listed: Vec<&str> = losses.iter().map(|(p, _)| *p).collect();
        listed.extend(said_with.iter().map(|(p, _)| *p));
        listed.extend(not_losses);
        for f in &all {
            assert!(
                listed.contains(&f.as_str()),
                "{f}: a new counter: say it in Report::warnings() when it counts a loss (and list \
                 it in `losses` here), or list it in `not_losses` with its reason"
            );
        }
        for l in &listed {
            assert!(all.iter().any(|f| f == l), "{l} is listed but is no field");
        }
        let mut seen = std::collections::HashSet::new();
        for (path, set) in &losses {
            let mut r = Report::default();
            set(&mut r);
            assert_ne!(
                format!("{r:?}"),
                format!("{base:?}"),
                "{path}: the setter changes nothing"
            );
            let w = r.warnings();
            assert_eq!(w.len(), 1, "{path}: {w:?}");
            assert!(
                seen.insert(w[0].clone()),
                "{path}: same line as another: {w:?}"
            );
            if !matches!(*path, "run.interrupted" | "run.capture.stopped_early") {
                assert!(w[0].contains('7'), "{path}: {w:?}");
            }
        }
        for (path, set) in &said_with {
            let (_, owner, figure) = owners.iter().find(|(p, _, _)| p == path).unwrap();
            let (_, set_owner) = losses.iter().find(|(p, _)| p == owner).unwrap();
            let mut r = Report::default();
            set_owner(&mut r);
            let alone = r.warnings();
            set(&mut r);
            let w = r.warnings();
            assert_eq!(w.len(), alone.len(), "{path}: {w:?}");
            if *figure {
                assert!(w.iter().any(|l| l.contains("12345")), "{path}: {w:?}");
            }
        }
    }
}
