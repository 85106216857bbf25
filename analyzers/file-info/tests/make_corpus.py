#!/usr/bin/env python3
"""Writes the FileInfo corpus: one Cortex job input per case under tests/corpus/<case>/.

Every attachment is built here from scratch and deterministically (no timestamps, no randomness),
so running this script again reproduces the committed files byte for byte. The large case is not
written here: its folder holds a generate.py that the tests call when the attachment is absent.
"""
import gzip
import io
import json
import os
import struct
import sys
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

# The config Cortex passes for FileInfo 8.0 with its defaults (manalyze disabled).
DEFAULT_CONFIG = {
    "manalyze_enable": False,
    "manalyze_enable_docker": False,
    "manalyze_enable_binary": True,
    "manalyze_binary_path": "/worker/Manalyze/bin/manalyze",
    "check_tlp": False,
    "max_tlp": 2,
    "check_pap": False,
    "max_pap": 2,
}


def job_input(filename, content_type, config=None, tlp=2, pap=2):
    """Returns input.json as Cortex writes it for a file observable."""
    return {
        "file": "attachment",
        "filename": filename,
        "contentType": content_type,
        "dataType": "file",
        "tlp": tlp,
        "pap": pap,
        "message": "",
        "parameters": {},
        "config": DEFAULT_CONFIG if config is None else config,
    }


def png_1x1():
    """A valid 2x3 RGB PNG with fixed pixels."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    raw = b"".join(b"\x00" + bytes([(x * 40 + y * 90) & 0xFF for x in range(2) for _ in range(3)]) for y in range(3))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 3, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def zip_archive():
    """A ZIP with two stored/deflated members and fixed timestamps."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        a = zipfile.ZipInfo("readme.txt", date_time=(2020, 5, 17, 10, 30, 0))
        a.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(a, b"This archive is part of the FileInfo corpus.\n" * 4)
        b = zipfile.ZipInfo("data/numbers.bin", date_time=(2021, 1, 2, 3, 4, 6))
        z.writestr(b, bytes(range(64)))
    return buf.getvalue()


def pdf_doc():
    """A small one-page PDF with an /OpenAction and a URL in its text."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 5 0 R >>",
        b"<< /S /URI /URI (http://example.com/landing) >>",
    ]
    stream = b"BT /F1 12 Tf 20 100 Td (visit http://example.com/landing) Tj ET"
    objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


def elf64():
    """A minimal x86-64 ELF executable: header, one PT_LOAD segment, exit(0) code."""
    code = b"\x48\x31\xff\xb8\x3c\x00\x00\x00\x0f\x05"  # xor rdi,rdi; mov eax,60; syscall
    base = 0x400000
    ehdr_size, phdr_size = 64, 56
    entry = base + ehdr_size + phdr_size
    ehdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    ehdr += struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, entry, ehdr_size, 0, 0, ehdr_size, phdr_size, 1, 0, 0, 0)
    total = ehdr_size + phdr_size + len(code)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, total, total, 0x1000)
    return ehdr + phdr + code


def align(n, a):
    return (n + a - 1) // a * a


def pe_image(is64=False, dll=False, imports=None, timestamp=0x5F5E1000, text=None, extra_section=None,
             version_strings=None, machine=None):
    """A small but valid PE32 / PE32+ image built field by field.

    `imports` maps a DLL name to the list of imported names (a bare int imports by ordinal);
    the import table lives in its own `.idata` section. `extra_section` adds a `.data` section
    with the given bytes. `version_strings` adds a `.rsrc` section holding a version resource
    with that string table. `machine` overrides the COFF machine type.
    """
    imports = imports or {}
    file_align, sect_align = 0x200, 0x1000
    text = text or (b"\x31\xc0\xc3" + b"\x90" * 61)
    sections = [[b".text\x00\x00\x00", text, 0x60000020]]
    if extra_section is not None:
        sections.append([b".data\x00\x00\x00", extra_section, 0xC0000040])
    rsrc_rva = rsrc_size = 0
    if version_strings is not None:
        rsrc_rva = sect_align * (len(sections) + 1)
        rsrc = resource_section(rsrc_rva, version_info(version_strings))
        rsrc_size = len(rsrc)
        sections.append([b".rsrc\x00\x00\x00", rsrc, 0x40000040])
    nsect = len(sections) + (1 if imports else 0)
    opt_size = 240 if is64 else 224
    headers_size = align(0x80 + 4 + 20 + opt_size + 40 * nsect, file_align)
    # Virtual addresses: one page per section after the headers.
    rvas = [sect_align * (i + 1) for i in range(nsect)]
    idata = b""
    import_rva = 0
    import_size = 0
    iat_rva = iat_size = 0
    if imports:
        base = rvas[-1]
        ptr = 8 if is64 else 4
        dlls = list(imports.items())
        desc_size = 20 * (len(dlls) + 1)
        # Layout: descriptors, then for each DLL its ILT and IAT, then hint/name entries and names.
        cursor = desc_size
        ilt_offs, iat_offs = [], []
        for _, names in dlls:
            ilt_offs.append(cursor)
            cursor += ptr * (len(names) + 1)
        iat_start = cursor
        for _, names in dlls:
            iat_offs.append(cursor)
            cursor += ptr * (len(names) + 1)
        iat_end = cursor
        strings = b""
        name_rvas, dll_rvas = [], []
        for dll_name, names in dlls:
            rv = []
            for n in names:
                if isinstance(n, int):
                    rv.append(None)
                else:
                    rv.append(base + cursor + len(strings))
                    entry = struct.pack("<H", 0) + n.encode() + b"\x00"
                    if len(entry) % 2:
                        entry += b"\x00"
                    strings += entry
            name_rvas.append(rv)
        for dll_name, _ in dlls:
            dll_rvas.append(base + cursor + len(strings))
            strings += dll_name.encode() + b"\x00"
        body = bytearray(cursor + len(strings))
        body[cursor:] = strings
        flag = (1 << 63) if is64 else (1 << 31)
        fmt = "<Q" if is64 else "<I"
        for i, (dll_name, names) in enumerate(dlls):
            struct.pack_into("<IIIII", body, 20 * i, base + ilt_offs[i], 0, 0, dll_rvas[i], base + iat_offs[i])
            for j, n in enumerate(names):
                val = (flag | n) if isinstance(n, int) else name_rvas[i][j]
                struct.pack_into(fmt, body, ilt_offs[i] + ptr * j, val)
                struct.pack_into(fmt, body, iat_offs[i] + ptr * j, val)
        idata = bytes(body)
        sections.append([b".idata\x00\x00", idata, 0xC0000040])
        import_rva, import_size = base, desc_size
        iat_rva, iat_size = base + iat_start, iat_end - iat_start
    raw = []
    offset = headers_size
    for name, data, chars in sections:
        raw.append(offset)
        offset += align(len(data), file_align)
    size_of_image = align(rvas[-1] + max(len(sections[-1][1]), 1), sect_align)
    dos = bytearray(0x80)
    dos[0:2] = b"MZ"
    # The usual linker-written DOS header: libmagic and ExifTool look for e_lfarlc >= 0x40.
    struct.pack_into("<HHHHHHHH", dos, 2, 0x90, 3, 0, 4, 0, 0xFFFF, 0, 0xB8)
    struct.pack_into("<H", dos, 0x18, 0x40)
    struct.pack_into("<I", dos, 0x3C, 0x80)
    stub = b"This program cannot be run in DOS mode.\r\r\n$"
    dos[0x4E:0x4E + len(stub)] = stub
    characteristics = 0x0002 | (0x2000 if dll else 0) | (0x0020 if is64 else 0x0100)
    machine = machine if machine is not None else (0x8664 if is64 else 0x014C)
    fh = struct.pack("<HHIIIHH", machine, nsect, timestamp, 0, 0, opt_size, characteristics)
    code_size = align(len(text), file_align)
    init_size = sum(align(len(d), file_align) for _, d, _ in sections[1:])
    if is64:
        opt = struct.pack("<HBBIIIII", 0x20B, 14, 0, code_size, init_size, 0, rvas[0], rvas[0])
        opt += struct.pack("<QIIHHHHHHIIIIHHQQQQII", 0x140000000, sect_align, file_align, 6, 0, 0, 0, 6, 0, 0,
                           size_of_image, headers_size, 0, 3 if not dll else 2, 0x8160,
                           0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    else:
        opt = struct.pack("<HBBIIIIII", 0x10B, 9, 0, code_size, init_size, 0, rvas[0], rvas[0],
                          rvas[1] if len(rvas) > 1 else 0)
        opt += struct.pack("<IIIHHHHHHIIIIHHIIIIII", 0x400000, sect_align, file_align, 5, 1, 0, 0, 5, 1, 0,
                           size_of_image, headers_size, 0, 2, 0x8540 if not dll else 0x0140,
                           0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    dirs = [(0, 0)] * 16
    dirs[1] = (import_rva, import_size)
    dirs[12] = (iat_rva, iat_size)
    dirs[2] = (rsrc_rva, rsrc_size)
    opt += b"".join(struct.pack("<II", a, s) for a, s in dirs)
    sh = b""
    for (name, data, chars), rva, ptr_raw in zip(sections, rvas, raw):
        sh += name + struct.pack("<IIIIIIHHI", len(data), rva, align(len(data), file_align), ptr_raw, 0, 0, 0, 0, chars)
    head = bytes(dos) + b"PE\x00\x00" + fh + opt + sh
    image = head + bytes(headers_size - len(head))
    for name, data, chars in sections:
        image += data + bytes(align(len(data), file_align) - len(data))
    return image


def version_node(key, value=b"", value_words=None, wtype=1, children=()):
    """One VS_VERSIONINFO-style node: length, value length, type, UTF-16 key, value, children,
    each part aligned to 32 bits from the start of the node."""
    def pad(b):
        return b + bytes(-len(b) % 4)
    body = pad(bytes(6) + (key + "\x00").encode("utf-16-le"))
    body = pad(body + value)
    for child in children:
        body = pad(body) + child
    value_len = value_words if value_words is not None else len(value)
    return struct.pack("<HHH", len(body), value_len, wtype) + body[6:]


def version_info(strings):
    """A VS_VERSIONINFO with a fixed-info block, one StringTable (en-US, Unicode) and the
    translation variable."""
    fixed = struct.pack("<13I", 0xFEEF04BD, 0x10000, 0x10002, 0x30004, 0x10002, 0x30004,
                        0x3F, 0, 0x40004, 1, 0, 0, 0)
    entries = [version_node(k, (v + "\x00").encode("utf-16-le"), value_words=len(v) + 1) for k, v in strings]
    table = version_node("040904b0", children=entries)
    string_info = version_node("StringFileInfo", children=[table])
    var = version_node("Translation", struct.pack("<HH", 0x0409, 0x04B0), wtype=0)
    var_info = version_node("VarFileInfo", children=[var])
    return version_node("VS_VERSION_INFO", fixed, wtype=0, children=[string_info, var_info])


def resource_section(rva, version):
    """A .rsrc section with one resource: type 16 (version), name 1, language 0x409."""
    def directory(entry_id, target):
        return struct.pack("<IIHHHH", 0, 0, 0, 0, 0, 1) + struct.pack("<II", entry_id, target)
    root = directory(16, 0x80000000 | 0x18)
    name = directory(1, 0x80000000 | 0x30)
    lang = directory(0x409, 0x48)
    data_entry = struct.pack("<IIII", rva + 0x58, len(version), 0, 0)
    return root + name + lang + data_entry + version


VERSION_STRINGS = [
    ("CompanyName", "Corpus Makers Ltd"),
    ("FileDescription", "FileInfo corpus executable"),
    ("FileVersion", "1.2.3.4"),
    ("InternalName", "corpus"),
    ("LegalCopyright", "Copyright (C) 2026"),
    ("OriginalFilename", "corpus.exe"),
    ("ProductName", "Corpus"),
    ("ProductVersion", "1.2.3.4"),
]


def elf64_shared():
    """The minimal ELF with e_type ET_DYN (3): a shared object to libmagic and ExifTool."""
    data = bytearray(elf64())
    data[16] = 3
    return bytes(data)


def latin1_text():
    return "Caf\xe9 cr\xe8me br\xfbl\xe9e, na\xefve fa\xe7ade.\n".encode("latin-1") * 3


CASES = {
    "text-ascii": ("notes.txt", "text/plain", b"hello world\nsecond line of plain ASCII text\n"),
    "text-utf8": ("unicode.txt", "text/plain", "R\u00e9sum\u00e9 \u2014 na\u00efve \u65e5\u672c\u8a9e\n".encode() * 2),
    "text-latin1": ("latin1.txt", "text/plain", latin1_text()),
    "text-crlf": ("windows.txt", "text/plain", b"line one\r\nline two\r\nline three\r\n"),
    "json": ("data.json", "application/json", json.dumps({"name": "corpus", "items": [1, 2, 3], "ok": True}, indent=2).encode() + b"\n"),
    "html": ("page.html", "text/html", b"<!DOCTYPE html>\n<html><head><title>Corpus</title></head><body><p>Hi</p></body></html>\n"),
    "shell-script": ("run.sh", "application/x-sh", b"#!/bin/sh\necho 'corpus'\nexit 0\n"),
    "empty": ("empty.bin", "application/octet-stream", b""),
    "png": ("pixel.png", "image/png", png_1x1()),
    "zip": ("archive.zip", "application/zip", zip_archive()),
    "gzip": ("notes.txt.gz", "application/gzip", gzip.compress(b"compressed corpus text\n" * 10, mtime=0)),
    "pdf": ("doc.pdf", "application/pdf", pdf_doc()),
    "elf": ("tiny", "application/x-executable", elf64()),
    "binary-data": ("blob.bin", "application/octet-stream", bytes((i * 7919 + 13) % 251 for i in range(3000))),
    "pe32-exe": ("hello.exe", "application/x-msdownload", pe_image(
        imports={"KERNEL32.dll": ["ExitProcess", "GetStdHandle", "WriteFile"], "USER32.dll": ["MessageBoxA"]},
        extra_section=b"corpus data section\x00" * 8)),
    "pe32-ordinal": ("ordinal.exe", "application/x-msdownload", pe_image(
        imports={"KERNEL32.dll": ["ExitProcess"], "MYLIB.dll": [7, "DoWork"]}, timestamp=0x12345678)),
    "pe64-dll": ("library.dll", "application/x-msdownload", pe_image(
        is64=True, dll=True, imports={"KERNEL32.dll": ["GetProcAddress", "LoadLibraryA"]}, timestamp=0x60000000)),
    "pe64-no-imports": ("noimp.exe", "application/x-msdownload", pe_image(is64=True, timestamp=0)),
    "pe-truncated": ("truncated.exe", "application/x-msdownload", pe_image(
        imports={"KERNEL32.dll": ["ExitProcess"]})[:0x200 + 16]),
    "mz-only": ("dos.com", "application/octet-stream", b"MZ" + bytes(62)),
    "pe-version-info": ("versioned.exe", "application/x-msdownload", pe_image(
        imports={"KERNEL32.dll": ["ExitProcess"]}, version_strings=VERSION_STRINGS, timestamp=0x65000000)),
    "pe-arm64-version-info": ("arm64.exe", "application/x-msdownload", pe_image(
        is64=True, machine=0xAA64, version_strings=VERSION_STRINGS[:3])),
    "pe-arm64": ("arm64-plain.exe", "application/x-msdownload", pe_image(is64=True, machine=0xAA64)),
    # Cut inside the optional header: ExifTool still says "Win32 EXE", pefile gives up.
    "pe-cut-optional-header": ("cut1.exe", "application/x-msdownload", pe_image(
        imports={"KERNEL32.dll": ["ExitProcess"]})[:0xC0]),
    # Cut inside the second section header: pefile cannot unpack it and gives up.
    "pe-cut-section-table": ("cut2.exe", "application/x-msdownload", pe_image(
        imports={"KERNEL32.dll": ["ExitProcess"]}, extra_section=b"data")[:0x18C]),
    "elf-shared": ("libtiny.so", "application/x-sharedlib", elf64_shared()),
    "xml": ("doc.xml", "text/xml", b'<?xml version="1.0" encoding="UTF-8"?>\n<corpus><item id="1">one</item></corpus>\n'),
    "text-utf16": ("utf16.txt", "text/plain", "UTF-16 text, little endian\n".encode("utf-16")),
    "python-script": ("tool.py", "text/x-python", b"#!/usr/bin/env python3\nprint('corpus')\n"),
    "gif": ("dot.gif", "image/gif", b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"),
}

# Cases that exercise the analyzer's own checks rather than a file format.
CONFIG_CASES = {
    "error-manalyze-param-missing": ("notes.txt", "text/plain", b"any text\n",
                                     {k: v for k, v in DEFAULT_CONFIG.items() if not k.startswith("manalyze")}),
    "error-manalyze-no-method": ("notes.txt", "text/plain", b"any text\n",
                                 dict(DEFAULT_CONFIG, manalyze_enable=True, manalyze_enable_binary=False)),
}


def write_case(name, filename, content_type, data, config=None, tlp=2):
    """Writes input.json and, unless `data` is None (generated case), the attachment."""
    folder = os.path.join(CORPUS, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "input.json"), "w") as f:
        json.dump(job_input(filename, content_type, config, tlp=tlp), f, indent=2)
        f.write("\n")
    if data is not None:
        with open(os.path.join(folder, "attachment"), "wb") as f:
            f.write(data)


def main():
    for name, (filename, ctype, data) in CASES.items():
        write_case(name, filename, ctype, data)
    for name, (filename, ctype, data, config) in CONFIG_CASES.items():
        write_case(name, filename, ctype, data, config)
    write_case("error-floss-path-missing", "notes.txt", "text/plain", b"any text\n",
               dict(DEFAULT_CONFIG, floss_enable=True))
    write_case("manalyze-docker-text", "notes.txt", "text/plain", b"text with manalyze enabled\n",
               dict(DEFAULT_CONFIG, manalyze_enable=True, manalyze_enable_docker=True))
    write_case("error-tlp", "notes.txt", "text/plain", b"secret notes\n",
               dict(DEFAULT_CONFIG, check_tlp=True, max_tlp=1), tlp=3)
    # The 20 MiB attachment is written by corpus/large-20mib/generate.py.
    write_case("large-20mib", "big.bin", "application/octet-stream", None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
