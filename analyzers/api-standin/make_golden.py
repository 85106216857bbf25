#!/usr/bin/env python3
"""Regenerates the goldens of the network analyzers' ports (AbuseIPDB, URLhaus, GreyNoise) by
running each Python original against the API stand-in, as Cortex's process runner runs it.

Usage (from the workspace root):

    make_golden.py --originals DIR [--python PY] [--standin BIN] [PORT ...]

  --originals DIR  a Cortex-Analyzers tree holding analyzers/AbuseIPDB, analyzers/URLhaus and
                   analyzers/GreyNoise (a checkout, or `git archive` of them, see the README)
  --python PY      the Python that runs the originals, with cortexutils, requests and
                   greynoise==3.0.1 installed (default: this script's Python)
  --standin BIN    the stand-in binary (default: target/debug/api-standin; `cargo build -p
                   api-standin` first)
  PORT             abuseipdb, urlhaus, greynoise (default: all three)

For each case folder <port crate>/tests/corpus/<case>/ it starts nothing new: one stand-in serves
the whole run. It then
  1. reads input.json and fills the placeholders: "STANDIN_PORT" inside any string becomes the
     stand-in's port (config.proxy.https = "http://127.0.0.1:STANDIN_PORT"), and a string equal to
     "STANDIN_CA_PEM" (config.cacerts) becomes the stand-in's CA in PEM;
  2. makes a job folder as Cortex does: input/input.json, input/cacerts when config.cacerts is
     set (and REQUESTS_CA_BUNDLE pointing at it, as Cortex sets it), an empty output/;
  3. runs `<python> <script> <job folder>` with the proxy variables and CA-bundle variables of
     this environment removed (cortexutils sets https_proxy from config.proxy.https itself);
  4. reads output/output.json and puts the placeholders back (the CA PEM, and
     "127.0.0.1:<port>" inside any string), and writes it, pretty-printed, as expected.json.
When the original crashes without output.json, the golden is {"success": false,
"errorMessage": <the traceback's last line>}, as analyzers/golden/make_golden.py does.

It then prints the stand-in's counters, to show the originals went through the proxy.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

PORTS = {
    "abuseipdb": "analyzers/AbuseIPDB/abuseipdb.py",
    "urlhaus": "analyzers/URLhaus/URLhaus_analyzer.py",
    "greynoise": "analyzers/GreyNoise/greynoisev3.py",
}

PORT_PLACEHOLDER = "STANDIN_PORT"
CA_PLACEHOLDER = "STANDIN_CA_PEM"

# Variables that would send the originals elsewhere or trust another CA.
SCRUBBED = {
    "http_proxy", "https_proxy", "all_proxy", "no_proxy",
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR",
}

CASE_TIMEOUT_S = 120


def map_strings(value, f):
    if isinstance(value, str):
        return f(value)
    if isinstance(value, list):
        return [map_strings(v, f) for v in value]
    if isinstance(value, dict):
        return {k: map_strings(v, f) for k, v in value.items()}
    return value


def fill(value, port, ca_pem):
    return map_strings(value, lambda s: ca_pem if s == CA_PLACEHOLDER else s.replace(PORT_PLACEHOLDER, str(port)))


def restore(value, port, ca_pem):
    addr = f"127.0.0.1:{port}"
    return map_strings(
        value,
        lambda s: CA_PLACEHOLDER if s == ca_pem else s.replace(addr, f"127.0.0.1:{PORT_PLACEHOLDER}"),
    )


def run_case(python, script, case_dir, port, ca_pem):
    with open(os.path.join(case_dir, "input.json"), encoding="utf-8") as f:
        job_input = fill(json.load(f), port, ca_pem)
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    with tempfile.TemporaryDirectory(prefix="cortex-job-") as job:
        os.mkdir(os.path.join(job, "input"))
        os.mkdir(os.path.join(job, "output"))
        with open(os.path.join(job, "input", "input.json"), "w", encoding="utf-8") as f:
            json.dump(job_input, f, ensure_ascii=False)
        cacerts = (job_input.get("config") or {}).get("cacerts")
        if isinstance(cacerts, str) and cacerts.strip():
            path = os.path.join(job, "input", "cacerts")
            with open(path, "w", encoding="utf-8") as f:
                f.write(cacerts)
            env["REQUESTS_CA_BUNDLE"] = path
        started = time.monotonic()
        proc = subprocess.run(
            [python, script, job],
            capture_output=True,
            text=True,
            env=env,
            cwd=os.path.dirname(script),
            timeout=CASE_TIMEOUT_S,
        )
        elapsed = time.monotonic() - started
        out = os.path.join(job, "output", "output.json")
        if os.path.exists(out) and os.path.getsize(out) > 0:
            with open(out, encoding="utf-8") as f:
                report = json.load(f)
        else:
            lines = [l for l in proc.stderr.splitlines() if l.strip()]
            report = {"success": False, "errorMessage": lines[-1] if lines else ""}
    return restore(report, port, ca_pem), elapsed


def start_standin(binary):
    proc = subprocess.Popen([binary], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        proc.wait()
        sys.exit(f"{binary} ended before printing its address (exit {proc.returncode})")
    info = json.loads(line)
    with open(info["ca_file"], encoding="utf-8") as f:
        info["ca_pem"] = f.read()
    return proc, info


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--originals", required=True)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--standin", default=os.path.join(ROOT, "target", "debug", "api-standin"))
    parser.add_argument("ports", nargs="*", metavar="PORT")
    args = parser.parse_args()
    ports = args.ports or list(PORTS)
    for name in ports:
        if name not in PORTS:
            sys.exit(f"{name}: unknown port (expected one of: {', '.join(PORTS)})")
    if not os.path.isfile(args.standin):
        sys.exit(f"{args.standin}: not found (run `cargo build -p api-standin`, or pass --standin)")
    for name in ports:
        script = os.path.join(os.path.abspath(args.originals), PORTS[name])
        if not os.path.isfile(script):
            sys.exit(f"{script}: not found (pass --originals, a tree holding {PORTS[name]})")

    proc, info = start_standin(args.standin)
    try:
        port = int(info["addr"].rsplit(":", 1)[1])
        for name in ports:
            script = os.path.join(os.path.abspath(args.originals), PORTS[name])
            corpus = os.path.join(ROOT, "analyzers", name, "tests", "corpus")
            for case in sorted(os.listdir(corpus)):
                case_dir = os.path.join(corpus, case)
                if not os.path.isdir(case_dir):  # relaxed.json
                    continue
                report, elapsed = run_case(args.python, script, case_dir, port, info["ca_pem"])
                text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
                with open(os.path.join(case_dir, "expected.json"), "w", encoding="utf-8") as f:
                    f.write(text)
                outcome = "success" if report.get("success") else "failure"
                print(f"{name}/{case} {outcome} {elapsed:.1f}s")
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(info["stats"]) as r:
            print("stand-in counters:", r.read().decode())
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
