#!/usr/bin/env python3
"""Regenerates every case's expected.json of an analyzer crate by running the original Python analyzer.

Usage: make_golden.py <analyzer crate folder> <the original's script>

For example, from the workspace root with a checkout of TheHive-Project/Cortex-Analyzers:

    analyzers/golden/make_golden.py analyzers/validate-observable \\
        <checkout>/analyzers/ValidateObservable/ValidateObservable.py
    analyzers/golden/make_golden.py analyzers/safelinks-decoder \\
        <checkout>/analyzers/MSDefenderOffice365/safelinks_decoder.py

Each case folder under <crate>/tests/corpus/ holds one Cortex job input. This script copies the
case into a fresh job folder (input/ = the case files minus the goldens and helpers, output/
empty), runs the original as Cortex's process runner does (`python3 <script> <job folder>`), and
writes its output/output.json, pretty-printed, as expected.json. The one normalisation: a file
artifact's random `file` name becomes "sha256:<hex of the file's bytes>", as the Rust harness
(analyzer-golden) does for the port's report.

When the original crashes (a Python traceback, no output.json), Cortex's process runner reports
the job as failed with the process output as the message; the golden is then
{"success": false, "errorMessage": <the traceback's last line>}, see the crate README.

A case with a generate.py (a large input that is not committed) is generated first; its golden
is also stored gzip-compressed as expected.json.gz, which is what gets committed.

EmlParser and FileInfo have their own make_golden.py (tests/), with their extra normalisations.
"""
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = {"expected.json", "expected.json.gz", "generate.py", ".gitignore"}


def normalise(report, output_dir):
    for artifact in report.get("artifacts", []) or []:
        if isinstance(artifact, dict) and artifact.get("dataType") == "file" and "file" in artifact:
            with open(os.path.join(output_dir, artifact["file"]), "rb") as f:
                artifact["file"] = "sha256:" + hashlib.sha256(f.read()).hexdigest()
    return report


def run_case(script, case_dir):
    if os.path.exists(os.path.join(case_dir, "generate.py")):
        subprocess.run([sys.executable, "generate.py"], cwd=case_dir, check=True)
    with tempfile.TemporaryDirectory() as job:
        os.mkdir(os.path.join(job, "input"))
        os.mkdir(os.path.join(job, "output"))
        for name in sorted(os.listdir(case_dir)):
            if name not in SKIP:
                shutil.copy(os.path.join(case_dir, name), os.path.join(job, "input", name))
        proc = subprocess.run([sys.executable, script, job], capture_output=True, text=True)
        out = os.path.join(job, "output", "output.json")
        if os.path.exists(out):
            with open(out, encoding="utf-8") as f:
                return normalise(json.load(f), os.path.join(job, "output"))
        lines = [l for l in proc.stderr.splitlines() if l.strip()]
        return {"success": False, "errorMessage": lines[-1] if lines else ""}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    corpus = os.path.join(os.path.abspath(sys.argv[1]), "tests", "corpus")
    script = os.path.abspath(sys.argv[2])
    if not os.path.isdir(corpus):
        sys.exit(f"{corpus}: not found (pass an analyzer crate folder, e.g. analyzers/validate-observable)")
    if not os.path.isfile(script):
        sys.exit(f"{script}: not found (pass the original analyzer's .py in a Cortex-Analyzers checkout)")
    for case in sorted(os.listdir(corpus)):
        case_dir = os.path.join(corpus, case)
        if not os.path.isdir(case_dir):  # relaxed.json
            continue
        report = run_case(script, case_dir)
        text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
        with open(os.path.join(case_dir, "expected.json"), "w", encoding="utf-8") as f:
            f.write(text)
        if os.path.exists(os.path.join(case_dir, "generate.py")):
            with open(os.path.join(case_dir, "expected.json.gz"), "wb") as raw:
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
                    gz.write(text.encode("utf-8"))
        print(case, "success" if report.get("success") else "failure")


if __name__ == "__main__":
    main()
