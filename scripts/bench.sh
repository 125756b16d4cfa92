#!/usr/bin/env bash
# Whole-run benchmark of sipscope beside tshark and tcpdump on one large
# generated SIP+RTP capture (>= 1 GiB). Run from anywhere; it works in the repo root.
#
#   scripts/bench.sh [--no-tshark]
#
# Environment:
#   BENCH_SIZE_CALLS=N  generate N calls instead of sizing the capture to >= 1 GiB (smoke runs)
#   BENCH_SEED=S        generator seed (default 1)
#   BENCH_RTP_SECONDS=T talk seconds with RTP per call (default: the generator's 20); 0 makes a
#                       SIP-only capture, the hardest case for sipscope (every packet is parsed)
#   BENCH_REPS=N        runs per tool; the median time is reported (default 3)
#   TSHARK_LIMIT_MB=N   run tshark on the first N MB (10^6 bytes) of the capture only and
#                       extrapolate its time linearly to the whole file (tshark is slow on 1 GB)
#
# Timings use GNU time (`/usr/bin/time -f '%e %M'`: elapsed seconds, peak RSS KiB);
# on Debian/Ubuntu it is the package `time`. The page cache is warmed before timing.
# Results: printed as a table and written as Markdown to target/bench/results.md.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

OUT=target/bench
RESULTS=$OUT/results${BENCH_RTP_SECONDS:+-rtp$BENCH_RTP_SECONDS}.md
GIB=1073741824
SEED=${BENCH_SEED:-1}
RTP_ARGS=()
TAG=""
if [[ -n ${BENCH_RTP_SECONDS:-} ]]; then
    RTP_ARGS=(--rtp-seconds "$BENCH_RTP_SECONDS")
    TAG="-rtp${BENCH_RTP_SECONDS}"
fi
RUN_TSHARK=1

for arg in "$@"; do
    case "$arg" in
        --no-tshark) RUN_TSHARK=0 ;;
        -h | --help)
            sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "bench.sh: unknown argument: $arg (try --help)" >&2
            exit 2
            ;;
    esac
done

log() { printf '==> %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
stat_key() { awk -F': ' -v k="$1" '$1 == k { print $2 }' "$2"; }

TIME=/usr/bin/time
if [[ ! -x $TIME ]]; then
    echo "bench.sh: $TIME not found; install GNU time (Debian/Ubuntu: apt-get install time)" >&2
    exit 1
fi
mkdir -p "$OUT"

# ---------------------------------------------------------------- build
TARGET=${CARGO_TARGET_DIR:-target}
SIPSCOPE=$TARGET/release/sipscope
GEN=$TARGET/release/examples/gen-capture
SIPSCOPE_STATE=ok
log "cargo build --release"
if ! cargo build --release; then
    log "WARNING: cargo build --release failed; sipscope will be reported as missing"
    SIPSCOPE_STATE="missing (cargo build --release failed)"
fi
log "cargo build --release --example gen-capture"
if ! cargo build --release --example gen-capture; then
    # The generator is a single std-only file: build it on its own if the crate does not build.
    log "WARNING: cargo could not build the example; compiling examples/gen-capture.rs with rustc"
    GEN=$OUT/gen-capture
    rustc --edition 2021 -C opt-level=3 -o "$GEN" examples/gen-capture.rs
fi
if [[ $SIPSCOPE_STATE == ok ]]; then
    if [[ ! -x $SIPSCOPE ]]; then
        SIPSCOPE_STATE="missing ($SIPSCOPE not built)"
    elif ! "$SIPSCOPE" --help 2>&1 | grep -Eq '(^|[^[:alnum:]_-])calls([^[:alnum:]_-]|$)'; then
        SIPSCOPE_STATE="missing (no 'calls' subcommand in sipscope --help yet)"
    fi
fi

# ---------------------------------------------------------------- capture
if [[ -n ${BENCH_SIZE_CALLS:-} ]]; then
    [[ $BENCH_SIZE_CALLS =~ ^[0-9]+$ ]] || { echo "bench.sh: BENCH_SIZE_CALLS must be a number" >&2; exit 2; }
    CALLS=$BENCH_SIZE_CALLS
    MIN_BYTES=0
else
    # Calibrate bytes per call on a small run, then aim 5% above 1 GiB.
    CAL_STATS=$OUT/calibrate.stats
    "$GEN" --calls 2000 --seed "$SEED" "${RTP_ARGS[@]}" --out /dev/null 2>"$CAL_STATS"
    CAL_BYTES=$(stat_key file_bytes "$CAL_STATS")
    CALLS=$(awk -v b="$CAL_BYTES" -v g=$GIB 'BEGIN { printf "%d", g * 1.05 / (b / 2000) + 1 }')
    MIN_BYTES=$GIB
fi

while :; do
    CAP=$OUT/sip-bench-${CALLS}calls-seed${SEED}${TAG}.pcap
    STATS=${CAP%.pcap}.stats
    if [[ -f $CAP && -f $STATS && "$(stat -c %s "$CAP")" == "$(stat_key file_bytes "$STATS")" ]]; then
        log "reusing $CAP"
    else
        log "generating $CAP ($CALLS calls, seed $SEED)"
        "$TIME" -f '%e %M' -o "$OUT/time.gen" "$GEN" --calls "$CALLS" --seed "$SEED" "${RTP_ARGS[@]}" --out "$CAP.tmp" 2>"$STATS.tmp"
        mv "$STATS.tmp" "$STATS"
        mv "$CAP.tmp" "$CAP"
        read -r gs gk <"$OUT/time.gen"
        log "gen-capture: $(awk -v s="$gs" -v k="$gk" -v b="$(stat -c %s "$CAP")" 'BEGIN { printf "%.2f s, %.0f MB/s, peak RSS %.1f MiB", s, (s > 0 ? b / s / 1e6 : 0), k / 1024 }')"
    fi
    SIZE=$(stat -c %s "$CAP")
    ((SIZE >= MIN_BYTES)) && break
    CALLS=$((CALLS * 11 / 10 + 1))
    log "capture is only $SIZE bytes (< 1 GiB); retrying with $CALLS calls"
done
PACKETS=$(stat_key packets "$STATS")

log "warming the page cache"
cat "$CAP" >/dev/null

# ---------------------------------------------------------------- timing
# timed NAME CMD... : sets T_SEC, T_KIB, T_RC (stdout of CMD goes where the caller sends it).
# Each command runs REPS times (BENCH_REPS, default 3): T_SEC is the median time and T_KIB the
# largest peak RSS, so one slow run on a shared machine does not decide the figures.
REPS=${BENCH_REPS:-3}
timed() {
    local name=$1
    shift
    T_RC=0
    local times=() kib=0 sec k rep
    for ((rep = 1; rep <= REPS; rep++)); do
        "$TIME" -f '%e %M' -o "$OUT/time.$name" "$@" 2>"$OUT/$name.stderr" || T_RC=$?
        read -r sec k < <(tail -n 1 "$OUT/time.$name")
        times+=("$sec")
        ((k > kib)) && kib=$k
        ((T_RC != 0)) && break
    done
    T_SEC=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    T_KIB=$kib
    log "$name: runs ${times[*]} s, median $T_SEC s"
    if ((T_RC != 0)); then
        log "$name exited with status $T_RC (see $OUT/$name.stderr)"
    fi
}

# Rows: name|state|seconds|bytes processed|rss KiB|command|note
ROWS=()

if [[ $SIPSCOPE_STATE == ok ]]; then
    log "timing: sipscope calls $CAP --format csv"
    timed sipscope "$SIPSCOPE" calls "$CAP" --format csv >/dev/null
    state=ok
    ((T_RC == 0)) || state="failed (exit $T_RC)"
    ROWS+=("sipscope|$state|$T_SEC|$SIZE|$T_KIB|sipscope calls FILE --format csv|")
else
    log "sipscope: $SIPSCOPE_STATE"
    ROWS+=("sipscope|$SIPSCOPE_STATE||||sipscope calls FILE --format csv|")
fi

# The report: the same capture into a directory (HTML, Parquet, CSV), its peak RSS, and one
# extra run sampling the resident size every quarter second to show whether it stays flat
# (printed at each tenth of the run).
if [[ $SIPSCOPE_STATE == ok ]]; then
    log "timing: sipscope report $CAP -o $OUT/report"
    timed report "$SIPSCOPE" report "$CAP" -o "$OUT/report" --no-progress >/dev/null
    state=ok
    ((T_RC == 0)) || state="failed (exit $T_RC)"
    rm -rf "$OUT/report"
    "$SIPSCOPE" report "$CAP" -o "$OUT/report" --no-progress >/dev/null 2>&1 &
    pid=$!
    RSS_TRACE=()
    while kill -0 "$pid" 2>/dev/null; do
        r=$(awk '/^VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$pid/status" 2>/dev/null || true)
        [[ -n $r ]] && RSS_TRACE+=("$r")
        sleep 0.25
    done
    wait "$pid" || true
    n=${#RSS_TRACE[@]}
    tenths=()
    for ((i = 1; i <= 10 && n > 0; i++)); do
        tenths+=("${RSS_TRACE[$(((n * i + 9) / 10 - 1))]}")
    done
    ROWS+=("report|$state|$T_SEC|$SIZE|$T_KIB|sipscope report FILE -o DIR|RSS MiB at each tenth of the run: ${tenths[*]}")
fi

if ((RUN_TSHARK == 0)); then
    ROWS+=("tshark|skipped (--no-tshark)||||tshark -n -q -z sip,stat -r FILE|")
elif ! have tshark; then
    ROWS+=("tshark|missing (not installed; Debian: apt-get install tshark)||||tshark -n -q -z sip,stat -r FILE|")
else
    TS_FILE=$CAP
    TS_BYTES=$SIZE
    note=""
    if [[ -n ${TSHARK_LIMIT_MB:-} ]] && ((TSHARK_LIMIT_MB * 1000000 < SIZE)); then
        PREFIX=$OUT/prefix-${TSHARK_LIMIT_MB}MB-$(basename "$CAP")
        if [[ ! -f $PREFIX ]]; then
            log "cutting a ${TSHARK_LIMIT_MB} MB prefix for tshark"
            head -c $((TSHARK_LIMIT_MB * 1000000)) "$CAP" >"$PREFIX.raw.tmp"
            # The last record is cut in the middle: rewrite the complete ones into a valid pcap.
            if have editcap; then
                editcap -F pcap "$PREFIX.raw.tmp" "$PREFIX.tmp" 2>/dev/null || true
            else
                tcpdump -r "$PREFIX.raw.tmp" -w "$PREFIX.tmp" 2>/dev/null || true
            fi
            rm -f "$PREFIX.raw.tmp"
            mv "$PREFIX.tmp" "$PREFIX"
        fi
        TS_FILE=$PREFIX
        TS_BYTES=$(stat -c %s "$PREFIX")
        cat "$PREFIX" >/dev/null
    fi
    log "timing: tshark -n -q -z sip,stat -r $TS_FILE"
    timed tshark tshark -n -q -z sip,stat -r "$TS_FILE" >/dev/null
    state=ok
    ((T_RC == 0)) || state="failed (exit $T_RC)"
    sec=$T_SEC
    if [[ $TS_FILE != "$CAP" ]]; then
        sec=$(awk -v s="$T_SEC" -v p="$TS_BYTES" -v f="$SIZE" 'BEGIN { printf "%.2f", s * f / p }')
        note="EXTRAPOLATED: measured $T_SEC s on the first $TS_BYTES bytes (TSHARK_LIMIT_MB=$TSHARK_LIMIT_MB), scaled x$(awk -v p="$TS_BYTES" -v f="$SIZE" 'BEGIN { printf "%.2f", f / p }'); RSS is the prefix run's"
    fi
    ROWS+=("tshark|$state|$sec|$SIZE|$T_KIB|tshark -n -q -z sip,stat -r FILE|$note")
fi

if have tcpdump; then
    log "timing: tcpdump -r $CAP -w /dev/null"
    timed tcpdump tcpdump -r "$CAP" -w /dev/null
    state=ok
    ((T_RC == 0)) || state="failed (exit $T_RC)"
    ROWS+=("tcpdump|$state|$T_SEC|$SIZE|$T_KIB|tcpdump -r FILE -w /dev/null|")
else
    ROWS+=("tcpdump|missing (not installed; Debian: apt-get install tcpdump)||||tcpdump -r FILE -w /dev/null|")
fi

# ---------------------------------------------------------------- report
field() { # field ROW INDEX
    local IFS='|'
    local -a f
    read -r -a f <<<"$1"
    printf '%s' "${f[$2]:-}"
}
row_for() {
    local r
    for r in "${ROWS[@]}"; do
        if [[ $(field "$r" 0) == "$1" ]]; then
            printf '%s' "$r"
            return 0
        fi
    done
    return 0
}
usable() { [[ $(field "$1" 1) == ok && -n $(field "$1" 2) ]]; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", b / s / 1e6; else printf "inf" }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

SIP_ROW=$(row_for sipscope)
TS_ROW=$(row_for tshark)
TD_ROW=$(row_for tcpdump)
R_TSHARK="n/a"
R_TCPDUMP="n/a"
if usable "$SIP_ROW" && usable "$TS_ROW"; then
    R_TSHARK=$(awk -v a="$(field "$SIP_ROW" 2)" -v b="$(field "$TS_ROW" 2)" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else printf "inf" }')
    [[ -n $(field "$TS_ROW" 6) ]] && R_TSHARK="$R_TSHARK (tshark extrapolated)"
fi
if usable "$SIP_ROW" && usable "$TD_ROW"; then
    R_TCPDUMP=$(awk -v a="$(field "$SIP_ROW" 2)" -v b="$(field "$TD_ROW" 2)" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "inf" }')
fi

CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
GIB_S=$(awk -v b="$SIZE" 'BEGIN { printf "%.2f", b / 1073741824 }')
{
    echo "# sipscope whole-run benchmark"
    echo
    echo "- date: $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
    echo "- host: ${CPU:-unknown CPU}, $(nproc) CPUs, $(awk '/^MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
    echo "- capture: \`$CAP\`: $SIZE bytes ($GIB_S GiB), $PACKETS packets, \`gen-capture --calls $CALLS --seed $SEED ${RTP_ARGS[*]}\`" \
        "($(stat_key sip_messages "$STATS") SIP messages, $(stat_key rtp_packets "$STATS") RTP packets)"
    echo "- versions: $(tshark --version 2>/dev/null | head -n 1 || echo 'tshark n/a'); $(tcpdump --version 2>&1 | head -n 1 || echo 'tcpdump n/a')"
    echo "- method: $REPS runs per tool, median time and largest peak RSS, page cache warm, \`/usr/bin/time -f '%e %M'\`; MB/s = 10^6 bytes of capture file per second; RSS in MiB"
    echo
    echo "| tool | command | status | seconds | MB/s | peak RSS MiB | note |"
    echo "|---|---|---|---:|---:|---:|---|"
    for r in "${ROWS[@]}"; do
        name=$(field "$r" 0)
        if usable "$r"; then
            echo "| $name | \`$(field "$r" 5)\` | ok | $(field "$r" 2) | $(mbps "$(field "$r" 3)" "$(field "$r" 2)") | $(mib "$(field "$r" 4)") | $(field "$r" 6) |"
        else
            s=$(field "$r" 2)
            echo "| $name | \`$(field "$r" 5)\` | $(field "$r" 1) | ${s:-–} | ${s:+$(mbps "$(field "$r" 3)" "$s")} | ${s:+$(mib "$(field "$r" 4)")} | $(field "$r" 6) |"
        fi
    done
    echo
    echo "- sipscope/tshark throughput: **$R_TSHARK**"
    echo "- sipscope/tcpdump time: **$R_TCPDUMP** (tcpdump only copies packets: a floor for reading the file)"
} >"$RESULTS"

echo
printf '%-9s %10s %10s %13s  %s\n' tool seconds MB/s "peak RSS MiB" status
for r in "${ROWS[@]}"; do
    name=$(field "$r" 0)
    s=$(field "$r" 2)
    if [[ -n $s ]]; then
        printf '%-9s %10s %10s %13s  %s\n' "$name" "$s" "$(mbps "$(field "$r" 3)" "$s")" "$(mib "$(field "$r" 4)")" "$(field "$r" 1)"
    else
        printf '%-9s %10s %10s %13s  %s\n' "$name" - - - "$(field "$r" 1)"
    fi
    note=$(field "$r" 6)
    if [[ -n $note ]]; then
        printf '%9s %s\n' "" "$note"
    fi
done
echo
echo "capture: $CAP ($SIZE bytes, $GIB_S GiB, $PACKETS packets)"
echo "sipscope/tshark throughput: $R_TSHARK"
echo "sipscope/tcpdump time:      $R_TCPDUMP"
echo "written: $RESULTS"
