#!/usr/bin/env bash
# Whole-run benchmark of sipscope against issue 18's aims, in one run: every command on a
# SIP-only and on a mixed SIP+RTP capture (each >= 1 GiB, from examples/gen-capture.rs), timed
# beside `tcpdump -r FILE -w /dev/null` (reading the file: the floor) and
# `tshark -n -q -z sip,stat -r FILE`; then `calls`, `alerts` and `report` on the SIP-only
# capture at 1/4 and 1/2 of its calls (same seed) to show the time is linear in the size; then
# tcpdump and `calls` on the mixed capture converted to pcapng by `editcap -F pcapng` (the
# format Wireshark and dumpcap write; skipped without editcap), with no aim of its own.
#
#   scripts/bench.sh [--no-tshark]
#
# Timed on each capture (stdout to /dev/null): tcpdump, tshark, and `sipscope calls FILE
# --format csv`, `calls FILE --no-rtp --format csv` (mixed only), `stats FILE`, `alerts FILE
# --format csv`, `messages FILE --format csv`, `rtp FILE --format csv` and `report FILE -o DIR
# --no-progress` (DIR removed before each run). Each row gives seconds, MB/s, the time as a
# multiple of tcpdump's, of tshark's and of `calls`, the peak RSS, and the aim that applies
# with whether it is met: `calls` <= 2x tcpdump (SIP-only, and mixed with RTP analysis on);
# `alerts`, `stats` <= 1.5x `calls`; `report` <= 3x `calls`; `messages` <= 2x `calls`; peak RSS
# < 256 MB (256*10^6 bytes; shown in MiB) for every sipscope command.
#
# Environment:
#   BENCH_SIZE_CALLS=N  smoke run: N calls for the SIP-only (4x) capture and the mixed one
#                       instead of sizing each to >= 1 GiB (no minimum size then)
#   BENCH_MIX_CALLS=N   calls of the mixed capture in a smoke run (default BENCH_SIZE_CALLS)
#   BENCH_SEED=S        generator seed (default 1)
#   BENCH_REPS=N        runs per command: median time, largest peak RSS (default 1)
#   BENCH_SIPSCOPE=PATH time this sipscope binary; skips `cargo build --release` (and cargo
#                       altogether: the generator is then compiled with rustc)
#   BENCH_GEN=PATH      use this gen-capture binary instead of building one
#   BENCH_RSS_TRACE=1   one more, untimed, `report` run per capture sampling its resident size
#                       every quarter second (printed at each tenth of the run)
#   TSHARK_LIMIT_MB=N   run tshark on the first N MB (10^6 bytes) of each capture only and
#                       extrapolate its time linearly to the whole file (marked EXTRAPOLATED)
#   CARGO_TARGET_DIR    where cargo builds sipscope and the generator (default target)
#
# Timings use GNU time (`/usr/bin/time -f '%e %M'`: elapsed seconds, peak RSS KiB);
# on Debian/Ubuntu it is the package `time`. The page cache is warmed before timing. A load
# average above 0.5 at the start is warned about (a shared machine skews the figures). A command
# counts as linear when its seconds per GB at 4x are at most 1.25 times those at 1x.
# Results: printed as tables and written as Markdown to target/bench/results.md.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

OUT=target/bench
LOGS=$OUT/logs
RESULTS=$OUT/results.md
GIB=1073741824
RSS_AIM_BYTES=256000000
SEED=${BENCH_SEED:-1}
REPS=${BENCH_REPS:-1}
RUN_TSHARK=1

for arg in "$@"; do
    case "$arg" in
        --no-tshark) RUN_TSHARK=0 ;;
        -h | --help)
            awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
            exit 0
            ;;
        *)
            echo "bench.sh: unknown argument: $arg (try --help)" >&2
            exit 2
            ;;
    esac
done
for v in BENCH_SIZE_CALLS BENCH_MIX_CALLS BENCH_SEED BENCH_REPS TSHARK_LIMIT_MB; do
    if [[ -n ${!v:-} && ! ${!v} =~ ^[0-9]+$ ]]; then
        echo "bench.sh: $v must be a number" >&2
        exit 2
    fi
done
((REPS >= 1)) || { echo "bench.sh: BENCH_REPS must be at least 1" >&2; exit 2; }

log() { printf '==> %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
stat_key() { awk -F': ' -v k="$1" '$1 == k { print $2 }' "$2"; }
calc() { awk "BEGIN { $1 }" </dev/null; } # calc 'printf "%.2f", 1 / 3'
# cmdline ARGS...: the command as one shell line, quoting only the words that need it.
cmdline() {
    local a out=()
    for a in "$@"; do
        if [[ $a =~ ^[][A-Za-z0-9_./,:=+@%-]+$ ]]; then out+=("$a"); else out+=("$(printf '%q' "$a")"); fi
    done
    printf '%s >/dev/null' "${out[*]}"
}

TIME=/usr/bin/time
if [[ ! -x $TIME ]]; then
    echo "bench.sh: $TIME not found; install GNU time (Debian/Ubuntu: apt-get install time)" >&2
    exit 1
fi
mkdir -p "$OUT" "$LOGS"

LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
LOAD_WARNING=""
if [[ $(calc "print ($LOAD_START > 0.5)") == 1 ]]; then
    LOAD_WARNING="WARNING: load average $LOAD_START at the start (> 0.5): other work shares the CPUs and skews these figures"
    log "$LOAD_WARNING"
fi

# ---------------------------------------------------------------- build
TARGET=${CARGO_TARGET_DIR:-target}
SIPSCOPE_STATE=ok
if [[ -n ${BENCH_SIPSCOPE:-} ]]; then
    SIPSCOPE=$BENCH_SIPSCOPE
    SIPSCOPE_ORIGIN="BENCH_SIPSCOPE, not built by this script: it may not match this tree"
    log "using $SIPSCOPE (BENCH_SIPSCOPE; no cargo build)"
else
    SIPSCOPE=$TARGET/release/sipscope
    SIPSCOPE_ORIGIN="cargo build --release"
    log "cargo build --release"
    if ! cargo build --release; then
        log "WARNING: cargo build --release failed; sipscope will be reported as missing"
        SIPSCOPE_STATE="missing (cargo build --release failed)"
    fi
fi
if [[ $SIPSCOPE_STATE == ok ]]; then
    if [[ ! -x $SIPSCOPE ]]; then
        SIPSCOPE_STATE="missing ($SIPSCOPE not found)"
    elif ! "$SIPSCOPE" --help 2>&1 | grep -Eq '(^|[^[:alnum:]_-])calls([^[:alnum:]_-]|$)'; then
        SIPSCOPE_STATE="missing (no 'calls' subcommand in sipscope --help)"
    fi
fi

# The generator is a single std-only file: without cargo (BENCH_SIPSCOPE), or when the crate does
# not build, rustc compiles it on its own.
build_gen_rustc() {
    GEN=$OUT/gen-capture
    if [[ ! -x $GEN || examples/gen-capture.rs -nt $GEN ]]; then
        log "rustc --edition 2021 -C opt-level=3 -o $GEN examples/gen-capture.rs"
        rustc --edition 2021 -C opt-level=3 -o "$GEN" examples/gen-capture.rs
    fi
}
if [[ -n ${BENCH_GEN:-} ]]; then
    GEN=$BENCH_GEN
elif [[ -n ${BENCH_SIPSCOPE:-} ]]; then
    build_gen_rustc
else
    GEN=$TARGET/release/examples/gen-capture
    log "cargo build --release --example gen-capture"
    if ! cargo build --release --example gen-capture; then
        log "WARNING: cargo could not build the example; compiling examples/gen-capture.rs with rustc"
        build_gen_rustc
    fi
fi

# ---------------------------------------------------------------- captures
# Captures by label: sip (SIP-only, the 4x of the linearity check), sip1 and sip2 (1/4 and 1/2
# of its calls), mix (SIP+RTP, the generator's default talk time).
declare -A CAP_FILE CAP_CALLS CAP_BYTES CAP_ARGS CAP_STATS

# calibrate RTP_SECONDS: calls that make a capture 5% above 1 GiB, from a 2000-call run.
calibrate() {
    local rtp=$1 stats bytes
    stats=$OUT/calibrate${rtp:+-rtp$rtp}.stats
    "$GEN" --calls 2000 --seed "$SEED" ${rtp:+--rtp-seconds "$rtp"} --out /dev/null 2>"$stats"
    bytes=$(stat_key file_bytes "$stats")
    calc "printf \"%d\", $GIB * 1.05 / ($bytes / 2000) + 1"
}

# make_capture LABEL CALLS RTP_SECONDS(empty: the generator's default): generates the capture
# unless one with the same parameters (its name) and a matching stats file exists.
make_capture() {
    local label=$1 calls=$2 rtp=$3 cap stats gs gk
    cap=$OUT/sip-bench-${calls}calls-seed${SEED}${rtp:+-rtp$rtp}.pcap
    stats=${cap%.pcap}.stats
    if [[ -f $cap && -f $stats && "$(stat -c %s "$cap")" == "$(stat_key file_bytes "$stats")" ]]; then
        log "reusing $cap"
    else
        log "generating $cap ($calls calls, seed $SEED${rtp:+, --rtp-seconds $rtp})"
        "$TIME" -f '%e %M' -o "$LOGS/gen.time" "$GEN" --calls "$calls" --seed "$SEED" \
            ${rtp:+--rtp-seconds "$rtp"} --out "$cap.tmp" 2>"$stats.tmp"
        mv "$stats.tmp" "$stats"
        mv "$cap.tmp" "$cap"
        read -r gs gk < <(tail -n 1 "$LOGS/gen.time")
        log "gen-capture: $(calc "printf \"%.2f s, %.0f MB/s, peak RSS %.1f MiB\", $gs, ($gs > 0 ? $(stat -c %s "$cap") / $gs / 1e6 : 0), $gk / 1024")"
    fi
    CAP_FILE[$label]=$cap
    CAP_STATS[$label]=$stats
    CAP_CALLS[$label]=$calls
    CAP_BYTES[$label]=$(stat -c %s "$cap")
    CAP_ARGS[$label]="gen-capture --calls $calls --seed $SEED${rtp:+ --rtp-seconds $rtp}"
}

# sized_capture LABEL RTP_SECONDS SMOKE_CALLS: the capture at SMOKE_CALLS calls, or else sized
# to >= 1 GiB (calibrated, then 10% more calls while it falls short).
sized_capture() {
    local label=$1 rtp=$2 calls=$3 min=0
    if [[ -z $calls ]]; then
        log "calibrating the ${label} capture's bytes per call (2000 calls)"
        calls=$(calibrate "$rtp")
        min=$GIB
    fi
    while :; do
        make_capture "$label" "$calls" "$rtp"
        ((CAP_BYTES[$label] >= min)) && break
        calls=$((calls * 11 / 10 + 1))
        log "capture is only ${CAP_BYTES[$label]} bytes (< 1 GiB); retrying with $calls calls"
    done
}

sized_capture sip 0 "${BENCH_SIZE_CALLS:-}"
make_capture sip1 $((CAP_CALLS[sip] / 4)) 0
make_capture sip2 $((CAP_CALLS[sip] / 2)) 0
sized_capture mix "" "${BENCH_MIX_CALLS:-${BENCH_SIZE_CALLS:-}}"

# ng: the mixed capture as pcapng (editcap keeps every packet and time stamp).
NG_STATE=""
if have editcap; then
    ng=${CAP_FILE[mix]%.pcap}.pcapng
    if [[ ! -f $ng || $ng -ot ${CAP_FILE[mix]} ]]; then
        log "converting ${CAP_FILE[mix]} to pcapng"
        editcap -F pcapng "${CAP_FILE[mix]}" "$ng.tmp"
        mv "$ng.tmp" "$ng"
    else
        log "reusing $ng"
    fi
    CAP_FILE[ng]=$ng
    CAP_STATS[ng]=${CAP_STATS[mix]}
    CAP_CALLS[ng]=${CAP_CALLS[mix]}
    CAP_BYTES[ng]=$(stat -c %s "$ng")
    CAP_ARGS[ng]="${CAP_ARGS[mix]}, then editcap -F pcapng"
else
    NG_STATE="pcapng: skipped (editcap not installed; Debian: apt-get install tshark)"
fi

# ---------------------------------------------------------------- timing
# timed KEY CMD... : runs CMD REPS times under GNU time, stdout to /dev/null, stderr to
# $LOGS/KEY.stderr; sets T_SEC (median time), T_KIB (largest peak RSS) and T_RC (exit status of
# the failed run, 0 if none failed). T_CLEAN, when set, is a directory removed before each run.
T_CLEAN=""
timed() {
    local key=$1 times=() kib=0 sec k rep
    shift
    T_RC=0
    for ((rep = 1; rep <= REPS; rep++)); do
        if [[ -n $T_CLEAN ]]; then rm -rf "$T_CLEAN"; fi
        "$TIME" -f '%e %M' -o "$LOGS/$key.time" "$@" >/dev/null 2>"$LOGS/$key.stderr" || T_RC=$?
        read -r sec k < <(tail -n 1 "$LOGS/$key.time")
        times+=("$sec")
        ((k > kib)) && kib=$k
        ((T_RC != 0)) && break
    done
    T_SEC=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
    T_KIB=$kib
    local median=""
    ((REPS == 1)) || median=" (median $T_SEC s)"
    log "$key: ${times[*]} s$median, peak RSS $(calc "printf \"%.1f\", $kib / 1024") MiB"
    if ((T_RC != 0)); then
        log "$key exited with status $T_RC (see $LOGS/$key.stderr)"
    fi
}

# Results by "LABEL/ID": state (ok, or why not), seconds, RSS KiB, note, exact command line.
declare -A R_STATE R_SEC R_KIB R_NOTE R_EXACT
declare -A CMD_TEXT=(
    [tcpdump]="tcpdump -r FILE -w /dev/null"
    [tshark]="tshark -n -q -z sip,stat -r FILE"
    [calls]="sipscope calls FILE --format csv"
    [calls-no-rtp]="sipscope calls FILE --no-rtp --format csv"
    [stats]="sipscope stats FILE"
    [alerts]="sipscope alerts FILE --format csv"
    [messages]="sipscope messages FILE --format csv"
    [rtp]="sipscope rtp FILE --format csv"
    [report]="sipscope report FILE -o DIR --no-progress"
)
REPORT_DIR=$OUT/report

# run_cmd LABEL ID: times one command on one capture and records it.
run_cmd() {
    local label=$1 id=$2 f=${CAP_FILE[$1]} key=$1/$2 argv=()
    T_CLEAN=""
    case $id in
        tcpdump) argv=(tcpdump -r "$f" -w /dev/null) ;;
        calls) argv=("$SIPSCOPE" calls "$f" --format csv) ;;
        calls-no-rtp) argv=("$SIPSCOPE" calls "$f" --no-rtp --format csv) ;;
        stats) argv=("$SIPSCOPE" stats "$f") ;;
        alerts) argv=("$SIPSCOPE" alerts "$f" --format csv) ;;
        messages) argv=("$SIPSCOPE" messages "$f" --format csv) ;;
        rtp) argv=("$SIPSCOPE" rtp "$f" --format csv) ;;
        report)
            argv=("$SIPSCOPE" report "$f" -o "$REPORT_DIR" --no-progress)
            T_CLEAN=$REPORT_DIR
            ;;
        *) echo "bench.sh: run_cmd: unknown command id $id" >&2 && exit 1 ;;
    esac
    if [[ $id == tcpdump ]] && ! have tcpdump; then
        R_STATE[$key]="missing (not installed; Debian: apt-get install tcpdump)"
        return
    fi
    if [[ ${argv[0]} == "$SIPSCOPE" && $SIPSCOPE_STATE != ok ]]; then
        R_STATE[$key]=$SIPSCOPE_STATE
        return
    fi
    R_EXACT[$key]=$(cmdline "${argv[@]}")
    log "timing ($label): ${argv[*]}"
    timed "${key//\//.}" "${argv[@]}"
    T_CLEAN=""
    if [[ $id == report ]]; then rm -rf "$REPORT_DIR"; fi
    R_SEC[$key]=$T_SEC
    R_KIB[$key]=$T_KIB
    R_STATE[$key]=ok
    ((T_RC == 0)) || R_STATE[$key]="failed (exit $T_RC, see $LOGS/${key//\//.}.stderr)"
}

# run_tshark LABEL: tshark's sip,stat on the capture, or on its first TSHARK_LIMIT_MB MB with the
# time scaled to the whole file.
run_tshark() {
    local label=$1 key=$1/tshark cap=${CAP_FILE[$1]} size=${CAP_BYTES[$1]} ts_file ts_bytes prefix
    if ((RUN_TSHARK == 0)); then
        R_STATE[$key]="skipped (--no-tshark)"
        return
    elif ! have tshark; then
        R_STATE[$key]="missing (not installed; Debian: apt-get install tshark)"
        return
    fi
    ts_file=$cap
    ts_bytes=$size
    if [[ -n ${TSHARK_LIMIT_MB:-} ]] && ((TSHARK_LIMIT_MB * 1000000 < size)); then
        prefix=$OUT/prefix-${TSHARK_LIMIT_MB}MB-$(basename "$cap")
        if [[ ! -f $prefix ]]; then
            log "cutting a ${TSHARK_LIMIT_MB} MB prefix of $cap for tshark"
            head -c $((TSHARK_LIMIT_MB * 1000000)) "$cap" >"$prefix.raw.tmp"
            # The last record is cut in the middle: rewrite the complete ones into a valid pcap.
            if have editcap; then
                editcap -F pcap "$prefix.raw.tmp" "$prefix.tmp" 2>/dev/null || true
            else
                tcpdump -r "$prefix.raw.tmp" -w "$prefix.tmp" 2>/dev/null || true
            fi
            rm -f "$prefix.raw.tmp"
            mv "$prefix.tmp" "$prefix"
        fi
        ts_file=$prefix
        ts_bytes=$(stat -c %s "$prefix")
        cat "$prefix" >/dev/null
    fi
    R_EXACT[$key]=$(cmdline tshark -n -q -z sip,stat -r "$ts_file")
    log "timing ($label): tshark -n -q -z sip,stat -r $ts_file"
    timed "$label.tshark" tshark -n -q -z sip,stat -r "$ts_file"
    R_SEC[$key]=$T_SEC
    R_KIB[$key]=$T_KIB
    R_STATE[$key]=ok
    ((T_RC == 0)) || R_STATE[$key]="failed (exit $T_RC, see $LOGS/$label.tshark.stderr)"
    if [[ $ts_file != "$cap" ]]; then
        R_SEC[$key]=$(calc "printf \"%.2f\", $T_SEC * $size / $ts_bytes")
        R_NOTE[$key]="EXTRAPOLATED: $T_SEC s measured on the first $ts_bytes bytes (TSHARK_LIMIT_MB=$TSHARK_LIMIT_MB), scaled ×$(calc "printf \"%.2f\", $size / $ts_bytes"); RSS is the prefix run's"
    fi
}

# rss_trace LABEL: one untimed report run sampling VmRSS every quarter second (BENCH_RSS_TRACE=1).
declare -A RSS_TENTHS
rss_trace() {
    local label=$1 pid r n i trace=() tenths=()
    [[ ${BENCH_RSS_TRACE:-} == 1 && $SIPSCOPE_STATE == ok ]] || return 0
    log "report's resident size over one more run ($label)"
    rm -rf "$REPORT_DIR"
    "$SIPSCOPE" report "${CAP_FILE[$label]}" -o "$REPORT_DIR" --no-progress >/dev/null 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        r=$(awk '/^VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$pid/status" 2>/dev/null || true)
        if [[ -n $r ]]; then trace+=("$r"); fi
        sleep 0.25
    done
    wait "$pid" || true
    rm -rf "$REPORT_DIR"
    n=${#trace[@]}
    if ((n < 10)); then
        RSS_TENTHS[$label]="n/a (the run took $n quarter-second samples, fewer than ten)"
        return 0
    fi
    for ((i = 1; i <= 10; i++)); do
        tenths+=("${trace[$(((n * i + 9) / 10 - 1))]}")
    done
    RSS_TENTHS[$label]="${tenths[*]}"
}

warm() {
    log "warming the page cache: $1"
    cat "$1" >/dev/null
}

SIP_IDS=(tcpdump tshark calls stats alerts messages rtp report)
MIX_IDS=(tcpdump tshark calls calls-no-rtp stats alerts messages rtp report)
LIN_IDS=(calls alerts report)
NG_IDS=(tcpdump calls)

bench_capture() { # bench_capture LABEL IDS...
    local label=$1 id
    shift
    warm "${CAP_FILE[$label]}"
    for id in "$@"; do
        if [[ $id == tshark ]]; then
            run_tshark "$label"
            warm "${CAP_FILE[$label]}" # tshark's gigabytes of heap may have pushed it out
        else
            run_cmd "$label" "$id"
        fi
    done
}

bench_capture sip "${SIP_IDS[@]}"
rss_trace sip
for label in sip1 sip2; do
    bench_capture "$label" "${LIN_IDS[@]}"
done
bench_capture mix "${MIX_IDS[@]}"
rss_trace mix
if [[ -z $NG_STATE ]]; then bench_capture ng "${NG_IDS[@]}"; fi
LOAD_END=$(cut -d' ' -f1 /proc/loadavg)

# ---------------------------------------------------------------- figures
usable() { [[ ${R_STATE[$1]:-} == ok && -n ${R_SEC[$1]:-} ]]; }
# ratio A B: time of A over time of B ("n/a" when either is missing)
ratio() {
    if usable "$1" && usable "$2"; then
        calc "b = ${R_SEC[$2]}; if (b > 0) printf \"%.2f\", ${R_SEC[$1]} / b; else printf \"inf\""
    else
        printf 'n/a'
    fi
}
mib() { calc "printf \"%.1f\", $1 / 1024"; }
AIMS_MET=0
AIMS_MISSED=()
AIMS_UNKNOWN=0
declare -A A_TIME A_RSS
# count_aim MET TEXT: MET is yes, no or n/a; TEXT describes a missed aim for the summary.
count_aim() {
    case $1 in
        yes) AIMS_MET=$((AIMS_MET + 1)) ;;
        no) AIMS_MISSED+=("$2") ;;
        *) AIMS_UNKNOWN=$((AIMS_UNKNOWN + 1)) ;;
    esac
}
# check_aims LABEL ID: sets A_TIME and A_RSS of the row ("–" where no aim applies) and counts
# them. Not to be called in a subshell (the counts would be lost).
check_aims() {
    local label=$1 id=$2 key=$1/$2 ref limit r met
    case $id in
        calls) ref=tcpdump limit=2 ;;
        stats | alerts) ref=calls limit=1.5 ;;
        report) ref=calls limit=3 ;;
        messages) ref=calls limit=2 ;;
        *) ref="" ;;
    esac
    if [[ -z $ref ]]; then
        A_TIME[$key]="–"
    elif ! usable "$key"; then
        A_TIME[$key]="≤ $limit× $ref: n/a (${R_STATE[$key]:-not run})"
        count_aim n/a ""
    else
        r=$(ratio "$key" "$label/$ref")
        if [[ $r == n/a || $r == inf ]]; then
            if [[ $r == inf ]]; then
                A_TIME[$key]="≤ $limit× $ref: n/a ($ref's time rounds to 0.00 s)"
            else
                A_TIME[$key]="≤ $limit× $ref: n/a (no $ref time)"
            fi
            count_aim n/a ""
        else
            met=$(calc "print ($r <= $limit) ? \"yes\" : \"no\"")
            A_TIME[$key]="≤ $limit× $ref: $met ($r×)"
            count_aim "$met" "$label: ${CMD_TEXT[$id]} takes $r× $ref (aim ≤ $limit×)"
        fi
    fi
    if [[ $id == tcpdump || $id == tshark ]]; then
        A_RSS[$key]="–"
    elif ! usable "$key"; then
        A_RSS[$key]="RSS < 256 MB: n/a"
        count_aim n/a ""
    else
        met=$(calc "print (${R_KIB[$key]} * 1024 < $RSS_AIM_BYTES) ? \"yes\" : \"no\"")
        A_RSS[$key]="RSS < 256 MB: $met"
        count_aim "$met" "$label: ${CMD_TEXT[$id]} peaks at $(mib "${R_KIB[$key]}") MiB (aim < 256 MB = 244.1 MiB)"
    fi
}
for id in "${SIP_IDS[@]}"; do check_aims sip "$id"; done
for id in "${MIX_IDS[@]}"; do check_aims mix "$id"; done
# The pcapng rows have no aim of their own (the issue's aims are on the two captures above).
for id in "${NG_IDS[@]}"; do A_TIME[ng/$id]="–" A_RSS[ng/$id]="–"; done

# Tables are built as tab-separated lines (first line the header) and printed either as
# Markdown or as aligned text; ALIGN holds one l or r per column.
emit() { # emit md|text ALIGN < TSV
    awk -F'\t' -v fmt="$1" -v align="$2" '
        function width(s) { gsub(/×|≤|–|—|·/, "x", s); return length(s) }
        { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; w = width($i); if (w > wid[i]) wid[i] = w } rows = NR; if (NF > cols) cols = NF }
        END {
            for (r = 1; r <= rows; r++) {
                line = ""
                for (i = 1; i <= cols; i++) {
                    c = cell[r, i]
                    if (fmt == "md") { line = line "| " c " " }
                    else {
                        pad = sprintf("%" (wid[i] - width(c)) "s", "")
                        line = line (i > 1 ? "  " : "") (substr(align, i, 1) == "r" ? pad c : c pad)
                    }
                }
                if (fmt == "md") line = line "|"
                else sub(/ +$/, "", line)
                print line
                if (r == 1) {
                    sep = ""
                    for (i = 1; i <= cols; i++) {
                        if (fmt == "md") sep = sep (substr(align, i, 1) == "r" ? "|---:" : "|---")
                        else { d = sprintf("%" wid[i] "s", ""); gsub(/ /, "-", d); sep = sep (i > 1 ? "  " : "") d }
                    }
                    print sep (fmt == "md" ? "|" : "")
                }
            }
        }'
}

# capture_table LABEL IDS...: the TSV of one capture's table.
capture_table() {
    local label=$1 id key s ts_mark="" name
    shift
    if [[ -n ${R_NOTE[$label/tshark]:-} ]]; then ts_mark="*"; fi
    printf 'command\tseconds\tMB/s\t× tcpdump\t× tshark sip,stat%s\t× calls\tpeak RSS MiB\ttime aim\tmemory aim\n' "$ts_mark"
    for id in "$@"; do
        key=$label/$id
        name=${CMD_TEXT[$id]}
        if usable "$key"; then
            s=${R_SEC[$key]}
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$s" \
                "$(calc "if ($s > 0) printf \"%.1f\", ${CAP_BYTES[$label]} / $s / 1e6; else printf \"inf\"")" \
                "$(ratio "$key" "$label/tcpdump")" "$(ratio "$key" "$label/tshark")$ts_mark" \
                "$(ratio "$key" "$label/calls")" "$(mib "${R_KIB[$key]}")" \
                "${A_TIME[$key]}" "${A_RSS[$key]}"
        else
            printf '%s\t%s\t\t\t\t\t%s\t%s\t%s\n' "$name" "${R_STATE[$key]:-not run}" \
                "${R_KIB[$key]:+$(mib "${R_KIB[$key]}")}" "${A_TIME[$key]}" "${A_RSS[$key]}"
        fi
    done
}

TABLE_SIP=$(capture_table sip "${SIP_IDS[@]}")
TABLE_MIX=$(capture_table mix "${MIX_IDS[@]}")
TABLE_NG=""
if [[ -z $NG_STATE ]]; then TABLE_NG=$(capture_table ng "${NG_IDS[@]}"); fi

# Linearity: calls, alerts and report on the SIP-only capture at 1x, 2x and 4x.
lin_table() {
    local id label s mult
    printf 'command\tsize\tcalls\tbytes\tseconds\ts per GB\tpeak RSS MiB\n'
    for id in "${LIN_IDS[@]}"; do
        for label in sip1 sip2 sip; do
            case $label in sip1) mult=1× ;; sip2) mult=2× ;; *) mult=4× ;; esac
            if usable "$label/$id"; then
                s=${R_SEC[$label/$id]}
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${CMD_TEXT[$id]}" "$mult" "${CAP_CALLS[$label]}" \
                    "${CAP_BYTES[$label]}" "$s" "$(calc "printf \"%.2f\", $s / (${CAP_BYTES[$label]} / 1e9)")" \
                    "$(mib "${R_KIB[$label/$id]}")"
            else
                printf '%s\t%s\t%s\t%s\t%s\t\t\n' "${CMD_TEXT[$id]}" "$mult" "${CAP_CALLS[$label]}" \
                    "${CAP_BYTES[$label]}" "${R_STATE[$label/$id]:-not run}"
            fi
        done
    done
}
# A command counts as linear when its seconds per GB at 4x are at most LINEAR_SLACK times those
# at 1x (the script's own reading of "linear"; the table shows the figures). Counted as aims, so
# this runs in the main shell.
LINEAR_SLACK=1.25
lin_summary() {
    local id t r b p m
    b=$(calc "printf \"%.2f\", ${CAP_BYTES[sip]} / ${CAP_BYTES[sip1]}")
    TABLE_LIN_SUM=$(printf 'command\tt(4×)/t(1×)\tbytes(4×)/bytes(1×)\ts per GB 4× / 1×\tRSS 4× / 1×\tlinear (s per GB 4× ≤ %s× 1×)' "$LINEAR_SLACK")
    for id in "${LIN_IDS[@]}"; do
        t=$(ratio "sip/$id" "sip1/$id")
        if [[ $t == n/a || $t == inf ]]; then
            TABLE_LIN_SUM+=$'\n'"${CMD_TEXT[$id]}"$'\tn/a\t'"$b"$'\t\t\tn/a'
            count_aim n/a ""
            continue
        fi
        p=$(calc "printf \"%.2f\", $t / $b")
        r=$(calc "printf \"%.2f\", ${R_KIB[sip/$id]} / ${R_KIB[sip1/$id]}")
        m=$(calc "print ($p <= $LINEAR_SLACK) ? \"yes\" : \"no\"")
        count_aim "$m" "linearity: ${CMD_TEXT[$id]} takes $t× the time at 4× the size ($b× the bytes; aim: s per GB ≤ $LINEAR_SLACK× those at 1×)"
        TABLE_LIN_SUM+=$'\n'"${CMD_TEXT[$id]}"$'\t'"$t"$'\t'"$b"$'\t'"$p"$'\t'"$r"$'\t'"$m"
    done
}
TABLE_LIN=$(lin_table)
lin_summary

CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
RAM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ $REV != unknown && -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    REV="$REV-dirty"
fi
DIRTY_NOTE=""
[[ $REV == *-dirty ]] && DIRTY_NOTE=" (-dirty: tracked files changed)"
SIPSCOPE_VERSION=$("$SIPSCOPE" --version 2>/dev/null || echo "n/a")
TSHARK_VERSION=$(tshark --version 2>/dev/null | head -n 1 | sed 's/\.$//' || true)
TCPDUMP_VERSION=$(tcpdump --version 2>&1 | head -n 1 || true)
cap_line() { # cap_line LABEL NAME [QUOTE]: QUOTE (a backquote for Markdown) around file and command
    local l=$1 q=${3:-}
    printf '%s: %s%s%s (%s%s%s): %s bytes (%s GiB), %s packets, %s calls, %s SIP messages, %s RTP packets' \
        "$2" "$q" "${CAP_FILE[$l]}" "$q" "$q" "${CAP_ARGS[$l]}" "$q" "${CAP_BYTES[$l]}" \
        "$(calc "printf \"%.2f\", ${CAP_BYTES[$l]} / $GIB")" "$(stat_key packets "${CAP_STATS[$l]}")" \
        "${CAP_CALLS[$l]}" "$(stat_key sip_messages "${CAP_STATS[$l]}")" "$(stat_key rtp_packets "${CAP_STATS[$l]}")"
}
NOTES=()
for label in sip mix; do
    for id in "${MIX_IDS[@]}"; do
        if [[ -n ${R_NOTE[$label/$id]:-} ]]; then NOTES+=("$label: ${CMD_TEXT[$id]}: ${R_NOTE[$label/$id]}"); fi
    done
done
SMOKE=""
if [[ -n ${BENCH_SIZE_CALLS:-} ]]; then
    SMOKE="SMOKE RUN (BENCH_SIZE_CALLS=$BENCH_SIZE_CALLS${BENCH_MIX_CALLS:+, BENCH_MIX_CALLS=$BENCH_MIX_CALLS}): the captures are not sized to >= 1 GiB; these figures do not prove the aims"
fi
TSHARK_STATE=""
[[ ${R_STATE[sip/tshark]:-} == ok ]] || TSHARK_STATE="tshark: ${R_STATE[sip/tshark]:-not run}"

summary_lines() {
    local m
    local unknown=""
    ((AIMS_UNKNOWN == 0)) || unknown=" ($AIMS_UNKNOWN could not be checked)"
    echo "Aims met: $AIMS_MET of $((AIMS_MET + ${#AIMS_MISSED[@]}))$unknown"
    for m in "${AIMS_MISSED[@]}"; do
        echo "missed: $m"
    done
}

# ---------------------------------------------------------------- output
{
    echo "# sipscope whole-run benchmark (issue 18)"
    echo
    if [[ -n $SMOKE ]]; then echo "**$SMOKE**"; echo; fi
    if [[ -n $LOAD_WARNING ]]; then echo "**$LOAD_WARNING**"; echo; fi
    echo "- date: $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
    echo "- host: ${CPU:-unknown CPU}, $(nproc) CPUs, $RAM RAM; load average $LOAD_START at the start, $LOAD_END at the end"
    echo "- sipscope: \`$SIPSCOPE\` ($SIPSCOPE_VERSION, from $SIPSCOPE_ORIGIN); this tree's \`git rev-parse --short HEAD\`: $REV${DIRTY_NOTE}"
    echo "- tshark: ${TSHARK_VERSION:-n/a}; tcpdump: ${TCPDUMP_VERSION:-n/a}"
    echo "- method: $REPS run(s) per command$( ((REPS > 1)) && echo ': median time, largest peak RSS'), page cache warm, \`/usr/bin/time -f '%e %M'\`, stdout to /dev/null; MB/s = 10^6 bytes of capture per second; × X = this command's time / X's time; RSS in MiB (2^20 bytes), the aim 256 MB = 256·10^6 bytes = 244.1 MiB"
    echo "- $(cap_line sip "SIP-only capture (4×)" '`')"
    echo "- $(cap_line sip2 "SIP-only at 1/2 (2×)" '`')"
    echo "- $(cap_line sip1 "SIP-only at 1/4 (1×)" '`')"
    echo "- $(cap_line mix "mixed capture" '`')"
    if [[ -z $NG_STATE ]]; then echo "- $(cap_line ng "mixed capture as pcapng" '`')"; fi
    echo
    echo "## SIP-only capture ($(calc "printf \"%.2f\", ${CAP_BYTES[sip]} / $GIB") GiB)"
    echo
    emit md lrrrrrrll <<<"$TABLE_SIP"
    echo
    echo "## Mixed SIP+RTP capture ($(calc "printf \"%.2f\", ${CAP_BYTES[mix]} / $GIB") GiB)"
    echo
    emit md lrrrrrrll <<<"$TABLE_MIX"
    echo
    for n in "${NOTES[@]}"; do echo "\\* $n"; echo; done
    [[ -n $TSHARK_STATE ]] && { echo "$TSHARK_STATE"; echo; }
    echo "## The mixed capture as pcapng"
    echo
    if [[ -n $NG_STATE ]]; then echo "$NG_STATE"; else emit md lrrrrrrll <<<"$TABLE_NG"; fi
    echo
    echo "## Linearity: SIP-only capture at 1×, 2× and 4× its size"
    echo
    emit md llrrrrr <<<"$TABLE_LIN"
    echo
    emit md lrrrrl <<<"$TABLE_LIN_SUM"
    echo
    if [[ ${BENCH_RSS_TRACE:-} == 1 ]]; then
        echo "## The report's resident size (MiB) at each tenth of one more run"
        echo
        echo "- SIP-only: ${RSS_TENTHS[sip]:-n/a}"
        echo "- mixed: ${RSS_TENTHS[mix]:-n/a}"
        echo
    fi
    echo "## Summary"
    echo
    summary_lines | sed 's/^/- /'
    echo
    echo "## Commands (exact, as run)"
    echo
    echo '```sh'
    for label in sip sip2 sip1 mix ng; do
        for id in "${MIX_IDS[@]}"; do
            if [[ -n ${R_EXACT[$label/$id]:-} ]]; then echo "${R_EXACT[$label/$id]}"; fi
        done
    done
    echo '```'
} >"$RESULTS"

echo
[[ -n $SMOKE ]] && echo "$SMOKE"
[[ -n $LOAD_WARNING ]] && echo "$LOAD_WARNING"
echo "sipscope $REV ($SIPSCOPE), ${CPU:-unknown CPU}, $(nproc) CPUs, $RAM; load $LOAD_START at the start, $LOAD_END at the end"
echo
cap_line sip "SIP-only (4×)"
echo
emit text lrrrrrrll <<<"$TABLE_SIP"
echo
cap_line mix "mixed"
echo
emit text lrrrrrrll <<<"$TABLE_MIX"
for n in "${NOTES[@]}"; do echo "* $n"; done
[[ -n $TSHARK_STATE ]] && echo "$TSHARK_STATE"
echo
if [[ -n $NG_STATE ]]; then
    echo "$NG_STATE"
else
    cap_line ng "mixed as pcapng"
    echo
    emit text lrrrrrrll <<<"$TABLE_NG"
fi
echo
echo "Linearity (SIP-only; 1× = ${CAP_BYTES[sip1]} bytes, 2× = ${CAP_BYTES[sip2]}, 4× = ${CAP_BYTES[sip]}):"
emit text llrrrrr <<<"$TABLE_LIN"
echo
emit text lrrrrl <<<"$TABLE_LIN_SUM"
if [[ ${BENCH_RSS_TRACE:-} == 1 ]]; then
    echo
    echo "report RSS MiB at each tenth of one more run: SIP-only ${RSS_TENTHS[sip]:-n/a}; mixed ${RSS_TENTHS[mix]:-n/a}"
fi
echo
summary_lines
echo "written: $RESULTS"
