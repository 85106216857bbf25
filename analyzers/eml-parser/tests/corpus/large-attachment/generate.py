#!/usr/bin/env python3
"""Write `attachment`: a mail with a 20 MiB pseudo-random attachment, the same bytes on every run.

The bytes come from a fixed linear congruential generator (not Python's `random`), so that any
language can regenerate them; the file is about 27 MiB and is not committed.
"""

import base64
import os

SIZE = 20 * 1024 * 1024


def payload():
    """20 MiB from the 64-bit LCG x = x * 6364136223846793005 + 1442695040888963407, top byte of each step."""
    out = bytearray(SIZE)
    x = 0x2026
    mask = (1 << 64) - 1
    for i in range(SIZE):
        x = (x * 6364136223846793005 + 1442695040888963407) & mask
        out[i] = x >> 56
    return bytes(out)


def main():
    data = base64.encodebytes(payload()).replace(b"\n", b"\r\n")
    head = (
        b"From: Backup Robot <backup@storage.example.com>\r\n"
        b"To: admin@example.org\r\n"
        b"Subject: Nightly dump\r\n"
        b"Date: Sun, 15 Nov 2026 02:00:00 +0000\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="big-boundary"\r\n'
        b"\r\n"
        b"--big-boundary\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n"
        b"\r\n"
        b"Tonight's dump is attached, see https://storage.example.com/dumps/latest\r\n"
        b"\r\n"
        b"--big-boundary\r\n"
        b'Content-Type: application/octet-stream; name="dump.bin"\r\n'
        b'Content-Disposition: attachment; filename="dump.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n"
    )
    tail = b"--big-boundary--\r\n"
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "attachment")
    with open(path + ".tmp", "wb") as f:
        f.write(head + data + tail)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
