#!/bin/sh
# Network for wasm analyzers, end to end on one machine, in one command:
#
#   sh examples/network-demo.sh
#
# starts api-standin (a local HTTPS stand-in of the AbuseIPDB, URLhaus and GreyNoise APIs, with a
# CONNECT proxy and a test CA generated at start), then runs the AbuseIPDB analyzer — a WASI 0.2
# component built into the runner — in the sandbox as Cortex would configure it: the API key, the
# proxy (`config.proxy.https`) and the CA (`config.cacerts`). Its policy (policies/AbuseIPDB.toml)
# allows https://api.abuseipdb.com and nothing else; the stand-in's counters, printed last, show
# what reached it. A second run asks the analyzer to follow a redirect to the cloud metadata
# address: the runner denies it and says so in the report. Nothing is left behind.
set -eu
cd "$(dirname "$0")/.."
cargo build --locked -q -p cortex-runner -p api-standin
ROOT=$(pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cortex-network-demo.XXXXXX")
STANDIN=""
cleanup() {
    [ -n "$STANDIN" ] && kill "$STANDIN" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

"$ROOT/target/debug/api-standin" --ca-file "$WORK/ca.pem" > "$WORK/standin.json" 2> "$WORK/standin.log" &
STANDIN=$!
i=0
until [ -s "$WORK/standin.json" ]; do
    i=$((i + 1))
    if [ "$i" -gt 100 ]; then echo "api-standin did not start:" >&2; cat "$WORK/standin.log" >&2; exit 2; fi
    sleep 0.1
done
PROXY=$(sed -n 's/.*"proxy":"\([^"]*\)".*/\1/p' "$WORK/standin.json")
STATS=$(sed -n 's/.*"stats":"\([^"]*\)".*/\1/p' "$WORK/standin.json")
CA=$(cat "$WORK/ca.pem")

echo "== cortex-runner explain AbuseIPDB"
"$ROOT/target/debug/cortex-runner" explain AbuseIPDB --data 1.2.3.4 --data-type ip
echo
echo "== cortex-runner run --analyzer AbuseIPDB --data 1.2.3.4 --data-type ip --worker-config key=test-key (through $PROXY)"
"$ROOT/target/debug/cortex-runner" run --analyzer AbuseIPDB --data 1.2.3.4 --data-type ip \
    --job-root "$WORK/jobs" --worker-config key=test-key \
    --worker-config "proxy={\"https\": \"$PROXY\"}" --worker-config "cacerts=$CA"
echo
echo "== the same, with the stand-in answering a redirect to http://169.254.169.254/latest/meta-data/"
"$ROOT/target/debug/cortex-runner" run --analyzer AbuseIPDB --data 1.2.3.4 --data-type ip \
    --job-root "$WORK/jobs" --worker-config "key=redirect:http://169.254.169.254/latest/meta-data/" \
    --worker-config "proxy={\"https\": \"$PROXY\"}" --worker-config "cacerts=$CA" || true
echo
echo "== what reached the stand-in ($STATS)"
python3 -c 'import json, sys, urllib.request; print(json.dumps(json.load(urllib.request.urlopen(sys.argv[1])), indent=2))' "$STATS"
