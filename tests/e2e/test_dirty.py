# SPDX-License-Identifier: BSD-3-Clause
"""DMA dirty-page logging: the dirty.* cases against the clean server,
with and without a DMA stimulus, and at a logging page size the device
chooses itself (the quirks are in test_verdicts_exact.py)."""
import re

import pytest

from conftest import PROFILE, server_cmd

BITMAP = (r"dirty\.report\.(page-size-(half|same|double|16x)|range-edges|"
          r"outside-zero|second-empty)")


def test_clean_server_logs_exactly(bins, certify):
    r = certify("--server-cmd", server_cmd(bins), "--profile", str(PROFILE),
                "--case", "dirty.*")
    assert r.rc == 0, r.out
    assert len(r.results["cases"]) == 34
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
        if re.fullmatch(BITMAP + r"|dirty\.unmap\.while-logging|"
                        r"dirty\.dma\.write-lands", c["id"]):
            assert c["verdict"] == "SKIP" and "dma_write" in c["reason"], c
        else:
            assert c["verdict"] == "PASS", c


@pytest.mark.parametrize("page", ["8192", "16384", "65536"])
def test_device_chosen_page_size(bins, certify, page):
    """LOGGING_START's page size is a hint: a device that logs at its own
    size and says so in the reply passes every bitmap case, judged at the
    size it chose."""
    r = certify("--server-cmd",
                server_cmd(bins, "--logging-page-size", page),
                "--profile", str(PROFILE), "--case", "dirty.*")
    assert r.rc == 0, r.out
    bad = {c["id"]: c["reason"] for c in r.results["cases"]
           if c["verdict"] != "PASS"}
    assert bad == {}, bad
