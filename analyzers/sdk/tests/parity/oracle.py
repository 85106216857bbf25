#!/usr/bin/env python3
"""The parity oracle: runs the real cortexutils 2.2.1 on the SDK's parity corpus.

Usage:
  oracle.py cases FILE...   run every case of the corpus files through a cortexutils Analyzer or
                            Responder on a temporary job folder; print one JSON object per case
  oracle.py types           read a JSON list of strings on stdin; print the list of the types
                            cortexutils' Extractor gives them (check_string)

The case format and the harness are described in tests/parity/README.md; tests/parity.rs does the
same with the Rust SDK and compares.
"""

import importlib.metadata
import json
import os
import sys
import tempfile

try:
    from cortexutils.analyzer import Analyzer
    from cortexutils.extractor import Extractor
    from cortexutils.responder import Responder
except ImportError:
    print("cortexutils is not installed: pip install cortexutils==2.2.1", file=sys.stderr)
    sys.exit(3)

VERSION = importlib.metadata.version("cortexutils")
if VERSION != "2.2.1":
    print(f"cortexutils {VERSION} is installed, the parity test needs 2.2.1: "
          "pip install cortexutils==2.2.1", file=sys.stderr)
    sys.exit(3)

DEFAULT_INPUT = {
    "dataType": "other",
    "data": "observable.example",
    "tlp": 2,
    "pap": 2,
    "message": "",
    "parameters": {},
    "config": {},
}


class HookFailure(Exception):
    """Raised by a hook the case asks to fail."""


def job_input(case):
    """The input.json of a case: the defaults, updated with `input`, minus `drop`."""
    data = dict(DEFAULT_INPUT)
    data.update(case.get("input", {}))
    for key in case.get("drop", []):
        data.pop(key, None)
    return data


def summary_hook(self, case, raw):
    if case.get("summary_fails"):
        raise HookFailure("summary")
    if "taxonomies" not in case:
        return {}
    return {"taxonomies": [self.build_taxonomy(*t) for t in case["taxonomies"]]}


def operations_hook(self, case, raw):
    if case.get("operations_fails"):
        raise HookFailure("operations")
    return [self.build_operation(op_type, **params) for op_type, params in case.get("operations", [])]


def make_worker(case, job):
    base = Responder if case.get("kind") == "responder" else Analyzer

    class CaseWorker(base):
        def summary(self, raw):
            return summary_hook(self, case, raw)

        def operations(self, raw):
            return operations_hook(self, case, raw)

        def run(self):
            if "error" in case:
                self.error(case["error"])
            self.report(case["full"])

    return CaseWorker(job)


def run_case(case):
    with tempfile.TemporaryDirectory() as job:
        os.makedirs(os.path.join(job, "input"))
        os.makedirs(os.path.join(job, "output"))
        with open(os.path.join(job, "input", "input.json"), "w") as f:
            if "raw_input" in case:
                f.write(case["raw_input"])
            else:
                json.dump(job_input(case), f)
        for name, text in case.get("attachments", {}).items():
            with open(os.path.join(job, "input", name), "w") as f:
                f.write(text)
        result = {"name": case["name"], "exit": 0}
        try:
            make_worker(case, job).run()
        except SystemExit as e:
            result["exit"] = e.code
        except Exception as e:  # an uncaught exception: Python would print a traceback
            result["exit"] = 1
            result["crash"] = f"{type(e).__name__}: {e}"
        path = os.path.join(job, "output", "output.json")
        if os.path.exists(path):
            with open(path) as f:
                result["output"] = f.read()
        return result


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "types":
        extractor = Extractor()
        print(json.dumps([extractor.check_string(s) for s in json.load(sys.stdin)]))
    elif len(sys.argv) >= 3 and sys.argv[1] == "cases":
        results = []
        for path in sys.argv[2:]:
            with open(path) as f:
                for case in json.load(f):
                    results.append(run_case(case))
        print(json.dumps(results))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
