#!/usr/bin/env python3
"""Differential check of the port against the original on random odd inputs.

Usage: differential.py <Cortex-Analyzers checkout> <ValidateObservable binary> [N] [SEED]

Builds N random observables (for every data type, from fragments chosen to hit the tricky paths:
Punycode, IDNA joiners and bidi, IPv6 forms, brackets, NFKC, final newlines, Python word
characters, ...), validates each with the original's methods (called directly, without a job
folder) and with the port's binary (one job folder each), and prints every difference. Exit
status 1 if there is one.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

FRAGMENTS = list("abcxyzABZ019.-_:/[]%@?#lLsSkKiI") + [
    "xn--", "http://", "https://", "::", "ffff", "127.0.0.1", "%41", "//", "com", "example", ".com",
    "v1.", "/24", "/255.255.0.0", "%eth0", "1.2.3.4", "fe80::", "2001:db8::", "3", "\n", " ", "\t",
    "\x00", "\x7f", "\u00fc", "\u0430", "\u017f", "\u212a", "\u200d", "\u200c", "\u094d", "\u0915",
    "\u05d0", "\u0627", "\u0645", "\u0660", "\u0661", "\u06f0", "\u00b7", "\u30fb", "\u30a2", "\u0375",
    "\u03b1", "\u202e", "\u2066", "\u3002", "\uff0e", "\u2100", "\u00b2", "\u0130", "\u0131",
    "\U0001F600", "\U00016D67", "\u0301", "\u05f3",
]
# Code point ranges for random IDN labels: scripts with joining, bidi and CONTEXTO rules,
# combining marks, and blocks newer than CPython 3.11's Unicode 14.
RANGES = [(0x61, 0x7A), (0x30, 0x39), (0x2D, 0x2D), (0xC0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF),
          (0x400, 0x4FF), (0x590, 0x5FF), (0x600, 0x6FF), (0x900, 0x97F), (0x200C, 0x200D),
          (0x3040, 0x30FF), (0x4E00, 0x4E20), (0xAC00, 0xAC10), (0x1F600, 0x1F610), (0x10EC0, 0x10EFF),
          (0x16D40, 0x16D7F), (0x11F00, 0x11F5F), (0xB7, 0xB7), (0x660, 0x669), (0x6F0, 0x6F9),
          (0x30FB, 0x30FB), (0xE00, 0xE7F), (0x1780, 0x17FF), (0xA8E0, 0xA8FF), (0x1E900, 0x1E95F),
          (0xFB1D, 0xFB4F), (0x10000, 0x1007F)]
DATA_TYPES = ["ip", "domain", "url", "fqdn", "mail", "hash", "filename", "uri_path", "user-agent"]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    checkout, binary = sys.argv[1], os.path.abspath(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    rnd = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    sys.path.insert(0, os.path.join(checkout, "analyzers", "ValidateObservable"))
    from ValidateObservable import ValidateObservable

    original = ValidateObservable.__new__(ValidateObservable)
    methods = {
        "ip": original.validate_ip, "domain": original.validate_domain, "url": original.validate_url,
        "fqdn": original.validate_fqdn, "mail": original.validate_email, "hash": original.validate_hash,
        "filename": original.validate_filename, "uri_path": original.validate_uri_path,
        "user-agent": original.validate_user_agent,
    }
    differences = 0
    for _ in range(n):
        data_type = rnd.choice(DATA_TYPES)
        roll = rnd.random()
        if data_type in ("domain", "url") and roll < 0.3:
            labels = ["".join(chr(rnd.randint(*rnd.choice(RANGES))) for _ in range(rnd.randint(1, 6)))
                      for _ in range(rnd.randint(1, 3))]
            value = ".".join(labels) + rnd.choice([".com", ".de", "", "."])
        elif data_type in ("domain", "url") and roll < 0.5:
            value = "xn--" + "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789-")
                                     for _ in range(rnd.randint(1, 12)))
            value += rnd.choice([".com", "", ".xn--p1ai", "."])
        else:
            value = "".join(rnd.choice(FRAGMENTS) for _ in range(rnd.randint(1, 8)))
        try:
            expected = methods[data_type](value)
        except Exception as e:  # the original crashes: compare with the port's failure message
            expected = "%s: %s" % (type(e).__name__, e)
        with tempfile.TemporaryDirectory() as job:
            os.mkdir(os.path.join(job, "input"))
            os.mkdir(os.path.join(job, "output"))
            with open(os.path.join(job, "input", "input.json"), "w") as f:
                json.dump({"data": value, "dataType": data_type, "tlp": 2, "pap": 2, "config": {}}, f)
            subprocess.run([binary, job], check=False)
            with open(os.path.join(job, "output", "output.json")) as f:
                report = json.load(f)
        actual = report["full"] if report["success"] else report["errorMessage"]
        if actual != expected:
            differences += 1
            print(f"{data_type} {value!r}\n  original: {expected}\n  port:     {actual}")
    print(f"{n} inputs, {differences} differences")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
