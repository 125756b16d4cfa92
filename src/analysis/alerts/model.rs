//! What an alert is: its severity and state, the record printed and written as NDJSON, and the
//! thresholds of every detector (defaults from ALERTS.md; any of them settable in TOML).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::Ts;

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Fired,
    Cleared,
}

/// One alert, as printed and written to NDJSON.
#[derive(Clone, Debug, Serialize)]
pub struct Alert {
    pub code: &'static str,
    pub severity: Severity,
    pub state: State,
    #[serde(rename = "time", serialize_with = "crate::correlate::record::ser_ts")]
    pub ts: Ts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// The endpoint (address or IP) it concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Figures behind it.
    pub evidence: String,
    /// The frame of the message that triggered it, and that message's first line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub hint: &'static str,
}

impl fmt::Display for Alert {
    /// One line; wire text in it is the caller's to escape.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:<8} {}{}",
            self.ts,
            self.severity.as_str(),
            self.code,
            if self.state == State::Cleared {
                " (cleared)"
            } else {
                ""
            }
        )?;
        if let Some(c) = &self.call_id {
            write!(f, " call={c}")?;
        }
        if let Some(e) = &self.endpoint {
            write!(f, " endpoint={e}")?;
        }
        write!(f, ": {}", self.evidence)?;
        if let Some(n) = self.frame {
            write!(f, " [frame {n}]")?;
        }
        write!(f, " — {}", self.hint)
    }
}

/// Every threshold, with the defaults of ALERTS.md; a TOML file may set any of them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Timer B and Timer F (64·T1), seconds.
    pub transaction_timeout_s: f64,
    /// How long a retransmitted 2xx may wait for its ACK (Timer H), seconds.
    pub ack_timeout_s: f64,
    /// Media gone this long with no BYE: missing-bye, seconds.
    pub media_gone_s: f64,
    /// An answered call open longer than this has a missing BYE, seconds (0: no limit).
    pub max_call_s: f64,
    /// Talk time after which missing media is an alert, seconds.
    pub media_after_s: f64,
    /// A gap in a stream this long while the dialog is up: rtp-stopped, seconds.
    pub rtp_gap_s: f64,
    pub max_loss_pct: f64,
    pub max_jitter_ms: f64,
    pub min_mos: f64,
    /// Retransmissions above this share of a sender's messages over the window, %.
    pub retransmission_pct: f64,
    /// Fewest messages in the window before the share is judged.
    pub retransmission_min: u64,
    /// error-spike: a peer's share of error answers (4xx-6xx, challenges and 487 apart) over the
    /// window, against its baseline (the mean share of its earlier windows, once it has one):
    /// this many times the baseline...
    pub error_spike_factor: f64,
    /// ...and at least this many points above it, %...
    pub error_spike_margin_pct: f64,
    /// ...with at least this many errors in the window.
    pub error_spike_min: u64,
    /// Before a peer has a baseline (its first window of capture time, or too few answers in
    /// it): only a share this high is a spike (almost everything fails), %.
    pub error_spike_cold_pct: f64,
    pub long_pdd_s: f64,
    /// 401/403/407 to one source without a success, within the window.
    pub auth_failures: u64,
    /// Distinct users one source was refused for (401/403/404/407/484) within the window...
    pub scanner_targets: u64,
    /// ...while at most this share of the final answers to it were successes, %.
    pub scanner_success_pct: f64,
    /// scanner by sweep: out-of-dialog OPTIONS/REGISTER/INVITE from one source to this many
    /// distinct addresses, or for this many distinct users, within the window, while at most
    /// `scanner_success_pct` of them succeed...
    pub sweep_targets: u64,
    /// ...and at most this many requests per distinct target on average (a sweep asks each
    /// target about once; a keepalive asks the same ones again and again).
    pub sweep_repeat: f64,
    /// User-Agent substrings of known scanners (case-insensitive).
    pub scanner_agents: Vec<String>,
    /// registration-flood by source: more REGISTER requests than this in one second...
    pub registration_rate: u64,
    /// ...and more than this many per distinct AOR over the window (a front-end that registers
    /// many users sends about two per user: the challenge and the answer to it).
    pub registration_per_aor: f64,
    /// registration-flood by AOR: more refreshes than this of one AOR from one source within a
    /// quarter of its expiry (granted, else requested, else 3600 s); a challenge's retry is no
    /// refresh. A UA refreshes once or twice per expiry.
    pub registration_refreshes: u64,
    /// ...the quarter being at least this long, seconds (tiny expiries).
    pub registration_min_span_s: f64,
    /// The sliding window of the rate detectors, seconds.
    pub window_s: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            transaction_timeout_s: 32.0,
            ack_timeout_s: 32.0,
            media_gone_s: 60.0,
            max_call_s: 0.0,
            media_after_s: 5.0,
            rtp_gap_s: 10.0,
            max_loss_pct: 3.0,
            max_jitter_ms: 30.0,
            min_mos: 3.6,
            retransmission_pct: 10.0,
            retransmission_min: 20,
            error_spike_factor: 3.0,
            error_spike_margin_pct: 20.0,
            error_spike_min: 20,
            error_spike_cold_pct: 80.0,
            long_pdd_s: 5.0,
            auth_failures: 5,
            scanner_targets: 10,
            scanner_success_pct: 10.0,
            sweep_targets: 30,
            sweep_repeat: 2.0,
            scanner_agents: [
                "friendly-scanner",
                "sipvicious",
                "sipcli",
                "sipsak",
                "sundayddr",
                "VaxSIPUserAgent",
            ]
            .map(String::from)
            .to_vec(),
            registration_rate: 20,
            registration_per_aor: 4.0,
            registration_refreshes: 3,
            registration_min_span_s: 10.0,
            window_s: 60.0,
        }
    }
}

impl Thresholds {
    pub fn from_toml(text: &str) -> Result<Thresholds, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}
