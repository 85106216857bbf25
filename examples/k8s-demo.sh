#!/bin/sh
# The Kubernetes backend end to end on one machine, in one command:
#
#   sh examples/k8s-demo.sh
#
# starts kube-standin (a local Kubernetes API server whose kubelet runs each container as a local
# process, reached through an ordinary kubeconfig), runs ValidateObservable as a Kubernetes Job
# through `cortex-runner run` (the "image" is `cortex-runner exec` on the analyzer's module, so the
# report is byte-identical to the in-process sandbox's), lists the Job with kubectl while it runs
# (when kubectl is installed: python3 -m pip install -r requirements-test.txt), and stops the
# server. Nothing is left behind.
set -eu
cd "$(dirname "$0")/.."
cargo build --locked -q -p cortex-runner -p kube-standin
ROOT=$(pwd)
MODULE="$ROOT/target/wasm-guests/wasm32-wasip1/release/ValidateObservable.wasm"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cortex-k8s-demo.XXXXXX")
STANDIN=""
cleanup() {
    [ -n "$STANDIN" ] && kill "$STANDIN" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
mkdir -p "$WORK/jobs" "$WORK/policies"

# The stand-in's image map: one image, the analyzer's module run by `cortex-runner exec`.
cat > "$WORK/standin.json" <<JSON
{"images": {"cortex-runner/validate-observable:demo": {"command":
  ["$ROOT/target/debug/cortex-runner", "exec", "--module", "$MODULE", "--job-dir"]}}}
JSON
"$ROOT/target/debug/kube-standin" --kubeconfig-out "$WORK/kubeconfig" --pvc-dir "$WORK/jobs" \
    --config "$WORK/standin.json" > "$WORK/standin.log" 2>&1 &
STANDIN=$!
i=0
until [ -s "$WORK/kubeconfig" ]; do
    i=$((i + 1))
    if [ "$i" -gt 100 ]; then echo "kube-standin did not start:" >&2; cat "$WORK/standin.log" >&2; exit 2; fi
    sleep 0.1
done

# The shipped policy, sent to Kubernetes instead of the sandbox.
sed 's/^backend = "wasm"/backend = "kubernetes"/' policies/ValidateObservable.toml \
    > "$WORK/policies/ValidateObservable.toml"
printf '\n[kubernetes]\nimage = "cortex-runner/validate-observable:demo"\n' \
    >> "$WORK/policies/ValidateObservable.toml"
cat > "$WORK/config.toml" <<TOML
[jobs]
root = "$WORK/jobs"
[policies]
dir = "$WORK/policies"
[kubernetes]
enabled = true
kubeconfig = "$WORK/kubeconfig"
namespace = "cortex"
# The stand-in's "images" are local programs: they run as the user running this script.
run_as_non_root = false
TOML

echo "== cortex-runner run --analyzer ValidateObservable --data 8.8.8.8 --data-type ip (backend = kubernetes)"
"$ROOT/target/debug/cortex-runner" run --config "$WORK/config.toml" --analyzer ValidateObservable \
    --data 8.8.8.8 --data-type ip &
RUN=$!
if command -v kubectl > /dev/null 2>&1; then
    sleep 0.5
    echo "== kubectl get jobs -n cortex (while it runs)"
    KUBECONFIG="$WORK/kubeconfig" kubectl --cache-dir "$WORK/kubectl-cache" get jobs -n cortex || true
fi
wait "$RUN"
