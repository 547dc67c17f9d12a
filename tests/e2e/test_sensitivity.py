# SPDX-License-Identifier: BSD-3-Clause
"""Each quirk of vucert-server is deliberately wrong in one way; the cases
written for it must FAIL (or NON-STRICT, as design.md grades it) and every
other case must still PASS (or SKIP for the clean server's reasons)."""
import re

import pytest

from conftest import FLAG_SETS, PROFILE, server_cmd
from test_certify import expected_skip

MATRIX = r"fsm\.[A-Z_0-9]+\.[A-Z_0-9]+"
WITH_PRE = [f for f in FLAG_SETS if "pre-copy" in f]
NOT_ALL = [f for f in FLAG_SETS if f != "stop-copy,p2p,pre-copy"]

# quirk: (flag sets where it can show, required verdicts, allowed ids)
QUIRKS = {
    # only meaningful where PRE_COPY is advertised
    "stopcopy-to-precopy-allowed": (
        WITH_PRE, {"fsm.STOP_COPY.PRE_COPY": "FAIL"},
        [r"fsm\.STOP_COPY\.PRE_COPY(_P2P)?", r"fsm\.reject\.keeps-state"]),
    "saving-state-inside-path": (
        FLAG_SETS, {"fsm.RUNNING.RESUMING": "FAIL"}, [MATRIX]),
    # with all three flags every state is advertised
    "unadvertised-state-accepted": (
        NOT_ALL, {"fsm.RUNNING.PRE_COPY_P2P": "FAIL"},
        [MATRIX, r"fsm\.reject\.keeps-state"]),
    "reset-keeps-state": (
        FLAG_SETS, {"fsm.reset.from.ERROR": "FAIL",
                    "fsm.reset.from.STOP": "NON-STRICT"},
        [r"fsm\.reset\.from\..*"]),
    "error-reply-with-payload": (
        FLAG_SETS, {"fsm.error-reply.no-payload": "FAIL",
                    "fsm.RUNNING.ERROR": "FAIL"},
        [MATRIX, r"fsm\.error-reply\.no-payload",
         r"stream\.error-reply\.form", r"robust\..*"]),
    "error-errno-zero": (
        FLAG_SETS, {"fsm.error-reply.errno-nonzero": "NON-STRICT",
                    "fsm.RUNNING.ERROR": "NON-STRICT"},
        [MATRIX, r"fsm\.error-reply\.errno-nonzero",
         r"stream\.error-reply\.form"]),
    # a GET that lies breaks every case that checks where the device is,
    # including the stream cases' setup
    "get-returns-stale-state": (
        FLAG_SETS, {"fsm.RUNNING.STOP": "FAIL"},
        [MATRIX, r"fsm\.reset\.from\..*", r"fsm\.reject\.keeps-state",
         r"stream\..*"]),
    "state-8-accepted": (
        FLAG_SETS, {"fsm.set.state-8": "FAIL"},
        [r"fsm\.set\..*", r"fsm\.reject\.keeps-state"]),
}

PARAMS = [(q, f) for q, (sets, _, _) in QUIRKS.items() for f in sets]


@pytest.mark.parametrize("quirk,flags", PARAMS)
def test_quirk_is_caught_by_its_cases_only(bins, certify, quirk, flags):
    _, required, allowed = QUIRKS[quirk]
    r = certify("--server-cmd",
                server_cmd(bins, "--migration-flags", flags, "--quirk",
                           quirk),
                "--profile", str(PROFILE))
    v = r.verdicts()
    for cid, verdict in required.items():
        assert v[cid] == verdict, (cid, r.case(cid))
    for c in r.results["cases"]:
        cid = c["id"]
        if c["verdict"] == "PASS":
            continue
        if c["verdict"] == "SKIP" and expected_skip(cid, flags):
            continue
        assert any(re.fullmatch(p, cid) for p in allowed), \
            f"{quirk} also changed {cid}: {c}"
        assert c["reason"], c
    worst = set(v.values())
    assert r.rc == (1 if "FAIL" in worst or "ERROR" in worst else 0), r.out


def test_state_8_accepted_fails_every_state_above_7(bins, certify):
    """state-8-accepted accepts every device_state >= 8, so both cases
    written for it must FAIL."""
    r = certify("--server-cmd",
                server_cmd(bins, "--quirk", "state-8-accepted"),
                "--case", "fsm.set.state-*")
    for cid in ("fsm.set.state-8", "fsm.set.state-0xffffffff"):
        assert r.case(cid)["verdict"] == "FAIL", r.case(cid)


def test_non_strict_fails_only_with_strict(bins, certify):
    cmd = server_cmd(bins, "--quirk", "error-errno-zero")
    assert certify("--server-cmd", cmd).rc == 0
    assert certify("--server-cmd", cmd, "--strict").rc == 1


def test_fail_carries_the_exchange(bins, certify):
    r = certify("--server-cmd", server_cmd(bins, "--quirk",
                                           "state-8-accepted"))
    c = r.case("fsm.set.state-8")
    assert "accepted" in c["reason"]
    assert "DEVICE_FEATURE" in c["exchange"] and "state=" in c["exchange"]
