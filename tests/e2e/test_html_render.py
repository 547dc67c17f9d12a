# SPDX-License-Identifier: BSD-3-Clause
"""matrix.html as a browser shows it: headless Chromium (Debian's
`chromium`) renders it to a PNG and dumps the DOM it built. The DOM has
64 cells, each of the class of its case's verdict in results.json and
saying what the spec expects there; every cell that did not pass links to
an element of the page; and the screenshot shows each verdict's colour."""
import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser

import pytest

from conftest import server_cmd

CLASS = {"PASS": "pass", "FAIL": "fail", "NON-STRICT": "ns",
         "IMPL-DEFINED": "impl", "SKIP": "skip", "ERROR": "err",
         "BLOCKED": "blk"}
# the page's CSS (reports/html.c): background of each verdict class
COLOUR = {"pass": (0xcf, 0xec, 0xcf), "fail": (0xf4, 0xb6, 0xb6),
          "blk": (0xf7, 0xd2, 0xb4), "skip": (0xf2, 0xf2, 0xf2)}
STATES = ["ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING",
          "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P"]


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    pytest.skip("headless Chromium is not installed (scripts/deps.sh "
                "installs Debian's chromium)")


def browse(page, *args):
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses
    return subprocess.run([chromium(), "--headless", "--no-sandbox",
                           "--disable-gpu", "--hide-scrollbars",
                           *args, f"file://{page}"], capture_output=True,
                          timeout=120)


def png_pixels(path):
    """The RGB pixels of an 8-bit, non-interlaced RGB or RGBA PNG."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, idat, w = 8, b"", 0
    while at < len(data):
        n, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB",
                                                                body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0
            bpp = 4 if ctype == 6 else 3
        elif kind == b"IDAT":
            idat += body
        at += 12 + n
    raw, stride, prev, pixels = zlib.decompress(idat), w * bpp, None, set()
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(
            raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x] if prev else 0
            c = prev[x - bpp] if prev and x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pr) & 255
        prev = line
        for x in range(0, stride, bpp * 3):  # every third pixel is plenty
            pixels.add(tuple(line[x:x + 3]))
    return pixels


class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.cells, self._in, self._td = set(), [], None, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "table":
            self._in = a.get("class")
        if tag == "td" and self._in == "matrix":
            self._td = True
            self.cells.append({"class": a.get("class"), "href": None,
                               "text": ""})
        if tag == "a" and self.cells and self._in == "matrix":
            self.cells[-1]["href"] = a.get("href")

    def handle_endtag(self, tag):
        if tag == "table":
            self._in = None
        if tag == "td":
            self._td = False

    def handle_data(self, data):
        if self._td and self.cells:
            self.cells[-1]["text"] += data + " "


def test_chromium_renders_the_matrix(bins, certify, tmp_path):
    r = certify("--server-cmd",
                server_cmd(bins, "--quirk", "get-returns-stale-state"))
    assert r.rc == 1
    page = r.report_dir / "matrix.html"
    shot = tmp_path / "matrix.png"
    p = browse(page, f"--screenshot={shot}", "--window-size=1300,1400")
    assert p.returncode == 0 and shot.exists(), p.stderr.decode()[-2000:]
    d = browse(page, "--dump-dom")
    assert d.returncode == 0, d.stderr.decode()[-2000:]
    dom = Dom()
    dom.feed(d.stdout.decode())
    verdict = {c["id"]: c["verdict"] for c in r.results["cases"]}
    assert len(dom.cells) == 64
    seen = set()
    for i, cell in enumerate(dom.cells):
        cid = f"fsm.{STATES[i // 8]}.{STATES[i % 8]}"
        assert cell["class"] == CLASS[verdict[cid]], cid
        seen.add(cell["class"])
        words = cell["text"].split()
        assert words[0] == verdict[cid], (cid, words)
        # what the spec expects there, under the verdict
        expect = " ".join(words[1:])
        assert expect in ("accepted", "rejected", "n/a") or \
            re.fullmatch(r"via [A-Z_0-9>]+", expect), (cid, expect)
        if verdict[cid] != "PASS":
            assert cell["href"] and cell["href"][1:] in dom.ids, cid
    # the matrix of stop-copy,pre-copy: the spec's outcomes
    cells = {f"fsm.{STATES[i // 8]}.{STATES[i % 8]}":
             " ".join(c["text"].split()[1:]) for i, c in enumerate(dom.cells)}
    assert cells["fsm.RUNNING.STOP"] == "accepted"
    assert cells["fsm.RUNNING.STOP_COPY"] == "via STOP"
    assert cells["fsm.RESUMING.PRE_COPY"] == "via STOP>RUNNING"
    assert cells["fsm.RUNNING.RUNNING_P2P"] == "rejected"
    assert cells["fsm.RUNNING_P2P.STOP"] == "n/a"
    # each verdict's colour is on the screen
    pixels = png_pixels(shot)
    for cls in seen:
        assert COLOUR[cls] in pixels, cls
    # kept for a person to look at
    shutil.copy(shot, r.report_dir / "matrix.png")
