#!/usr/bin/env bash
# Scaling benchmark of the media join when every call announces the same media address: a media
# server (or SBC) anchoring all media, desk phones with a fixed RTP port, sipp labs. Captures of
# 10k and 50k calls come from `gen-capture --shared-media` (every SDP offer announces
# 10.0.0.20:20000, every answer 10.0.0.21:30000); `sipscope calls`, `sipscope rtp` and
# `sipscope report` are timed on each, and the ratio of the largest to the smallest size is
# printed per command: about the ratio of the call counts (5 by default) when the join is linear.
# Variants: shared addresses with RTP, shared addresses without RTP (signalling only), and as a
# control the same calls and RTP with the generator's usual per-call addresses: once the join is
# linear, a shared row should cost about what its control row costs.
#
#   scripts/bench-shared-media.sh [CALLS...]     (default: 10000 50000)
#
# Environment:
#   SHARED_MEDIA_RTP_SECONDS=T  talk seconds with RTP per answered call (default 1: small files)
#   SHARED_MEDIA_SIGNALLING=0   skip the signalling-only variant (`--rtp-seconds 0`)
#   SHARED_MEDIA_CONTROL=0      skip the control variant (distinct media addresses)
#   SHARED_MEDIA_CPS=R          call rate of the captures (default: the generator's 20); at a
#                               higher rate more calls share the address at once (sipscope holds
#                               calls about five minutes after their end), e.g. 200 for an SBC
#   SHARED_MEDIA_SEED=S         generator seed (default 1)
#   SHARED_MEDIA_TIMEOUT=S      cap on one run in seconds (default 300); a capped run is shown as
#                               ">S" and its ratio as a lower bound
#   SHARED_MEDIA_REPS=N         runs per command: median time, largest peak RSS (default 1)
#   SHARED_MEDIA_OUT=DIR        captures, outputs and results (default target/bench-shared-media)
#   CARGO_TARGET_DIR            where cargo builds sipscope (default target)
#
# Timings use GNU time (`/usr/bin/time -f '%e %M'`: elapsed seconds, peak RSS KiB);
# on Debian/Ubuntu it is the package `time`. The page cache is warmed before timing.
# Results: printed as a table and written as Markdown to $SHARED_MEDIA_OUT/results[-cpsR].md.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

TARGET=${CARGO_TARGET_DIR:-target}
OUT=${SHARED_MEDIA_OUT:-target/bench-shared-media}
RESULTS=$OUT/results${SHARED_MEDIA_CPS:+-cps$SHARED_MEDIA_CPS}.md
SEED=${SHARED_MEDIA_SEED:-1}
RTP_SECONDS=${SHARED_MEDIA_RTP_SECONDS:-1}
CAP_S=${SHARED_MEDIA_TIMEOUT:-300}
REPS=${SHARED_MEDIA_REPS:-1}
CPS_ARGS=()
[[ -n ${SHARED_MEDIA_CPS:-} ]] && CPS_ARGS=(--cps "$SHARED_MEDIA_CPS")
SIZES=()

for arg in "$@"; do
    case "$arg" in
        -h | --help)
            sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *[!0-9]* | '')
            echo "bench-shared-media.sh: not a number of calls: $arg (try --help)" >&2
            exit 2
            ;;
        *) SIZES+=("$arg") ;;
    esac
done
((${#SIZES[@]} > 0)) || SIZES=(10000 50000)
for n in "$CAP_S" "$REPS" "$RTP_SECONDS" "$SEED"; do
    [[ $n =~ ^[0-9]+$ ]] || { echo "bench-shared-media.sh: SHARED_MEDIA_* must be numbers" >&2; exit 2; }
done
# Variants: name and generator arguments.
VARIANTS=("shared-rtp$RTP_SECONDS|--shared-media --rtp-seconds $RTP_SECONDS")
if [[ ${SHARED_MEDIA_SIGNALLING:-1} != 0 && $RTP_SECONDS != 0 ]]; then
    VARIANTS+=("shared-sip|--shared-media --rtp-seconds 0")
fi
if [[ ${SHARED_MEDIA_CONTROL:-1} != 0 ]]; then
    VARIANTS+=("distinct-rtp$RTP_SECONDS|--rtp-seconds $RTP_SECONDS")
fi

log() { printf '==> %s\n' "$*" >&2; }
stat_key() { awk -F': ' -v k="$1" '$1 == k { print $2 }' "$2"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

TIME=/usr/bin/time
if [[ ! -x $TIME ]]; then
    echo "bench-shared-media.sh: $TIME not found; install GNU time (Debian/Ubuntu: apt-get install time)" >&2
    exit 1
fi
mkdir -p "$OUT"

# ---------------------------------------------------------------- build
log "cargo build --release"
cargo build --release
# A copy: the target directory may be shared with other checkouts, whose builds would replace
# the binary in the middle of the runs.
SIPSCOPE=$OUT/sipscope
cp "$TARGET/release/sipscope" "$SIPSCOPE"
# The generator is one std-only file: rustc builds it in seconds, where `cargo build --example`
# would first build the dev-dependencies in release.
GEN=$OUT/gen-capture
if [[ ! -x $GEN || examples/gen-capture.rs -nt $GEN ]]; then
    log "rustc -O examples/gen-capture.rs"
    rustc --edition 2021 -C opt-level=3 -o "$GEN" examples/gen-capture.rs
fi

# ---------------------------------------------------------------- timing
# timed NAME CMD... : sets T_SEC, T_KIB, T_RC (stdout of CMD goes where the caller sends it).
# Each run is capped at CAP_S seconds (T_RC 124, T_SEC then the cap); with REPS > 1, T_SEC is
# the median time and T_KIB the largest peak RSS.
timed() {
    local name=$1
    shift
    T_RC=0
    local times=() kib=0 sec k rep
    for ((rep = 1; rep <= REPS; rep++)); do
        "$TIME" -f '%e %M' -o "$OUT/time.$name" timeout -k 10 "$CAP_S" "$@" 2>"$OUT/$name.stderr" || T_RC=$?
        read -r sec k < <(tail -n 1 "$OUT/time.$name")
        times+=("$sec")
        ((k > kib)) && kib=$k
        ((T_RC != 0)) && break
    done
    T_SEC=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    T_KIB=$kib
    if ((T_RC == 124 || T_RC == 137)); then
        log "$name: capped after $CAP_S s (timeout), peak RSS $(mib "$T_KIB") MiB so far"
    else
        log "$name: runs ${times[*]} s, median $T_SEC s, peak RSS $(mib "$T_KIB") MiB"
        ((T_RC == 0)) || log "$name exited with status $T_RC (see $OUT/$name.stderr)"
    fi
}

# Rows: variant|calls|command|seconds|rss KiB|state
ROWS=()
CAPTURES=()
COMMANDS=(calls rtp report)
for v in "${VARIANTS[@]}"; do
    vname=${v%%|*}
    read -r -a gen_args <<<"${v#*|}"
    for calls in "${SIZES[@]}"; do
        cap=$OUT/${vname}-${calls}calls-seed${SEED}${SHARED_MEDIA_CPS:+-cps$SHARED_MEDIA_CPS}.pcap
        stats=${cap%.pcap}.stats
        if [[ -f $cap && -f $stats && "$(stat -c %s "$cap")" == "$(stat_key file_bytes "$stats")" ]]; then
            log "reusing $cap"
        else
            log "generating $cap"
            "$GEN" --calls "$calls" --seed "$SEED" "${gen_args[@]}" "${CPS_ARGS[@]}" \
                --out "$cap.tmp" 2>"$stats.tmp"
            mv "$stats.tmp" "$stats"
            mv "$cap.tmp" "$cap"
        fi
        CAPTURES+=("$vname|$calls|$(stat -c %s "$cap")|$(stat_key packets "$stats")|$(stat_key rtp_streams "$stats")|$(stat_key duration_s "$stats")|gen-capture --calls $calls --seed $SEED ${gen_args[*]}${CPS_ARGS[*]:+ ${CPS_ARGS[*]}}")
        cat "$cap" >/dev/null
        for cmd in "${COMMANDS[@]}"; do
            id=$vname-$calls${SHARED_MEDIA_CPS:+-cps$SHARED_MEDIA_CPS}-$cmd
            case $cmd in
                calls)
                    log "timing: sipscope calls $cap --format csv"
                    timed "$id" "$SIPSCOPE" calls "$cap" --format csv --no-progress >"$OUT/$id.csv"
                    ;;
                rtp)
                    log "timing: sipscope rtp $cap --format csv"
                    timed "$id" "$SIPSCOPE" rtp "$cap" --format csv --no-progress >"$OUT/$id.csv"
                    ;;
                report)
                    rm -rf "$OUT/$id"
                    log "timing: sipscope report $cap -o $OUT/$id"
                    timed "$id" "$SIPSCOPE" report "$cap" -o "$OUT/$id" --no-progress >/dev/null
                    ;;
            esac
            state=ok
            if ((T_RC == 124 || T_RC == 137)); then
                state=timeout
            elif ((T_RC != 0)); then
                state="failed (exit $T_RC)"
            fi
            ROWS+=("$vname|$calls|$cmd|$T_SEC|$T_KIB|$state")
        done
    done
done

# ---------------------------------------------------------------- report
field() { # field ROW INDEX
    local IFS='|'
    local -a f
    read -r -a f <<<"$1"
    printf '%s' "${f[$2]:-}"
}
row_for() { # row_for VARIANT CALLS COMMAND
    local r
    for r in "${ROWS[@]}"; do
        if [[ $(field "$r" 0) == "$1" && $(field "$r" 1) == "$2" && $(field "$r" 2) == "$3" ]]; then
            printf '%s' "$r"
            return 0
        fi
    done
}
secs() { # the time cell: ">CAP" when capped
    case $(field "$1" 5) in
        ok) field "$1" 3 ;;
        timeout) printf '>%s' "$CAP_S" ;;
        *) printf '%s' "$(field "$1" 5)" ;;
    esac
}
# ratio SMALL_ROW BIG_ROW FIELD: big/small; ">=" when the big run was capped, "n/a" otherwise.
ratio() {
    local a b sa sb
    a=$(field "$1" "$3")
    b=$(field "$2" "$3")
    sa=$(field "$1" 5)
    sb=$(field "$2" 5)
    if [[ $sa != ok || -z $a || -z $b ]] || [[ $sb != ok && $sb != timeout ]]; then
        printf 'n/a'
    elif [[ $sb == timeout && $3 == 3 ]]; then
        awk -v a="$a" -v b="$CAP_S" 'BEGIN { if (a > 0) printf ">=%.1f", b / a; else printf "inf" }'
    else
        awk -v a="$a" -v b="$b" -v t="$sb" 'BEGIN { if (a > 0) printf "%s%.1f", (t == "timeout" ? ">=" : ""), b / a; else printf "inf" }'
    fi
}

SMALL=${SIZES[0]}
BIG=${SIZES[${#SIZES[@]} - 1]}
LINEAR=$(awk -v a="$SMALL" -v b="$BIG" 'BEGIN { printf "%.1f", b / a }')
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
HEAD="| variant | command |"
RULE="|---|---|"
for calls in "${SIZES[@]}"; do
    HEAD="$HEAD ${calls} calls s | ${calls} calls RSS MiB |"
    RULE="$RULE---:|---:|"
done
if ((${#SIZES[@]} > 1)); then
    HEAD="$HEAD time ${BIG}/${SMALL} | RSS ${BIG}/${SMALL} |"
    RULE="$RULE---:|---:|"
fi
{
    echo "# sipscope media join with one shared media address"
    echo
    echo "- date: $(date -u '+%Y-%m-%dT%H:%M:%SZ'); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (src modified)')"
    echo "- host: ${CPU:-unknown CPU}, $(nproc) CPUs, $(awk '/^MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
    echo "- method: $REPS run(s) per command, median time and largest peak RSS, page cache warm, \`/usr/bin/time -f '%e %M'\`, each run capped at $CAP_S s (\`timeout\`)"
    echo "- commands: \`sipscope calls FILE --format csv\`, \`sipscope rtp FILE --format csv\`, \`sipscope report FILE -o DIR\`"
    echo "- captures (shared: every SDP offer 10.0.0.20:20000, every answer 10.0.0.21:30000; distinct: the generator's per-call addresses):"
    for c in "${CAPTURES[@]}"; do
        echo "  - $(field "$c" 0), $(field "$c" 1) calls: $(field "$c" 2) bytes, $(field "$c" 3) packets, $(field "$c" 4) RTP streams, $(field "$c" 5) s of traffic (\`$(field "$c" 6)\`)"
    done
    echo "- linear scaling: time ratio about $LINEAR"
    echo
    echo "$HEAD"
    echo "$RULE"
    for v in "${VARIANTS[@]}"; do
        vname=${v%%|*}
        for cmd in "${COMMANDS[@]}"; do
            line="| $vname | $cmd |"
            for calls in "${SIZES[@]}"; do
                r=$(row_for "$vname" "$calls" "$cmd")
                line="$line $(secs "$r") | $(mib "$(field "$r" 4)") |"
            done
            if ((${#SIZES[@]} > 1)); then
                rs=$(row_for "$vname" "$SMALL" "$cmd")
                rb=$(row_for "$vname" "$BIG" "$cmd")
                line="$line $(ratio "$rs" "$rb" 3) | $(ratio "$rs" "$rb" 4) |"
            fi
            echo "$line"
        done
    done
} >"$RESULTS"

echo
printf '%-15s %-7s' variant command
for calls in "${SIZES[@]}"; do
    printf ' %12s %12s' "${calls}:s" "${calls}:MiB"
done
((${#SIZES[@]} > 1)) && printf ' %9s %9s' "time x" "RSS x"
echo
for v in "${VARIANTS[@]}"; do
    vname=${v%%|*}
    for cmd in "${COMMANDS[@]}"; do
        printf '%-15s %-7s' "$vname" "$cmd"
        for calls in "${SIZES[@]}"; do
            r=$(row_for "$vname" "$calls" "$cmd")
            printf ' %12s %12s' "$(secs "$r")" "$(mib "$(field "$r" 4)")"
        done
        if ((${#SIZES[@]} > 1)); then
            rs=$(row_for "$vname" "$SMALL" "$cmd")
            rb=$(row_for "$vname" "$BIG" "$cmd")
            printf ' %9s %9s' "$(ratio "$rs" "$rb" 3)" "$(ratio "$rs" "$rb" 4)"
        fi
        echo
    done
done
echo
echo "ratios: ${BIG} calls over ${SMALL} calls; linear is about $LINEAR"
echo "written: $RESULTS"
