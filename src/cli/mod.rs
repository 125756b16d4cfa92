//! Command-line options (clap) turned into a validated [`Config`] in one place; no clap type
//! leaks past this module.

pub mod commands;
pub mod export;
pub mod ladder;
pub mod monitor;
pub mod report;
pub mod rtp;
pub mod stats;
pub mod tui;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use regex::Regex;

use sipscope::capture::live::LiveOptions;
use sipscope::correlate::record::Outcome;
use sipscope::hep::listen::{ListenOptions, ListenSpec};
use sipscope::output::Format;
use sipscope::pipeline::PipelineConfig;
pub use sipscope::session::Filter;
use sipscope::time::Ts;

#[derive(Parser, Debug)]
#[command(
    name = "sipscope",
    version,
    about = "SIP traffic analyzer: capture, reassemble and correlate SIP into calls",
    long_about = None,
    arg_required_else_help = true
)]
pub struct Cli {
    /// List the interfaces live capture can use, then exit.
    #[arg(long, global = true)]
    pub list_interfaces: bool,
    /// Colour in terminal output: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
    /// Print times in the local zone (the system's, or TZ's) with their offset, instead of UTC.
    #[arg(long, global = true)]
    pub local_time: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

static COLOR: std::sync::OnceLock<ColorArg> = std::sync::OnceLock::new();

/// Sets the `--color` choice for the run (once, from main).
pub fn set_color(c: ColorArg) {
    let _ = COLOR.set(c);
}

/// Whether output to a stream may be coloured: `--color always` or `never` decide; `auto` colours
/// a terminal unless `NO_COLOR` is set to anything non-empty (no-color.org). One rule for every
/// command.
pub fn colour_on(to_terminal: bool) -> bool {
    match COLOR.get().copied().unwrap_or(ColorArg::Auto) {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// One line per SIP message: time, addresses, transport, method or status, Call-ID, CSeq.
    Messages(ListArgs),
    /// One line per call: start, duration, from, to, outcome, final status, PDD, messages, legs.
    Calls(CallsArgs),
    /// Every message of one call with its full text.
    Show(ShowArgs),
    /// One line per registration attempt: AOR, contact, expires, challenge, result.
    Registrations(ListArgs),
    /// The ladder (sequence diagram) of a call: text, Mermaid, SVG, PNG or HTML.
    Ladder(LadderArgs),
    /// RTP streams: packets, loss, jitter, MOS and DTMF, each tied to its call by SDP.
    Rtp(RtpArgs),
    /// Signalling statistics: RFC 6076 metrics, ASR/NER/ACD/PDD, outcomes, response codes,
    /// response times, retransmissions, load and registrations, cut by peer, direction and time.
    Stats(StatsArgs),
    /// Watch live (-i) or replay captures in capture time: anomaly alerts as they happen, a
    /// rolling summary, NDJSON files and a Prometheus endpoint.
    Monitor(MonitorArgs),
    /// The anomalies the detectors find in captures, in capture-time order.
    Alerts(AlertsArgs),
    /// A troubleshooting report in a directory: index.html (summary, KPIs, alerts, charts,
    /// network map, call list, ladders of the problem calls), summary.md, and the data tables
    /// in Parquet and CSV.
    Report(ReportArgs),
    /// The frames of chosen calls to a pcap or pcapng file, as read: the SIP of every hop (with
    /// the IP fragments and whole TCP segments that carry it) and the RTP/RTCP tied to the calls
    /// by their SDP, with their original times and link types.
    Export(ExportArgs),
    /// The report's data tables only (calls, legs, transactions, messages, registrations,
    /// rtp_streams, alerts): appended to a partitioned Parquet dataset (--dataset) for DuckDB,
    /// polars or Spark, and/or written to a directory in Parquet and CSV (-o).
    Tables(TablesArgs),
    /// Browse calls in the terminal, live (-i) or from captures: the call list as calls happen,
    /// the ladder and messages of a call, RTP, alerts, registrations and statistics.
    Tui(TuiArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to standard output.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to standard output.
    Man,
}

/// Writes the completion script for `shell`, generated from these definitions (built in memory
/// first: clap_complete panics on a write error such as a closed pipe).
pub fn completions(
    shell: clap_complete::Shell,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    use clap::CommandFactory;
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "sipscope", &mut buf);
    out.write_all(&buf)
}

/// Writes the manual page, generated from these definitions: sipscope(1) with every command's
/// options.
pub fn man(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    clap_mangen::Man::new(cmd.clone()).render(out)?;
    for sub in cmd.get_subcommands() {
        if matches!(sub.get_name(), "completions" | "man" | "help") {
            continue;
        }
        writeln!(
            out,
            ".SH \"SIPSCOPE {}\"",
            sub.get_name().to_ascii_uppercase()
        )?;
        let page = clap_mangen::Man::new(sub.clone());
        page.render_description_section(out)?;
        page.render_options_section(out)?;
    }
    Ok(())
}

#[derive(Args, Debug, Clone)]
pub struct TuiArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub alert: AlertOptions,
    /// Calls kept at most; beyond, the oldest finished call goes first (counted on screen).
    #[arg(long, default_value_t = 100_000)]
    pub max_calls: usize,
    /// Memory, in MiB, for the message texts; beyond, the oldest finished calls let their
    /// messages go (counted on screen).
    #[arg(long, default_value_t = 256)]
    pub text_memory: usize,
    /// Name an endpoint in ladders: `--alias 10.0.0.1=SBC` or `--alias 10.0.0.1:5060=SBC`.
    #[arg(long = "alias")]
    pub aliases: Vec<String>,
    /// Read aliases from a file: one `ADDR=NAME` per line, `#` starts a comment.
    #[arg(long)]
    pub alias_file: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub alert: AlertOptions,
    /// The report's directory (created; files in it are replaced).
    #[arg(short = 'o', long)]
    pub output: PathBuf,
    /// The page's title (default: the capture file names).
    #[arg(long)]
    pub title: Option<String>,
    /// Incidents drawn with a section of their own, the worst first (an incident: problem
    /// calls that failed the same way, drawn once).
    #[arg(long, default_value_t = 100)]
    pub max_calls: usize,
    /// Good calls drawn as a sample.
    #[arg(long, default_value_t = 20)]
    pub sample_good: usize,
    /// Rows of the page's call list (the calls table always has every call).
    #[arg(long, default_value_t = 20_000)]
    pub max_list: usize,
    /// Memory, in MiB, for messages held until their call ends; a call that does not fit keeps
    /// only where its messages were (within as much again, at least 1 MiB) and has its messages
    /// read again from the files if it gets a section.
    #[arg(long, default_value_t = 8)]
    pub hold_memory: usize,
    /// Problem calls (the worst first) given their frames in a capture of their own,
    /// calls/NAME.pcapng, linked from their section (as `sipscope export` writes them); 0 for
    /// none. Only from files (they are read again).
    #[arg(long, default_value_t = 50)]
    pub call_captures: usize,
    #[command(flatten)]
    pub dataset: DatasetArgs,
}

/// Where `report` and `tables` append their tables as a dataset.
#[derive(Args, Debug, Clone, Default)]
pub struct DatasetArgs {
    /// Append the tables to this Hive-partitioned Parquet dataset
    /// (DIR/table=NAME/date=YYYY-MM-DD/part-….parquet; created if new; parts are added, never
    /// replaced; a dataset of another schema is refused).
    #[arg(long, value_name = "DIR")]
    pub dataset: Option<PathBuf>,
    /// The sensor (capture node) that took the captures: the dataset's `sensor` column.
    #[arg(long, value_name = "NAME", requires = "dataset")]
    pub sensor: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct TablesArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub alert: AlertOptions,
    /// Write the tables to this directory as NAME.parquet and NAME.csv (files in it are
    /// replaced).
    #[arg(short = 'o', long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub dataset: DatasetArgs,
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum ExportFormat {
    /// pcapng: one interface per link type.
    Pcapng,
    /// pcap: one link type per file (a call whose frames have two fails).
    Pcap,
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The file to write: OUT.pcap (one link type) or OUT.pcapng (any); every chosen call goes
    /// into it.
    #[arg(short = 'o', long, value_name = "FILE", conflicts_with = "split")]
    pub output: Option<PathBuf>,
    /// One file per chosen call (with the legs it brought) in this directory, named from the
    /// Call-ID with a hash, as `ladder --all` names its files.
    #[arg(long, value_name = "DIR")]
    pub split: Option<PathBuf>,
    /// The format of the files --split writes (with -o the name's extension decides).
    #[arg(long, value_enum, default_value_t = ExportFormat::Pcapng, requires = "split")]
    pub format: ExportFormat,
    /// Also the B2BUA legs linked to each chosen call (by X-Call-ID, Session-ID ..., see
    /// --link-header).
    #[arg(long)]
    pub legs: bool,
    /// Signalling only: leave the calls' RTP and RTCP out.
    #[arg(long)]
    pub no_rtp: bool,
    /// Calls of every kind (REGISTER, OPTIONS, SUBSCRIBE ...), not only INVITE calls, as
    /// `calls --all` lists them (a Call-ID given with --call-id is taken whatever its kind).
    #[arg(long)]
    pub all: bool,
    /// Memory, in MiB, for where the messages of open calls were; a chosen call that does not
    /// fit has its messages found by reading the files once more.
    #[arg(long, default_value_t = 32)]
    pub hold_memory: usize,
}

/// Detector options shared by `monitor` and `alerts`.
#[derive(Args, Debug, Clone)]
pub struct AlertOptions {
    /// Thresholds from a TOML file (keys as in `Thresholds`: min_mos, max_loss_pct,
    /// transaction_timeout_s, window_s, scanner_agents ...); flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Exit with status 3 if an alert of this severity or worse fired: info, warning, critical.
    #[arg(long)]
    pub fail_on: Option<String>,
    /// poor-quality below this MOS (default 3.6).
    #[arg(long)]
    pub min_mos: Option<f64>,
    /// poor-quality above this loss, % (default 3).
    #[arg(long)]
    pub max_loss: Option<f64>,
    /// poor-quality above this jitter, ms (default 30).
    #[arg(long)]
    pub max_jitter: Option<f64>,
    /// long-pdd beyond this many seconds (default 5).
    #[arg(long)]
    pub long_pdd: Option<f64>,
    /// Timer B/F/H in seconds (default 32).
    #[arg(long)]
    pub transaction_timeout: Option<f64>,
}

#[derive(Args, Debug, Clone)]
pub struct MonitorArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub alert: AlertOptions,
    /// Also write each alert as one JSON object per line to this file (`-`: standard output,
    /// and the human lines go to standard error).
    #[arg(long)]
    pub alerts_json: Option<String>,
    /// A summary every interval of capture time: 10s, 1m ...
    #[arg(long, default_value = "10s")]
    pub interval: String,
    /// Write each summary as one JSON object per line to this file.
    #[arg(long)]
    pub summary_json: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9934).
    #[arg(long)]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Also write what is captured to rotating pcap files in this directory (like tcpdump -w
    /// with -C/-G/-W).
    #[arg(long)]
    pub write: Option<PathBuf>,
    /// Start a new file at this size (100MB, 1GB) or every period of capture time (15m, 1h).
    #[arg(long, default_value = "100MB", requires = "write")]
    pub rotate: String,
    /// Keep only the newest N files.
    #[arg(long, default_value_t = 10, requires = "write")]
    pub keep: usize,
    /// Send every SIP message (and each call's media quality and the alerts) as HEPv3 to a
    /// HOMER collector: udp:HOST:PORT or tcp:HOST:PORT (repeatable).
    #[arg(long = "hep-out", value_name = "udp|tcp:HOST:PORT")]
    pub hep_out: Vec<String>,
    /// The capture node id HEP packets carry (32-bit; HOMER's node).
    #[arg(long = "hep-id", default_value_t = 2001, requires = "hep_out")]
    pub hep_id: u32,
    /// The capture node name HEP packets carry.
    #[arg(long = "hep-name", requires = "hep_out")]
    pub hep_name: Option<String>,
    /// Packets queued for each collector at most (and 32 MiB): past it packets are dropped and
    /// counted, never waited for.
    #[arg(long = "hep-queue", default_value_t = 20_000, requires = "hep_out")]
    pub hep_queue: usize,
}

#[derive(Args, Debug, Clone)]
pub struct AlertsArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub alert: AlertOptions,
    /// Output format. JSON is one object per line.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum StatsFormat {
    /// Aligned tables under their titles.
    Table,
    /// One JSON object per row with a "table" member (with -o: one JSON-lines file per table).
    Json,
    /// CSV, each table after a `# name` line (with -o: one file per table).
    Csv,
    /// Apache Parquet, one file per table (needs -o).
    Parquet,
}

#[derive(Args, Debug, Clone)]
pub struct StatsArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatsFormat::Table)]
    pub format: StatsFormat,
    /// Write one file per table into this directory (ratios, delays, outcomes, messages,
    /// response_times, endpoints, load, registrations, notes).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Name peers (trunks, SBCs, customers) and cut by them: a file of `CIDR=NAME`,
    /// `ADDR=NAME` or `ADDR:PORT=NAME` lines, `#` starts a comment.
    #[arg(long)]
    pub peers: Option<PathBuf>,
    /// Local networks (CIDR; repeatable or comma-separated): cut by direction, in, out,
    /// internal or transit.
    #[arg(long)]
    pub local: Vec<String>,
    /// Cut by time bucket of this length: 30s, 1m, 15m, 1h, 1d.
    #[arg(long)]
    pub interval: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct RtpArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Output format. JSON is one object per line.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
    /// Also list RTP-looking UDP flows that no SDP announced.
    #[arg(long)]
    pub rtp_heuristic: bool,
    /// List each stream over time instead, one row per interval of this length (1s, 10s, 1m):
    /// packets, expected, lost, max delta and jitter.
    #[arg(long)]
    pub series: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Output format. JSON is one object per line.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum LadderFormat {
    /// Terminal text (Unicode box drawing, colours on a terminal).
    Text,
    /// A Mermaid sequenceDiagram for Markdown tickets.
    Mermaid,
    /// An SVG drawing (plotters).
    Svg,
    /// A PNG image of the same drawing (needs -o).
    Png,
    /// One self-contained HTML page: click an arrow to read the message.
    Html,
}

#[derive(Args, Debug, Clone)]
pub struct LadderArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Ladder format [default: from -o FILE's extension (.svg, .png, .html, .mmd), else text].
    #[arg(long, value_enum)]
    pub format: Option<LadderFormat>,
    /// Write to this file (with --all: into this directory, one file per call).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Every call the filters select, one file each (needs -o DIR).
    #[arg(long)]
    pub all: bool,
    /// Merge the B2BUA legs linked to the call into one ladder.
    #[arg(long)]
    pub legs: bool,
    /// One column per host instead of per IP:port.
    #[arg(long)]
    pub by_host: bool,
    /// Name an endpoint: `--alias 10.0.0.1=SBC` or `--alias 10.0.0.1:5060=SBC` (repeatable).
    #[arg(long = "alias")]
    pub aliases: Vec<String>,
    /// Read aliases from a file: one `ADDR=NAME` per line, `#` starts a comment.
    #[arg(long)]
    pub alias_file: Option<PathBuf>,
    /// Plain ASCII instead of Unicode box drawing.
    #[arg(long)]
    pub ascii: bool,
    /// Print each message's text under its arrow.
    #[arg(long)]
    pub verbose: bool,
}

#[derive(Args, Debug, Clone)]
pub struct CallsArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Output format. JSON is one object per line.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
    /// Also list Call-IDs that carry no INVITE (REGISTER, OPTIONS, SUBSCRIBE, MESSAGE ...).
    #[arg(long)]
    pub all: bool,
    /// Skip the RTP analysis (no MOS and loss columns; faster on captures full of media).
    #[arg(long)]
    pub no_rtp: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ShowArgs {
    /// The Call-ID to show; or give it with --call-id as `ladder` does, and every argument is a
    /// capture file.
    pub show_call_id: String,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Output format: the messages as text (table), or JSON with their text.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum FormatArg {
    Table,
    Json,
    Csv,
}

#[derive(Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// Capture files (pcap, pcapng, gzip-compressed); `-` reads standard input. Several files are
    /// merged in time order.
    pub files: Vec<PathBuf>,
    /// A capture file, as tcpdump and tshark spell it (repeatable; the same as naming it).
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Vec<PathBuf>,
    /// Capture live from this interface (`any` for all).
    #[arg(short = 'i', long = "interface")]
    pub interface: Option<String>,
    /// BPF filter (tcpdump syntax): given to the kernel live, applied to each frame read from
    /// files (frames keep their numbers).
    #[arg(short = 'f', long = "bpf")]
    pub bpf: Option<String>,
    /// Bytes to capture per packet (live).
    #[arg(long, default_value_t = 262_144)]
    pub snaplen: i32,
    /// Do not put the interface in promiscuous mode (live).
    #[arg(long)]
    pub no_promisc: bool,
    /// Stop live capture after this many seconds.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Stop after this many frames (that pass --bpf), live or from files.
    #[arg(short = 'c', long)]
    pub count: Option<u64>,
    /// Live calls held at most (default 100000, about 3 KB each): past it the least recently
    /// active call is finished early, still reported, and the eviction is said.
    #[arg(long, value_name = "N")]
    pub max_live_calls: Option<usize>,
    /// Threads for decoding (correlation uses half as many); the output is the same for any count.
    #[arg(long)]
    pub threads: Option<usize>,
    /// UDP/TCP ports carrying HEPv3 (repeatable; default 9060).
    #[arg(long = "hep-port")]
    pub hep_ports: Vec<u16>,
    /// Receive HEPv3 from capture agents (Kamailio siptrace, heplify, sipscope --hep-out) on
    /// udp:ADDR:PORT or tcp:ADDR:PORT instead of capturing (repeatable); live, until Ctrl-C or
    /// --duration.
    #[arg(long = "hep-listen", value_name = "udp|tcp:ADDR:PORT")]
    pub hep_listen: Vec<String>,
    /// The HEP password (authentication key): packets received without it are refused
    /// (--hep-listen), packets sent carry it (--hep-out).
    #[arg(long = "hep-password")]
    pub hep_password: Option<String>,
    /// Only messages and calls from this HEP capture node (its capture id).
    #[arg(long)]
    pub node: Option<u32>,
    /// A TLS key log (NSS format, as SSLKEYLOGFILE writes it): SIP over TLS and WSS is
    /// decrypted with its secrets (repeatable). Live, the file is read again as it grows. A
    /// pcapng with its secrets inside (editcap --inject-secrets) needs no flag.
    #[arg(long = "tls-keylog", value_name = "FILE")]
    pub tls_keylog: Vec<PathBuf>,
    /// Headers that link B2BUA legs (repeatable; default X-Call-ID, X-CID, X-Orig-Call-ID,
    /// Session-ID, P-Charging-Vector).
    #[arg(long = "link-header")]
    pub link_headers: Vec<String>,
    /// Only this Call-ID.
    #[arg(long)]
    pub call_id: Option<String>,
    /// Only messages/calls whose From user matches this regular expression.
    #[arg(long)]
    pub from: Option<String>,
    /// Only messages/calls whose To user matches this regular expression.
    #[arg(long)]
    pub to: Option<String>,
    /// Only this method (a response matches by its CSeq method).
    #[arg(long)]
    pub method: Option<String>,
    /// Only messages to or from this IP address (for calls: any message of the call).
    #[arg(long)]
    pub addr: Option<std::net::IpAddr>,
    /// Only from this capture time on (RFC 3339: 2024-05-01T10:00:00Z, 2024-05-01T12:00:00+02:00;
    /// no offset means UTC; or epoch seconds).
    #[arg(long)]
    pub since: Option<String>,
    /// Only up to this capture time.
    #[arg(long)]
    pub until: Option<String>,
    /// Only calls with this outcome, and their streams and alerts (answered, busy, no-answer,
    /// rejected, cancelled, redirected, auth-failed, server-failure, timeout, in-progress).
    #[arg(long)]
    pub outcome: Option<String>,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Print every counter of the run to stderr at the end.
    #[arg(long)]
    pub stats: bool,
}

/// Where frames come from.
#[derive(Clone, Debug)]
pub enum Input {
    Files(Vec<PathBuf>),
    Live(LiveOptions),
    /// HEPv3 received from capture agents (`--hep-listen`).
    Hep(ListenOptions),
}

impl Input {
    /// Frames arrive in real time (an interface or a HEP listener).
    pub fn is_live(&self) -> bool {
        !matches!(self, Input::Files(_))
    }
}

/// Everything a command needs, validated.
#[derive(Clone, Debug)]
pub struct Config {
    pub input: Input,
    pub format: Format,
    pub filter: Filter,
    pub pipeline: PipelineConfig,
    pub progress: bool,
    pub stats: bool,
}

/// A user mistake in the options, reported with what was wrong.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn regex(what: &str, s: &Option<String>) -> Result<Option<Regex>, UsageError> {
    s.as_deref()
        .map(|r| Regex::new(r).map_err(|e| UsageError(format!("bad {what} regex {r:?}: {e}"))))
        .transpose()
}

fn time(what: &str, s: &Option<String>) -> Result<Option<Ts>, UsageError> {
    s.as_deref()
        .map(|t| {
            Ts::parse(t).ok_or_else(|| {
                UsageError(format!(
                    "bad {what} time {t:?}: use RFC 3339 (2024-05-01T10:00:00Z, 2024-05-01T12:00:00+02:00) or epoch seconds"
                ))
            })
        })
        .transpose()
}

impl CommonArgs {
    /// The capture files, named or given with -r.
    pub fn all_files(&self) -> Vec<PathBuf> {
        let mut f = self.files.clone();
        f.extend(self.read.iter().cloned());
        f
    }

    /// `calls`: whether the command lists calls (or what belongs to them); `--outcome` selects
    /// calls, so the commands that print messages or registrations as they come refuse it.
    pub fn config(&self, format: FormatArg, calls: bool) -> Result<Config, UsageError> {
        let files = self.all_files();
        let duration = match self.duration {
            Some(d) if d.is_finite() && d > 0.0 => Some(Duration::from_secs_f64(d)),
            Some(d) => return Err(UsageError(format!("bad --duration {d}"))),
            None => None,
        };
        let sources = usize::from(self.interface.is_some())
            + usize::from(!files.is_empty())
            + usize::from(!self.hep_listen.is_empty());
        if sources > 1 {
            return Err(UsageError(
                "give one input: capture files, --interface or --hep-listen".into(),
            ));
        }
        let input =
            match (&self.interface, files.is_empty()) {
                (None, true) if !self.hep_listen.is_empty() => {
                    let mut specs = Vec::new();
                    for s in &self.hep_listen {
                        let spec = ListenSpec::parse(s)
                            .map_err(|e| UsageError(format!("bad --hep-listen {e}")))?;
                        if spec.addr.port() == 0 {
                            return Err(UsageError(format!("--hep-listen {s}: give a port")));
                        }
                        specs.push(spec);
                    }
                    Input::Hep(ListenOptions {
                        specs,
                        password: self.hep_password.clone(),
                        duration,
                        count: self.count,
                    })
                }
                (Some(_), false) => {
                    return Err(UsageError(
                        "give either capture files or --interface, not both".into(),
                    ))
                }
                (Some(iface), true) => Input::Live(LiveOptions {
                    iface: iface.clone(),
                    bpf: self.bpf.clone(),
                    snaplen: self.snaplen,
                    promisc: !self.no_promisc,
                    duration,
                    count: self.count,
                }),
                (None, true) => return Err(UsageError(
                    "no input: give capture files (or - for stdin), --interface or --hep-listen"
                        .into(),
                )),
                (None, false) => Input::Files(files),
            };
        if self.outcome.is_some() && !calls {
            return Err(UsageError(
                "--outcome selects calls (calls, rtp, alerts, ladder, stats, report, monitor); messages and registrations cannot wait for their call's outcome".into(),
            ));
        }
        let outcome = match self.outcome.as_deref() {
            Some(o) => Some(Outcome::parse(o).ok_or_else(|| {
                UsageError(format!(
                    "unknown outcome {o:?} (answered, busy, no-answer, rejected, cancelled, redirected, auth-failed, server-failure, timeout, in-progress)"
                ))
            })?),
            None => None,
        };
        let filter = Filter {
            call_id: self.call_id.clone(),
            from: regex("--from", &self.from)?,
            to: regex("--to", &self.to)?,
            method: self.method.as_ref().map(|m| m.to_ascii_uppercase()),
            addr: self.addr,
            since: time("--since", &self.since)?,
            until: time("--until", &self.until)?,
            outcome,
            node: self.node,
        };
        let mut pipeline = PipelineConfig::default();
        if let Input::Files(_) = input {
            if let Some(b) = &self.bpf {
                sipscope::capture::bpf::check(b).map_err(UsageError)?;
                pipeline.frame_filter = Some(b.clone());
            }
            if self.count == Some(0) {
                return Err(UsageError("-c must be at least 1".into()));
            }
            pipeline.max_frames = self.count;
        }
        if let Some(t) = self.threads {
            if t == 0 || t > 256 {
                return Err(UsageError(format!("--threads must be 1 to 256, not {t}")));
            }
            pipeline.workers = t;
            pipeline.correlators = t.div_ceil(2);
        }
        if let Some(n) = self.max_live_calls {
            if n == 0 {
                return Err(UsageError("--max-live-calls must be at least 1".into()));
            }
            pipeline.correlator.max_calls = n;
        }
        if !self.hep_ports.is_empty() {
            pipeline.reassembly.hep_ports = self.hep_ports.clone();
        }
        // What the listener receives reaches the pipeline as HEP to its own ports.
        if let Input::Hep(o) = &input {
            for s in &o.specs {
                if !pipeline.reassembly.hep_ports.contains(&s.addr.port()) {
                    pipeline.reassembly.hep_ports.push(s.addr.port());
                }
            }
        }
        if !self.tls_keylog.is_empty() {
            // Live, a connection may open before its secrets are written: it waits for them.
            let keys = sipscope::reassembly::tls::keylog::KeyLog::default()
                .waiting(matches!(input, Input::Live(_)));
            for f in &self.tls_keylog {
                keys.add_file(f).map_err(|e| {
                    UsageError(format!("cannot read --tls-keylog {}: {e}", f.display()))
                })?;
            }
            pipeline.reassembly.tls_keys = Some(std::sync::Arc::new(keys));
        }
        if !self.link_headers.is_empty() {
            pipeline.correlator.link_headers = self.link_headers.clone();
        }
        use std::io::IsTerminal;
        Ok(Config {
            input,
            format: match format {
                FormatArg::Table => Format::Table,
                FormatArg::Json => Format::Json,
                FormatArg::Csv => Format::Csv,
            },
            filter,
            pipeline,
            progress: !self.no_progress && std::io::stderr().is_terminal(),
            stats: self.stats,
        })
    }
}
