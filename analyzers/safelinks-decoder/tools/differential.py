#!/usr/bin/env python3
"""Differential check of the port against the original on random odd Safe Links.

Usage: differential.py <Cortex-Analyzers checkout> <MSDefenderOffice365_SafeLinksDecoder binary> [N] [SEED]

Builds N random inputs from fragments that hit the tricky paths (case-insensitive matching with
Python's extra pairs, `url=` / `data=` order and emptiness, single and double escapes, invalid
UTF-8, non-ASCII between escapes, brackets, NFKC netlocs, userinfo), runs the original's logic
in-process (`is_safelink`, `decode_safelink`, `summary`, `artifacts`, as its `run` chains them)
and the port's binary (one job folder each), and prints every difference in `full`, `summary`,
`artifacts` or the error message. Exit status 1 if there is one.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

FRAGMENTS = [
    "https://", "http://", "HTTPS://", "nam02", "eur04", ".safelinks.protection.outlook.com",
    ".SAFELINKS.PROTECTION.OUTLOOK.COM", ".safel\u0131nks.protect\u0130on.outlook.com",
    ".\u017fafelin\u212as.protection.outlook.com", "/", "?", "&", "url=", "URL=", "data=", "Data=",
    "https%3A%2F%2F", "http%253A%252F%252F", "example.com", "%2F", "%25", "%", "%C3", "%A9", "\u00e9",
    "%E2%80%AE", "%FF", "%5B", "%5D", "%3A%3A1", "[", "]", "::1", "%40", "@", "%3A", ":8080",
    "\u2100", "exa%E2%84%80mple", "%23", "#", "v1.x", "127.0.0.1", " ", "\n", "sdata=x", "reserved=0",
]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    checkout, binary = sys.argv[1], os.path.abspath(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    rnd = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    sys.path.insert(0, os.path.join(checkout, "analyzers", "MSDefenderOffice365"))
    from safelinks_decoder import SafeLinksDecoder

    original = SafeLinksDecoder.__new__(SafeLinksDecoder)
    differences = 0
    for _ in range(n):
        data = "".join(rnd.choice(FRAGMENTS) for _ in range(rnd.randint(1, 10)))
        if not original.is_safelink(data):
            full = {"is_safelink": False, "original_url": data,
                    "message": "This URL is not an Office 365 ATP Safe Link"}
        else:
            decoded = original.decode_safelink(data)
            full = None if not decoded else {
                "is_safelink": True, "original_url": decoded,
                "safelink_domain": original._extract_safelink_domain(data), "safelink_input": data}
        if full is None:
            expected = "Could not decode the Safe Link - no matching pattern found"
        else:
            try:
                summary = original.summary(full)
            except Exception:
                summary = {}
            expected = {"summary": summary, "artifacts": original.artifacts(full), "full": full}
        with tempfile.TemporaryDirectory() as job:
            os.mkdir(os.path.join(job, "input"))
            os.mkdir(os.path.join(job, "output"))
            with open(os.path.join(job, "input", "input.json"), "w") as f:
                json.dump({"data": data, "dataType": "url", "tlp": 2, "pap": 2, "config": {}}, f)
            subprocess.run([binary, job], check=False)
            with open(os.path.join(job, "output", "output.json")) as f:
                report = json.load(f)
        if report["success"]:
            actual = {k: report[k] for k in ("summary", "artifacts", "full")}
        else:
            actual = report["errorMessage"]
        if json.dumps(actual) != json.dumps(expected):
            differences += 1
            print(f"{data!r}\n  original: {expected}\n  port:     {actual}")
    print(f"{n} inputs, {differences} differences")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
