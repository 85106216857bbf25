#!/usr/bin/env python3
"""Writes this case's input.json (a 20 MiB user-agent, too large to commit) and, from the
committed expected.json.gz, its expected.json. Deterministic: run it from this folder."""
import gzip
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
data = "Mozilla/5.0 " + "A" * (20 * 1024 * 1024 - len("Mozilla/5.0 "))
job = {"data": data, "dataType": "user-agent", "tlp": 2, "pap": 2, "message": "",
       "parameters": {}, "config": {"service": "validateObservable", "check_tlp": True,
                                    "max_tlp": 2, "check_pap": True, "max_pap": 2,
                                    "auto_extract_artifacts": True, "jobTimeout": 30,
                                    "jobCache": 10}}
with open(os.path.join(HERE, "input.json"), "w", encoding="utf-8") as f:
    json.dump(job, f)
golden = os.path.join(HERE, "expected.json.gz")
if os.path.exists(golden) and not os.path.exists(os.path.join(HERE, "expected.json")):
    with gzip.open(golden, "rb") as src, open(os.path.join(HERE, "expected.json"), "wb") as dst:
        dst.write(src.read())
