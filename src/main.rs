//! The `sipscope` binary: parse arguments, run a command, map errors to exit codes.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;

mod alloc;
mod cli;
mod localtime;
use cli::commands::{self, RunError};
use cli::{Cli, Command, FormatArg};
use sipscope::output::OutputError;

/// Exit statuses (README, "Exit status"): 0 ok (also for a closed pipe), 1 runtime failure or
/// nothing matched the Call-ID asked for, 2 usage error, 3 an alert at or above `--fail-on`
/// fired, 130 interrupted (Ctrl-C, SIGTERM: the output is partial).
#[derive(Copy, Clone)]
enum Exit {
    Ok = 0,
    Failure = 1,
    Usage = 2,
    Alerted = 3,
    Interrupted = 130,
}

/// How long the pipeline has to drain after the first Ctrl-C or SIGTERM.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Leaves the process now, with 130 (the shell's code for an interrupted command), saying why;
/// the terminal UI's screen is given back first.
fn exit_now(tui: bool, why: &str) -> ! {
    if tui {
        cli::tui::restore_terminal();
    }
    eprintln!("sipscope: {why}");
    std::process::exit(130)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    alloc::tune(match cli.command {
        Some(Command::Report(_)) | Some(Command::Tables(_)) => alloc::Purge::AtOnce,
        _ => alloc::Purge::Soon,
    });
    cli::set_color(cli.color);
    if cli.local_time {
        sipscope::time::set_local_display(localtime::local_offset);
    }
    ExitCode::from(run(cli) as u8)
}

fn run(cli: Cli) -> Exit {
    if cli.list_interfaces {
        return match sipscope::capture::live::list_interfaces() {
            Ok(list) => {
                for (name, desc) in list {
                    println!("{name}\t{desc}");
                }
                Exit::Ok
            }
            Err(e) => {
                eprintln!("sipscope: {e}");
                Exit::Failure
            }
        };
    }
    let Some(mut command) = cli.command else {
        eprintln!("sipscope: no command (try --help)");
        return Exit::Usage;
    };
    match &command {
        Command::Completions { .. } | Command::Man => {
            let mut out = std::io::stdout();
            let written = match &command {
                Command::Completions { shell } => cli::completions(*shell, &mut out),
                _ => cli::man(&mut out),
            };
            return match written {
                Ok(()) => Exit::Ok,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Ok,
                Err(e) => {
                    eprintln!("sipscope: {e}");
                    Exit::Failure
                }
            };
        }
        _ => {}
    }
    if let Command::Show(a) = &mut command {
        // `show --call-id ID FILE…`, as `ladder` takes it: the first argument is a file too.
        if a.common.call_id.is_some() {
            let first = std::mem::take(&mut a.show_call_id);
            a.common.files.insert(0, first.into());
        }
    }
    let (common, format) = match &command {
        Command::Messages(a) | Command::Registrations(a) => (&a.common, a.format),
        Command::Calls(a) => (&a.common, a.format),
        Command::Show(a) => (&a.common, a.format),
        Command::Ladder(a) => (&a.common, FormatArg::Table),
        Command::Rtp(a) => (&a.common, a.format),
        Command::Stats(a) => (&a.common, FormatArg::Table),
        Command::Monitor(a) => (&a.common, FormatArg::Table),
        Command::Alerts(a) => (&a.common, a.format),
        Command::Report(a) => (&a.common, FormatArg::Table),
        Command::Tables(a) => (&a.common, FormatArg::Table),
        Command::Tui(a) => (&a.common, FormatArg::Table),
        Command::Export(a) => (&a.common, FormatArg::Table),
        Command::Completions { .. } | Command::Man => return Exit::Ok,
    };
    let calls_only = !matches!(
        command,
        Command::Messages(_) | Command::Show(_) | Command::Registrations(_)
    );
    let cfg = match common.config(format, calls_only) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sipscope: {e}");
            return Exit::Usage;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // The first Ctrl-C or SIGTERM stops the input; the pipeline drains and the outputs are
        // written. A stage that does not stop (a read blocked on a silent pipe, a parse gone
        // long) cannot hold the run: if the pipeline has not drained within STOP_GRACE, or at a
        // second signal, the run exits at once with 130.
        let tui = matches!(command, Command::Tui(_));
        let signals = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let _ = ctrlc::set_handler(move || {
            stop.store(true, Ordering::Relaxed);
            if signals.fetch_add(1, Ordering::SeqCst) > 0 {
                exit_now(
                    tui,
                    "second signal: exiting at once (the output is incomplete)",
                );
            }
            std::thread::spawn(move || {
                let began = std::time::Instant::now();
                while began.elapsed() < STOP_GRACE {
                    if sipscope::pipeline::drained() {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                exit_now(
                    tui,
                    "the input did not stop within 2 s of the signal: exiting (the output is incomplete)",
                );
            });
        });
    }
    let mut fail_on = None;
    let mut alerted = None;
    let result = match &command {
        Command::Monitor(a) => {
            let req = cli::monitor::MonitorRequest::from_args(a);
            match req {
                Ok(req) => {
                    fail_on = req.alerts.fail_on;
                    cli::monitor::monitor(&cfg, stop, &req).map(|(r, o)| {
                        alerted = o.worst;
                        r
                    })
                }
                Err(e) => {
                    eprintln!("sipscope: {e}");
                    return Exit::Usage;
                }
            }
        }
        Command::Alerts(a) => match cli::monitor::AlertRequest::from_args(&a.alert) {
            Ok(req) => {
                fail_on = req.fail_on;
                cli::monitor::alerts(&cfg, stop, &req).map(|(r, o)| {
                    alerted = o.worst;
                    r
                })
            }
            Err(e) => {
                eprintln!("sipscope: {e}");
                return Exit::Usage;
            }
        },
        Command::Report(a) => match cli::report::ReportRequest::from_args(a) {
            Ok(req) => {
                fail_on = req.alerts.fail_on;
                cli::report::report(&cfg, stop, &req).map(|(r, o)| {
                    alerted = o.worst;
                    r
                })
            }
            Err(e) => {
                eprintln!("sipscope: {e}");
                return Exit::Usage;
            }
        },
        Command::Tables(a) => match cli::report::TablesRequest::from_args(a) {
            Ok(req) => {
                fail_on = req.alerts.fail_on;
                cli::report::tables(&cfg, stop, &req).map(|(r, o)| {
                    alerted = o.worst;
                    r
                })
            }
            Err(e) => {
                eprintln!("sipscope: {e}");
                return Exit::Usage;
            }
        },
        Command::Messages(_) => commands::messages(&cfg, stop),
        Command::Calls(a) => commands::calls(&cfg, stop, a.all, !a.no_rtp),
        Command::Show(a) => commands::show(
            &cfg,
            stop,
            a.common.call_id.as_ref().unwrap_or(&a.show_call_id),
        ),
        Command::Registrations(_) => commands::registrations(&cfg, stop),
        Command::Rtp(a) => match a.series.as_deref().map(cli::stats::parse_interval) {
            Some(None) => {
                eprintln!("sipscope: bad --series interval: use 1s, 10s, 1m ...");
                return Exit::Usage;
            }
            series => cli::rtp::rtp(&cfg, stop, a.rtp_heuristic, series.flatten()),
        },
        Command::Stats(a) => match cli::stats::StatsRequest::from_args(a) {
            Ok(req) => cli::stats::stats(&cfg, stop, req),
            Err(e) => {
                eprintln!("sipscope: {e}");
                return Exit::Usage;
            }
        },
        Command::Tui(a) => match (
            cli::monitor::AlertRequest::from_args(&a.alert),
            cli::ladder::aliases(&a.aliases, &a.alias_file),
        ) {
            (Ok(req), Ok(aliases)) => cli::tui::tui(&cfg, stop, a, &req.thresholds, aliases),
            (Err(e), _) => {
                eprintln!("sipscope: {e}");
                return Exit::Usage;
            }
            (_, Err(e)) => {
                eprintln!("sipscope: {e}");
                return Exit::Usage;
            }
        },
        Command::Completions { .. } | Command::Man => return Exit::Ok,
        Command::Export(a) => match cli::export::ExportRequest::from_args(a, &cfg) {
            Ok(req) => cli::export::export(&cfg, stop, &req),
            Err(e) => {
                eprintln!("sipscope: {e}");
                return Exit::Usage;
            }
        },
        Command::Ladder(a) => match cli::ladder::LadderRequest::from_args(a) {
            Ok(req) => cli::ladder::ladder(&cfg, stop, &req),
            Err(e) => {
                eprintln!("sipscope: {e}");
                return Exit::Usage;
            }
        },
    };
    match result {
        Ok(stats) => {
            for w in commands::warnings(&stats) {
                eprintln!("sipscope: warning: {w}");
            }
            if cfg.stats {
                commands::print_stats(&stats, cfg.format);
            }
            // Said among the warnings above, with the capture time reached.
            if stats.run.interrupted {
                return Exit::Interrupted;
            }
            match (fail_on, alerted) {
                (Some(f), Some(w)) if w >= f => Exit::Alerted,
                _ => Exit::Ok,
            }
        }
        Err(RunError::Output(OutputError::BrokenPipe)) => Exit::Ok,
        Err(RunError::NoMatch(stats, what)) => {
            for w in commands::warnings(&stats) {
                eprintln!("sipscope: warning: {w}");
            }
            eprintln!("sipscope: {what}");
            Exit::Failure
        }
        Err(e) => {
            eprintln!("sipscope: {e}");
            Exit::Failure
        }
    }
}
