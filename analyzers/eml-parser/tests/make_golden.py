#!/usr/bin/env python3
"""Regenerate the golden reports of the EmlParser corpus by running the original analyzer.

Usage: make_golden.py <path of a Cortex-Analyzers checkout> [case ...]

Every folder in corpus/ is one Cortex job input (input.json and, for files, `attachment`).
For each case a temporary job folder is built, the original `analyzers/EmlParser/parse.py`
is run on it with the current python3 (its requirements must be installed), and its
output/output.json is written pretty-printed to the case's expected.json with one
normalisation: the random `file` name of each file artifact becomes "sha256:<hex>" of the
bytes of that file. Strings longer than LONG_STRING characters (only the 20 MiB case has
them) are replaced by a digest marker, see reduce_long_strings(); tests/golden.rs applies the
same reduction to the port's output before comparing.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
LONG_STRING = 1 << 20


def reduce_long_strings(value):
    """Replace every string longer than LONG_STRING characters by a marker with its length and sha256."""
    if isinstance(value, str):
        if len(value) > LONG_STRING:
            digest = hashlib.sha256(value.encode("utf-8")).hexdigest()
            return "<long string: %d chars, sha256:%s>" % (len(value), digest)
        return value
    if isinstance(value, list):
        return [reduce_long_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: reduce_long_strings(v) for k, v in value.items()}
    return value


def normalise(report, output_dir):
    """Replace the random name of each file artifact by the sha256 of the file it names."""
    for artifact in report.get("artifacts", []) or []:
        if artifact.get("dataType") == "file" and "file" in artifact:
            with open(os.path.join(output_dir, artifact["file"]), "rb") as f:
                artifact["file"] = "sha256:" + hashlib.sha256(f.read()).hexdigest()
    return reduce_long_strings(report)


def run_case(original, case):
    case_dir = os.path.join(CORPUS, case)
    generator = os.path.join(case_dir, "generate.py")
    if os.path.exists(generator) and not os.path.exists(os.path.join(case_dir, "attachment")):
        subprocess.run([sys.executable, generator], check=True)
    with tempfile.TemporaryDirectory() as job:
        os.mkdir(os.path.join(job, "input"))
        os.mkdir(os.path.join(job, "output"))
        for name in os.listdir(case_dir):
            if name in ("expected.json", "generate.py", ".gitignore"):
                continue
            shutil.copy(os.path.join(case_dir, name), os.path.join(job, "input", name))
        script = os.path.join(original, "analyzers", "EmlParser", "parse.py")
        # The original opens nothing relative to its working directory, but run it from the job
        # folder anyway so that a stray relative path could not touch the corpus.
        subprocess.run([sys.executable, script, job], cwd=job, check=False)
        with open(os.path.join(job, "output", "output.json"), encoding="utf-8") as f:
            report = json.load(f)
        report = normalise(report, os.path.join(job, "output"))
    with open(os.path.join(case_dir, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(case, "ok" if report.get("success") else "error: " + str(report.get("errorMessage")))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    original = sys.argv[1]
    cases = sys.argv[2:] or sorted(os.listdir(CORPUS))
    for case in cases:
        run_case(original, case)


if __name__ == "__main__":
    main()
