#!/usr/bin/env python3
"""Writes `attachment` beside this script: 20 MiB of deterministic pseudo-random bytes.

The bytes are SHA-256 of a little-endian block counter, concatenated, so any machine writes the
same file; it is generated instead of committed to keep the repository small.
"""
import hashlib
import os
import struct

SIZE = 20 * 1024 * 1024


def main():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "attachment")
    blocks = bytearray()
    counter = 0
    while len(blocks) < SIZE:
        blocks += hashlib.sha256(struct.pack("<Q", counter)).digest()
        counter += 1
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(bytes(blocks[:SIZE]))
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
