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
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Capture(e) => e.fmt(f),
            RunError::Output(e) => e.fmt(f),
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
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub run: RunStats,
    pub session: SessionStats,
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
            s.reassembly.ws_errors,
            "WebSocket frames refused (protocol errors; their message lost)",
        );
        say(
            s.reassembly.cut_by_budget,
            "partial TCP messages dropped to keep stream buffers within their byte budget",
        );
        say(
            s.ts_outliers,
            "frames stamped more than an hour ahead of the rest (clock glitch; timers ignore them)",
        );
        say(
            s.correlate.calls_evicted,
            "calls evicted early from a full table (still reported)",
        );
        say(
            s.rtp.evicted,
            "RTP streams finished early from a full stream table (a later packet starts a new stream)",
        );
        say(s.sip_rejected, "SIP-looking payloads that did not parse");
        say(s.decode.unknown_link, "frames of an unknown link type");
        let ss = &r.session;
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
    })
}
