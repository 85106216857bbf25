#!/usr/bin/env python3
"""Regenerates tests/corpus/*/expected.json by running the original FileInfo analyzer.

Usage: make_golden.py <Cortex-Analyzers checkout> [case ...]

For each case it builds a fresh Cortex job folder (input/ = the case's files minus expected.json,
output/ empty), runs `python3 analyzers/FileInfo/fileinfo_analyzer.py <folder>` from the
original's directory, and writes its output/output.json pretty-printed, with one normalisation:
each file artifact's random `file` name becomes "sha256:<hex of the file's bytes>".

The original needs (see the README): cortexutils python-magic ssdeep pyexifinfo pefile pehashng
pdfid iocp oletools extract-msg IMAPClient stringsifter, and exiftool, libmagic and libfuzzy.
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


def normalise(report, output_dir):
    """Replaces each file artifact's random name by the sha256 of its bytes."""
    for artifact in report.get("artifacts", []) or []:
        if artifact.get("dataType") == "file" and "file" in artifact:
            with open(os.path.join(output_dir, artifact["file"]), "rb") as f:
                artifact["file"] = "sha256:" + hashlib.sha256(f.read()).hexdigest()
    return report


def run_case(analyzer_dir, case):
    src = os.path.join(CORPUS, case)
    generator = os.path.join(src, "generate.py")
    if not os.path.exists(os.path.join(src, "attachment")) and os.path.exists(generator):
        subprocess.run([sys.executable, generator], check=True)
    with tempfile.TemporaryDirectory(prefix="fileinfo-golden-") as job:
        os.makedirs(os.path.join(job, "input"))
        os.makedirs(os.path.join(job, "output"))
        for name in os.listdir(src):
            if name in ("expected.json", "generate.py", ".gitignore"):
                continue
            shutil.copy(os.path.join(src, name), os.path.join(job, "input", name))
        proc = subprocess.run(
            [sys.executable, "fileinfo_analyzer.py", job],
            cwd=analyzer_dir, capture_output=True, text=True,
        )
        with open(os.path.join(job, "output", "output.json")) as f:
            report = json.load(f)
        report = normalise(report, os.path.join(job, "output"))
    with open(os.path.join(src, "expected.json"), "w") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"{case}: exit {proc.returncode}")


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    analyzer_dir = os.path.join(os.path.abspath(sys.argv[1]), "analyzers", "FileInfo")
    cases = sys.argv[2:] or sorted(os.listdir(CORPUS))
    for case in cases:
        run_case(analyzer_dir, case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
