# SPDX-License-Identifier: BSD-3-Clause
"""DMA dirty-page logging: the dirty.* cases against the clean server and
each logging quirk, caught by the cases written for it and only those."""
import re

import pytest

from conftest import PROFILE, server_cmd

BITMAP = (r"dirty\.report\.(page-size-(half|same|double|16x)|range-edges|"
          r"outside-zero|second-empty)")

QUIRKS = {
    "report-not-cleared": (
        {"dirty.report.second-empty": "NON-STRICT"},
        [r"dirty\.report\.second-empty"]),
    "report-bit-shifted": (
        {"dirty.report.page-size-same": "FAIL",
         "dirty.report.range-edges": "FAIL"},
        [BITMAP, r"dirty\.start\.all-ranges"]),
    "report-ignores-ranges": (
        {"dirty.report.outside-zero": "FAIL"},
        [r"dirty\.report\.(outside-zero|range-edges)"]),
    "report-wrong-scaling": (
        {"dirty.report.page-size-double": "FAIL",
         "dirty.report.page-size-16x": "FAIL"},
        [r"dirty\.report\.page-size-(half|double|16x)"]),
    "start-accepts-bad-page-size": (
        {"dirty.start.page-size-zero": "FAIL",
         "dirty.start.page-size-not-pow2": "FAIL"},
        [r"dirty\.start\.page-size-(zero|not-pow2)"]),
    "report-before-start-accepted": (
        {"dirty.report.before-start": "FAIL"},
        [r"dirty\.report\.(before-start|after-stop)",
         r"dirty\.disconnect\.stops-logging"]),
    "unmap-keeps-logging": (
        {"dirty.unmap.while-logging": "NON-STRICT"},
        [r"dirty\.unmap\.while-logging"]),
    "overlap-accepted": (
        {"dirty.start.overlap": "FAIL"}, [r"dirty\.start\.overlap"]),
}


def test_clean_server_logs_exactly(bins, certify):
    r = certify("--server-cmd", server_cmd(bins), "--profile", str(PROFILE),
                "--case", "dirty.*")
    assert r.rc == 0, r.out
    assert len(r.results["cases"]) == 23
    assert all(c["verdict"] == "PASS" for c in r.results["cases"]), r.out


def test_without_dma_stimulus_bitmap_cases_skip(bins, certify, tmp_path):
    """A profile without dma_write: the bitmap-content cases SKIP with that
    reason and the rest still run."""
    import json
    prof = json.loads(PROFILE.read_text())
    del prof["dma_write"]
    p = tmp_path / "no-dma.json"
    p.write_text(json.dumps(prof))
    r = certify("--server-cmd", server_cmd(bins), "--profile", str(p),
                "--case", "dirty.*")
    assert r.rc == 0, r.out
    for c in r.results["cases"]:
        if re.fullmatch(BITMAP + r"|dirty\.unmap\.while-logging", c["id"]):
            assert c["verdict"] == "SKIP" and "dma_write" in c["reason"], c
        else:
            assert c["verdict"] == "PASS", c


@pytest.mark.parametrize("quirk", sorted(QUIRKS))
def test_logging_quirk_is_caught(bins, certify, quirk):
    required, allowed = QUIRKS[quirk]
    r = certify("--server-cmd", server_cmd(bins, "--quirk", quirk),
                "--profile", str(PROFILE), "--case", "dirty.*")
    v = r.verdicts()
    for cid, verdict in required.items():
        assert v[cid] == verdict, (cid, r.case(cid))
    for c in r.results["cases"]:
        if c["verdict"] != "PASS":
            assert any(re.fullmatch(p, c["id"]) for p in allowed), \
                f"{quirk} also changed {c['id']}: {c}"
