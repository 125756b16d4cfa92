#!/usr/bin/env bash
# Regenerates the example reports committed in reports/ from the captures in samples/, and the
# README's screenshot of one of them. Run from anywhere; it works in the repo root.
#
#   scripts/example-reports.sh
#
# The screenshot needs Debian's chromium and tests/js/node_modules (npm ci --prefix tests/js);
# without them the reports are still made and the old screenshot is kept.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release
SIPSCOPE=target/release/sipscope

make_report() {
    local dir=$1 title=$2
    shift 2
    rm -rf "reports/$dir"
    "$SIPSCOPE" report "$@" -o "reports/$dir" --title "$title" --no-progress
}

make_report faults "sipscope example · detector faults (samples/sipp-faults.pcap)" \
    samples/sipp-faults.pcap
make_report outcomes "sipscope example · one call per outcome through kamailio (samples/kamailio-sipp-outcomes.pcap)" \
    samples/kamailio-sipp-outcomes.pcap

if command -v node >/dev/null && [[ -x /usr/bin/chromium && -d tests/js/node_modules/puppeteer-core ]]; then
    shots=$(mktemp -d)
    node tests/js/report.mjs "$PWD/reports/faults/index.html" "$shots" answered >/dev/null
    cp "$shots/report-top.png" reports/screenshot-summary.png
    cp "$shots/report-alerts.png" reports/screenshot-alerts.png
    cp "$shots/report-call.png" reports/screenshot-call.png
    node tests/js/report.mjs "$PWD/reports/outcomes/index.html" "$shots" timeout >/dev/null
    cp "$shots/report-network.png" reports/screenshot-network.png
    rm -rf "$shots"
else
    echo "example-reports.sh: no chromium or puppeteer-core: screenshots not renewed" >&2
fi
echo "reports/faults/index.html reports/outcomes/index.html"
