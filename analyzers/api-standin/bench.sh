#!/bin/sh
# Job latency of each network port against its Python original, side by side in one run, on the
# same local API stand-in (both through its CONNECT proxy, both trusting its CA):
#
#   sh analyzers/api-standin/bench.sh <release target dir> <python with cortexutils, requests,
#       greynoise==3.0.1> <Cortex-Analyzers checkout> [jobs per row]
#
# For each port, `cortex-runner bench` runs N jobs of the built-in component in the sandbox
# (allowed only its API origin) and, with --compare-process, the same N jobs as one Python
# process per job (Cortex's process runner); job folders on tmpfs. Prints one JSON object per row.
set -eu
TARGET=$1
PYTHON=$2
ORIGINALS=$3
JOBS=${4:-100}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cortex-network-bench.XXXXXX")
STANDIN=""
cleanup() {
    [ -n "$STANDIN" ] && kill "$STANDIN" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
"$TARGET/release/api-standin" --ca-file "$WORK/ca.pem" > "$WORK/standin.json" 2> "$WORK/standin.log" &
STANDIN=$!
i=0
until [ -s "$WORK/standin.json" ]; do
    i=$((i + 1))
    if [ "$i" -gt 100 ]; then echo "api-standin did not start" >&2; exit 2; fi
    sleep 0.1
done
PROXY=$(sed -n 's/.*"proxy":"\([^"]*\)".*/\1/p' "$WORK/standin.json")
CA_JSON=$("$PYTHON" -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$WORK/ca.pem")
# The Python originals: Cortex points REQUESTS_CA_BUNDLE at the job's cacerts.
export REQUESTS_CA_BUNDLE="$WORK/ca.pem"
MODULES="$TARGET/wasm-guests/wasm32-wasip2/release"
row() { # worker, origin, data, data type, config keys (JSON fragment), original script
    config="{$5, \"proxy\": {\"https\": \"$PROXY\"}, \"cacerts\": $CA_JSON}"
    echo "== $1 ($3)" >&2
    "$TARGET/release/cortex-runner" bench --module "$MODULES/$1.wasm" --allow "$2" \
        --data "$3" --data-type "$4" --config "$config" --jobs "$JOBS" \
        --compare-process "$PYTHON $6"
}
row AbuseIPDB https://api.abuseipdb.com 118.25.6.39 ip '"key": "test-key", "days": 30' \
    "$ORIGINALS/analyzers/AbuseIPDB/abuseipdb.py"
row URLhaus https://urlhaus-api.abuse.ch files.example-malware.test domain '"API_Key": "test-key"' \
    "$ORIGINALS/analyzers/URLhaus/URLhaus_analyzer.py"
row GreyNoise https://api.greynoise.io 45.83.66.18 ip '"key": "test-key"' \
    "$ORIGINALS/analyzers/GreyNoise/greynoisev3.py"
