//! Criterion benchmarks over real captures, one per hot stage of a signalling-heavy run: the SIP
//! parser on real messages, the decode + reassembly + parse path per frame, the correlator
//! (transactions, dialogs, calls; with and without message rows), the detectors over message
//! rows, the table rows (the report's and `messages`' rows of every message and call), and the
//! whole threaded pipeline on a sample capture.
//! Whole runs on a large generated capture beside tshark and tcpdump: scripts/bench.sh.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sipscope::analysis::alerts::{Engine, Thresholds};
use sipscope::capture::file::FileSource;
use sipscope::capture::{Frame, Source};
use sipscope::correlate::{Correlator, CorrelatorConfig, Msg, Output};
use sipscope::decode::Decoder;
use sipscope::output::schema;
use sipscope::pipeline::{self, PipelineConfig};
use sipscope::reassembly::{Reassembler, ReassemblyConfig};
use sipscope::sip::SipMessage;

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/samples/kamailio-sipp-outcomes.pcap"
);

fn frames(path: &Path) -> Vec<Frame> {
    let mut src = FileSource::open(path).expect("sample capture");
    let mut v = Vec::new();
    while let Some(f) = src.next_frame().expect("read") {
        v.push(f.to_owned());
    }
    v
}

fn benches(c: &mut Criterion) {
    let frames = frames(Path::new(SAMPLE));
    let bytes: u64 = frames.iter().map(|f| f.data.len() as u64).sum();

    // The SIP messages of the sample, as the framer/UDP path hands them over, and as the
    // workers hand them to the correlator.
    let mut msgs = Vec::new();
    let units = {
        let mut d = Decoder::default();
        let mut r = Reassembler::new(ReassemblyConfig::default());
        let mut out = Vec::new();
        for f in &frames {
            if let Some(p) = d.decode(f) {
                r.packet(p, &mut out);
            }
        }
        r.finish(&mut out);
        msgs.extend(out.iter().map(|u| u.bytes.clone()));
        out
    };
    let parsed: Vec<Msg> = units
        .iter()
        .enumerate()
        .filter_map(|(i, u)| {
            let sip = SipMessage::parse(u.bytes.clone(), u.datagram).ok()?;
            Some(Msg {
                frame: i as u64 + 1,
                idx: 1,
                ts: u.ts,
                raw_ts: None,
                src: u.src,
                dst: u.dst,
                carrier: u.carrier,
                ip_reassembled: u.ip_reassembled,
                node: u.node,
                sip,
            })
        })
        .collect();
    // What the correlator hands on with rows on (the report, `messages`, `alerts`).
    let (rows, records) = {
        let mut c = Correlator::new(CorrelatorConfig {
            want_messages: true,
            want_detail: true,
            ..CorrelatorConfig::default()
        });
        let mut out = Vec::new();
        for m in parsed.iter().cloned() {
            c.on_msg(m, &mut out);
        }
        let end = parsed.last().map_or(Default::default(), |m| m.ts);
        c.finish(end, &mut out);
        let mut rows = Vec::new();
        let mut records = Vec::new();
        for o in out {
            match o {
                Output::Msg(m) => rows.push(m),
                Output::Call(c) => records.push(c),
                _ => {}
            }
        }
        (rows, records)
    };
    let msg_bytes: u64 = msgs.iter().map(|m| m.len() as u64).sum();

    let mut g = c.benchmark_group("sip");
    g.throughput(Throughput::Bytes(msg_bytes));
    g.bench_function("parse+typed headers", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for m in &msgs {
                if let Ok(s) = SipMessage::parse(m.clone(), true) {
                    n += s.call_id().map_or(0, |c| c.len());
                    n += s.cseq().map_or(0, |c| c.0 as usize);
                    n += s.top_via().map_or(0, |v| v.sent_by.len());
                    n += s.from().and_then(|f| f.tag()).map_or(0, |t| t.len());
                }
            }
            n
        })
    });
    g.finish();

    let mut g = c.benchmark_group("packet path");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("decode+reassemble+parse", |b| {
        b.iter(|| {
            let mut d = Decoder::default();
            let mut r = Reassembler::new(ReassemblyConfig::default());
            let mut out = Vec::new();
            let mut n = 0;
            for f in &frames {
                if let Some(p) = d.decode(f) {
                    r.packet(p, &mut out);
                    for u in out.drain(..) {
                        n += SipMessage::parse(u.bytes, u.datagram).is_ok() as usize;
                    }
                }
            }
            n
        })
    });
    g.finish();

    let mut g = c.benchmark_group("correlate");
    g.throughput(Throughput::Elements(parsed.len() as u64));
    for (name, rows_on) in [("calls only", false), ("with message rows", true)] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || parsed.clone(),
                |batch| {
                    let mut c = Correlator::new(CorrelatorConfig {
                        want_messages: rows_on,
                        want_detail: rows_on,
                        ..CorrelatorConfig::default()
                    });
                    let mut out = Vec::new();
                    let end = batch.last().map_or(Default::default(), |m| m.ts);
                    for m in batch {
                        c.on_msg(m, &mut out);
                    }
                    c.finish(end, &mut out);
                    out.len()
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.finish();

    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(rows.len() as u64));
    g.bench_function("alert engine over message rows", |b| {
        b.iter(|| {
            let mut e = Engine::new(Thresholds::default());
            for m in &rows {
                e.on_msg(m);
            }
            let end = rows.last().map_or(Default::default(), |m| m.ts);
            e.tick(end);
            e.take().len()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("table rows");
    g.throughput(Throughput::Elements((rows.len() + records.len()) as u64));
    g.bench_function("message and call rows", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for m in &rows {
                n += schema::message_row(m).len();
            }
            for c in &records {
                n += schema::call_row(c).len();
            }
            n
        })
    });
    g.finish();

    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Bytes(
        std::fs::metadata(SAMPLE).map_or(0, |m| m.len()),
    ));
    for threads in [1usize, 2] {
        g.bench_function(format!("calls, {threads} worker(s)"), |b| {
            b.iter(|| {
                let src = Box::new(FileSource::open(Path::new(SAMPLE)).expect("sample"));
                let cfg = PipelineConfig {
                    workers: threads,
                    correlators: threads,
                    ..PipelineConfig::default()
                };
                let mut calls = 0;
                pipeline::run(src, &cfg, Arc::new(AtomicBool::new(false)), None, |_| {
                    calls += 1
                })
                .expect("run");
                calls
            })
        });
    }
    g.finish();
}

criterion_group!(pipeline_benches, benches);
criterion_main!(pipeline_benches);
