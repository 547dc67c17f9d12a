# SPDX-License-Identifier: BSD-3-Clause
"""Verdict details the exact quirk tables (test_verdicts_exact.py) do not
show: both state cases, --strict, and the exchange behind a FAIL."""
from conftest import server_cmd


def test_state_8_accepted_fails_every_state_above_7(bins, certify):
    """state-8-accepted accepts every device_state >= 8, so both cases
    written for it must FAIL."""
    r = certify("--server-cmd",
                server_cmd(bins, "--quirk", "state-8-accepted"),
                "--case", "fsm.set.state-*")
    for cid in ("fsm.set.state-8", "fsm.set.state-0xffffffff"):
        assert r.case(cid)["verdict"] == "FAIL", r.case(cid)


def test_non_strict_fails_only_with_strict(bins, certify):
    cmd = server_cmd(bins, "--quirk", "json-malformed-accepted")
    assert certify("--server-cmd", cmd).rc == 0
    assert certify("--server-cmd", cmd, "--strict").rc == 1


def test_fail_carries_the_exchange(bins, certify):
    r = certify("--server-cmd", server_cmd(bins, "--quirk",
                                           "state-8-accepted"))
    c = r.case("fsm.set.state-8")
    assert "accepted" in c["reason"]
    assert "DEVICE_FEATURE" in c["exchange"] and "state=" in c["exchange"]
