#!/usr/bin/env bash
# Coverage-guided fuzzing on the stable toolchain (docs/FUZZING.md).
#
#   scripts/fuzz.sh TARGET SECONDS     run one target (names: scripts/fuzz.sh list)
#   scripts/fuzz.sh all SECONDS        run every target, one after the other, SECONDS each
#   scripts/fuzz.sh build              build every target only
#   scripts/fuzz.sh run TARGET SECONDS run a target already built (no build, no seeding)
#   scripts/fuzz.sh seeds              (re)write the seed corpora only
#   scripts/fuzz.sh merge TARGET...   minimise a run's corpus into the committed fuzz/corpus/TARGET
#   scripts/fuzz.sh afl SECONDS        build the AFL++ pipeline harness (fuzz/afl/), seed, run
#   scripts/fuzz.sh afl-build          build it only
#
# The targets are libFuzzer binaries (libfuzzer-sys) built with SanitizerCoverage codegen flags,
# which stable rustc accepts (`cargo fuzz` passes -Z flags that need nightly). Each run uses a
# per-input time and memory limit and reports slow inputs, so a quadratic path is a finding like
# a crash. Crashes, timeouts, out-of-memory and slow inputs land in $FUZZ_WORK/artifacts/TARGET/;
# copy the ones worth keeping into fuzz/regressions/TARGET/, where `cargo test` replays them.
#
# Environment: FUZZ_TARGET_DIR (build dir, default /work/tgt-fuzz or target/fuzz),
# FUZZ_WORK (corpora and artifacts, outside the repository; default /tmp/sipscope-fuzz),
# FUZZ_RSS_MB (default 2048), FUZZ_TIMEOUT (seconds per input, default 2),
# FUZZ_SEED_DIRS (captures to seed from; default tests/data, ../shared/adversarial and
# ../shared/corpus),
# FUZZ_JOBS (cargo build jobs), AFL_RT (AFL++'s compiler runtime object; default the Debian
# afl++ package's /usr/lib/afl/afl-compiler-rt.o).
set -euo pipefail

repo=${FUZZ_REPO:-$(cd "$(dirname "$0")/.." && pwd)}
triple=x86_64-unknown-linux-gnu
if [ -z "${FUZZ_TARGET_DIR:-}" ]; then
    if [ -d /work ]; then FUZZ_TARGET_DIR=/work/tgt-fuzz; else FUZZ_TARGET_DIR=$repo/target/fuzz; fi
fi
work=${FUZZ_WORK:-/tmp/sipscope-fuzz}
rss=${FUZZ_RSS_MB:-2048}
timeout=${FUZZ_TIMEOUT:-2}
targets=$(sed -n 's/^name = "\([a-z]*\)"$/\1/p' "$repo/fuzz/Cargo.toml" | grep -v '^sipscope' || true)

flags=(
    --cfg fuzzing
    -C passes=sancov-module
    -C llvm-args=-sanitizer-coverage-level=4
    -C llvm-args=-sanitizer-coverage-inline-8bit-counters
    -C llvm-args=-sanitizer-coverage-pc-table
    -C llvm-args=-sanitizer-coverage-trace-compares
    -C panic=abort
    -C overflow-checks
    -C debug-assertions
)

build() {
    # --target keeps build scripts (and proc macros) uninstrumented: RUSTFLAGS then apply to
    # the target's code only.
    RUSTFLAGS="${flags[*]}" CARGO_TARGET_DIR=$FUZZ_TARGET_DIR \
        cargo build --release --manifest-path "$repo/fuzz/Cargo.toml" --target $triple \
        ${FUZZ_JOBS:+-j $FUZZ_JOBS} "$@"
}

# AFL++ (Debian's afl++): the same entry as the pipeline target, in its own crate (fuzz/afl/)
# that does not link libFuzzer; edges by SanitizerCoverage trace-pc-guard, whose callbacks come
# from AFL++'s runtime linked in. Its own build dir: the flags differ from the libFuzzer build.
afl_rt=${AFL_RT:-/usr/lib/afl/afl-compiler-rt.o}
afl_flags=(
    --cfg fuzzing
    -C passes=sancov-module
    -C llvm-args=-sanitizer-coverage-level=3
    -C llvm-args=-sanitizer-coverage-trace-pc-guard
    -C panic=abort
    -C overflow-checks
    -C debug-assertions
    -C link-arg="$afl_rt"
)
afl_bin=$FUZZ_TARGET_DIR/afl/$triple/release/pipeline-afl

afl_build() {
    command -v afl-fuzz >/dev/null && [ -f "$afl_rt" ] ||
        { echo "AFL++ not found (apt-get install afl++, or set AFL_RT)" >&2; exit 2; }
    RUSTFLAGS="${afl_flags[*]}" CARGO_TARGET_DIR=$FUZZ_TARGET_DIR/afl \
        cargo build --release --manifest-path "$repo/fuzz/afl/Cargo.toml" --target $triple \
        ${FUZZ_JOBS:+-j $FUZZ_JOBS}
}

afl_run() {
    local secs=$1 dir=$work/afl
    # The map holds one byte per instrumented edge: the runtime numbers the guards at start-up
    # and says how many with AFL_DEBUG (__afl_final_loc); afl-fuzz needs AFL_MAP_SIZE when the
    # count is above its 64 KiB default, and a map no bigger than needed is faster to scan.
    local edges
    edges=$(AFL_DEBUG=1 "$afl_bin" /dev/null 2>&1 |
        sed -n 's/.*__afl_final_loc = \([0-9]*\).*/\1/p' | head -1)
    [ -n "$edges" ] || { echo "cannot read the edge count of $afl_bin" >&2; exit 2; }
    export AFL_MAP_SIZE=$(((edges + 64) / 64 * 64))
    export AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_AUTORESUME=1 AFL_NO_UI=1
    local t_ms=$((timeout * 1000))
    mkdir -p "$dir"
    if [ ! -d "$dir/in" ]; then
        # Seeds: the pipeline target's corpora and seeds up to 64 KB, minimised on edges.
        rm -rf "$dir/in-all" && mkdir -p "$dir/in-all"
        find "$work/corpus/pipeline" "$work/seeds/pipeline" "$repo/fuzz/corpus/pipeline" \
            -type f -size -64k -exec cp {} "$dir/in-all/" \; 2>/dev/null || true
        afl-cmin -i "$dir/in-all" -o "$dir/in" -t $((t_ms * 2)) -m "$rss" -- "$afl_bin" \
            >"$dir/cmin.log" 2>&1
    fi
    echo "== afl pipeline: ${secs}s, $edges edges (AFL_MAP_SIZE=$AFL_MAP_SIZE), log $dir/afl.log"
    set +e
    # No @@: the harness reads stdin in persistent mode (fuzz/afl/src/main.rs).
    afl-fuzz -i "$dir/in" -o "$dir/out" -V "$secs" -t "$t_ms" -m "$rss" -- "$afl_bin" \
        >"$dir/afl.log" 2>&1
    echo "   afl-fuzz exit $?" | tee -a "$dir/afl.log"
    set -e
    local st=$dir/out/default/fuzzer_stats
    [ -f "$st" ] || { echo "no $st (see $dir/afl.log)" >&2; exit 1; }
    field() { sed -n "s/^$1 *: //p" "$st"; }
    echo "afl pipeline: run $(field run_time)s, execs $(field execs_done)," \
        "execs/s $(field execs_per_sec), edges $(field edges_found)/$(field total_edges)" \
        "(map $(field bitmap_cvg)), stability $(field stability), corpus $(field corpus_count)," \
        "crashes $(field saved_crashes), hangs $(field saved_hangs)" | tee -a "$work/summary.txt"
}

seeds() {
    # The seed writer is the library's own code (sipscope::fuzzing::seeds), built normally.
    local dirs=${FUZZ_SEED_DIRS:-"$repo/tests/data $repo/../shared/adversarial $repo/../shared/corpus"}
    mkdir -p "$work/seeds"
    # shellcheck disable=SC2086
    cargo run --quiet --manifest-path "$repo/Cargo.toml" --example fuzz-seeds -- \
        "$work/seeds" $dirs
}

run_one() {
    local t=$1 secs=$2
    local bin=$FUZZ_TARGET_DIR/$triple/release/$t
    [ -x "$bin" ] || { echo "no binary $bin: run scripts/fuzz.sh build" >&2; exit 2; }
    local corpus=$work/corpus/$t art=$work/artifacts/$t/
    mkdir -p "$corpus" "$art"
    local seedargs=()
    [ -d "$work/seeds/$t" ] && seedargs+=("$work/seeds/$t")
    # fuzz/regressions/ is not read here: it holds known hangs, which would stop every start
    # (cargo test replays it).
    local log=$work/$t.log
    echo "== $t: ${secs}s, log $log"
    # Fork mode with the ignore flags goes on after a crash, timeout or out-of-memory input
    # (each is written to the artifacts), so one known hang does not end the run.
    set +e
    "$bin" "$corpus" "${seedargs[@]}" \
        -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -timeout="$timeout" -rss_limit_mb="$rss" -malloc_limit_mb="$rss" \
        -report_slow_units=1 -max_len=262144 \
        -max_total_time="$secs" -artifact_prefix="$art" >"$log" 2>&1
    echo "   libFuzzer exit $?" | tee -a "$log"
    set -e
    summary "$t"
}

# The committed corpus (replayed by `cargo test`): the committed inputs and the run's corpus merged
# on edge coverage alone (no counters, no compare operands), each cut to 8 KB; capture and
# pipeline inputs slower than 60 ms here are dropped (the replay runs unoptimised).
merge_one() {
    local t=$1
    local bin=$FUZZ_TARGET_DIR/$triple/release/$t out=$repo/fuzz/corpus/$t new=$work/merge/$t
    [ -x "$bin" ] || { echo "no binary $bin: run scripts/fuzz.sh build" >&2; exit 2; }
    rm -rf "$new" && mkdir -p "$new" "$out"
    "$bin" -merge=1 -use_counters=0 -use_cmp=0 -timeout="$timeout" -rss_limit_mb="$rss" \
        -max_len=8192 "$new" "$out" "$work/corpus/$t" >"$work/merge-$t.log" 2>&1
    local slow=0 f ms
    if [ "$t" = capture ] || [ "$t" = pipeline ]; then
        for f in "$new"/*; do
            ms=$("$bin" "$f" 2>&1 | sed -n 's/^Executed .* in \([0-9]*\) ms$/\1/p')
            if [ "${ms:-0}" -gt 60 ]; then rm "$f"; slow=$((slow + 1)); fi
        done
    fi
    rm -rf "$out" && mv "$new" "$out"
    echo "$t: committed corpus $(find "$out" -type f | wc -l) files," \
        "$(cat "$out"/* | wc -c) bytes ($slow slower than 60 ms left out)"
}

summary() {
    local t=$1 log=$work/$1.log
    local execs rate cov ft corpus
    # The fork-mode status line: #EXECS: cov: N ft: N corp: N exec/s: N oom/timeout/crash: ...
    local last
    last=$(grep -E '^#[0-9]+: cov: ' "$log" | tail -1)
    execs=$(echo "$last" | sed -n 's/^#\([0-9]*\):.*/\1/p')
    rate=$(echo "$last" | sed -n 's/.*exec\/s: \([0-9]*\).*/\1/p')
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corpus=$(find "$work/corpus/$t" -type f | wc -l)
    echo "$t: execs $execs, execs/s ${rate:-?}, cov ${cov:-?}, ft ${ft:-?}, corpus $corpus," \
        "crashes $(find "$work/artifacts/$t" -name 'crash-*' | wc -l)," \
        "timeouts $(find "$work/artifacts/$t" -name 'timeout-*' | wc -l)," \
        "oom $(find "$work/artifacts/$t" -name 'oom-*' | wc -l)," \
        "slow $(find "$work/artifacts/$t" -name 'slow-unit-*' | wc -l)" | tee -a "$work/summary.txt"
}

case ${1:-} in
    list) echo "$targets" ;;
    build) build ;;
    run) run_one "${2:?target}" "${3:?seconds}" ;;
    seeds) seeds ;;
    merge)
        shift
        for t in "${@:?target}"; do merge_one "$t"; done
        ;;
    afl-build) afl_build ;;
    afl)
        afl_build
        [ -d "$work/seeds" ] || seeds
        afl_run "${2:?seconds}"
        ;;
    all)
        build
        seeds
        for t in $targets; do run_one "$t" "${2:?seconds}"; done
        ;;
    "" | -h | --help) sed -n '2,20p' "$0" ;;
    *)
        echo "$targets" | grep -qx "$1" || { echo "unknown target $1 (scripts/fuzz.sh list)" >&2; exit 2; }
        build --bin "$1"
        [ -d "$work/seeds" ] || seeds
        run_one "$1" "${2:?seconds}"
        ;;
esac
