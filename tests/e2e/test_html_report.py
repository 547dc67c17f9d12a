# SPDX-License-Identifier: BSD-3-Clause
"""matrix.html: one self-contained file whose matrix, links and spec
coverage table agree with results.json."""
from html.parser import HTMLParser
import re

from conftest import server_cmd


class Doc(HTMLParser):
    """Ids, links, external references and matrix cells of a page."""

    def __init__(self):
        super().__init__()
        self.ids, self.links, self.external = set(), [], []
        self.cells, self.coverage_rows = [], 0
        self._table = None
        self._td = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "table":
            self._table = a.get("class")
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        for k in ("src", "href"):
            v = a.get(k, "")
            if tag in ("link", "script", "img") or re.match(r"https?:", v):
                self.external.append((tag, v))
        if tag == "td" and self._table == "matrix":
            self._td = a.get("class")
            self.cells.append([a.get("class"), ""])
        if tag == "tr" and self._table == "coverage":
            self.coverage_rows += 1

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        if tag == "td":
            self._td = None

    def handle_data(self, data):
        if self._td is not None and self.cells:
            self.cells[-1][1] += data


CLASS = {"PASS": "pass", "FAIL": "fail", "NON-STRICT": "ns",
         "IMPL-DEFINED": "impl", "SKIP": "skip", "ERROR": "err",
         "BLOCKED": "blk"}


def test_matrix_html_agrees_with_results(bins, certify):
    r = certify("--server-cmd",
                server_cmd(bins, "--quirk", "get-returns-stale-state"))
    assert r.rc == 1
    d = Doc()
    d.feed((r.report_dir / "matrix.html").read_text())
    assert d.external == []          # self-contained
    assert len(d.cells) == 64
    verdict = {c["id"]: c["verdict"] for c in r.results["cases"]}
    states = ["ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING",
              "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P"]
    for i, (cls, text) in enumerate(d.cells):
        cid = "fsm.%s.%s" % (states[i // 8], states[i % 8])
        assert cls == CLASS[verdict[cid]], cid
        # the verdict, then (after a <br>) what the spec expects there
        v, rest = verdict[cid], text.strip()
        assert rest.startswith(v), cid
        rest = rest[len(v):]
        assert rest in ("accepted", "rejected", "n/a") or \
            re.fullmatch(r"via [A-Z_0-9>]+", rest), (cid, rest)
    # every link inside the page lands on an element of it, and every case
    # that did not pass has one
    for href in d.links:
        assert href.startswith("#") and href[1:] in d.ids, href
    for cid, v in verdict.items():
        if v != "PASS":
            assert "case-" + cid in d.ids, cid
    # the coverage table: a header and one row per sentence
    cov = r.results["spec_coverage"]
    assert d.coverage_rows == 1 + cov["rows"]


def test_clean_run_has_no_failures_listed(bins, certify):
    r = certify("--server-cmd", server_cmd(bins), "--case", "fsm.*")
    assert r.rc == 0
    html = (r.report_dir / "matrix.html").read_text()
    assert "None: every case passed or was skipped." in html
    d = Doc()
    d.feed(html)
    assert all(cls in ("pass", "skip") for cls, _ in d.cells)
