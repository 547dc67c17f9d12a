# SPDX-License-Identifier: BSD-3-Clause
"""The quirks written for cases no other quirk could fail: negotiate.*,
the fsm.* cases around the matrix, the dirty.* gates and argument checks,
and robust.*. Each run is a full `vucert certify` on the default flag set
(stop-copy,pre-copy): the cases the quirk is written for must FAIL (or
NON-STRICT where the case grades so), and no case outside the allowed list
may change from what the clean server gets (PASS, or its SKIPs)."""
import re

import pytest

from conftest import PROFILE, server_cmd
from test_certify import expected_skip

FLAGS = "stop-copy,pre-copy"
ADVERTISED = r"(STOP|RUNNING|STOP_COPY|RESUMING|PRE_COPY)"
# the quirks whose cases wait for an answer that never comes: a shorter
# wait keeps the file fast (every answer of this server takes
# milliseconds)
QUICK = ["--timeout", "2"]

# quirk: (required verdicts by case-id pattern, further allowed patterns,
#         extra vucert arguments); each required pattern must match at
#         least one case
QUIRKS = {
    "version-major-mismatch": (
        {r"negotiate\.version\.major": "FAIL"}, [], []),
    "version-minor-above": (
        {r"negotiate\.version\.minor": "FAIL"}, [], []),
    "caps-superset": (
        {r"negotiate\.caps\.subset": "FAIL"}, [], []),
    "json-required": (
        {r"negotiate\.json\.absent": "FAIL"}, [], []),
    "json-malformed-accepted": (
        {r"negotiate\.json\.malformed": "NON-STRICT"}, [], []),
    # vucert moves migration data in chunks of max_data_xfer_size, so every
    # case that saves or reads a stream cannot run (ERROR) or fails, as
    # under read-pads-to-requested (test_stream.py)
    "max-xfer-exclusive": (
        {r"negotiate\.limits\.max-data-xfer-size": "FAIL",
         r"stream\.read\.max-xfer-exact": "FAIL"},
        [r"stream\..*", r"fsm\.RESUMING\..*", r"fsm\.reset\.from\.RESUMING"],
        []),
    # the other cases mask the unknown bit (cases/common.c)
    "migration-flags-extra-bit": (
        {r"fsm\.flags\.valid": "FAIL"}, [], []),
    "probe-reply-differs": (
        {r"fsm\.probe\.migration-get": "FAIL",
         r"fsm\.probe\.mig-state-get-set": "FAIL"}, [], []),
    "get-set-accepted": (
        {r"fsm\.feature\.get-and-set": "FAIL"}, [], []),
    "unknown-feature-accepted": (
        {r"fsm\.feature\.unknown-index": "FAIL"}, [], []),
    "argsz-ignored": (
        {r"fsm\.feature\.argsz-small-get": "FAIL",
         r"fsm\.feature\.argsz-small-set": "FAIL",
         r"dirty\.report\.argsz-small": "FAIL"}, [], []),
    "same-state-rejected": (
        {rf"fsm\.{ADVERTISED}\.\1": "FAIL"}, [], []),
    # SHOULD for the running and stopped states, MUST from ERROR
    "reset-goes-to-stop": (
        {r"fsm\.reset\.from\.ERROR": "FAIL",
         rf"fsm\.reset\.from\.{ADVERTISED}": "NON-STRICT"}, [], []),
    "probe-start-fails": (
        {r"dirty\.probe\.start": "FAIL"}, [], []),
    "probe-stop-report-fail": (
        {r"dirty\.probe\.stop": "FAIL", r"dirty\.probe\.report": "FAIL"},
        [], []),
    "start-twice-accepted": (
        {r"dirty\.start\.twice": "FAIL"}, [], []),
    "start-overflow-accepted": (
        {r"dirty\.start\.overflow": "FAIL"}, [], []),
    "start-unaligned-accepted": (
        {r"dirty\.start\.unaligned": "FAIL"}, [], []),
    "report-bad-page-accepted": (
        {r"dirty\.report\.page-size-bad": "FAIL"}, [], []),
    "stop-keeps-logging": (
        {r"dirty\.report\.after-stop": "FAIL"}, [], []),
    # every robust.* case connects at least once, and the cases before
    # them many times: the fds grow over the robustness run
    "leak-fd-per-connection": (
        {r"robust\.resources\.end": "FAIL"}, [], []),
    "short-size-ignored": (
        {r"robust\.header\.short-msg-size": "FAIL"}, [], QUICK),
    "reply-type-ignored": (
        {r"robust\.header\.reply-type": "FAIL"}, [], QUICK),
    "error-flag-ignored": (
        {r"robust\.header\.error-flag": "FAIL"}, [], QUICK),
    "partial-message-dropped": (
        {r"robust\.header\.split-with-pauses": "FAIL"}, [], []),
    # only these two cases send requests before reading replies
    "pipeline-drops": (
        {r"robust\.header\.many-in-one-write": "FAIL",
         r"stream\.read\.pipelined": "FAIL"}, [], QUICK),
    "refuse-after-partial": (
        {r"robust\..*\.truncated-silence": "FAIL"}, [], []),
}


def check(r, flags, required, allowed):
    """The required verdicts, and nothing else changed."""
    v = r.verdicts()
    for pat, verdict in required.items():
        ids = [cid for cid in v if re.fullmatch(pat, cid)]
        assert ids, f"no case matches {pat}"
        for cid in ids:
            assert v[cid] == verdict, (cid, r.case(cid))
    patterns = list(required) + allowed
    for c in r.results["cases"]:
        if c["verdict"] == "PASS":
            continue
        if c["verdict"] == "SKIP" and expected_skip(c["id"], flags):
            continue
        assert any(re.fullmatch(p, c["id"]) for p in patterns), \
            f"also changed {c['id']}: {c}"
        assert c["reason"], c
    worst = set(v.values())
    assert r.rc == (1 if "FAIL" in worst or "ERROR" in worst else 0), r.out


def params():
    for q in QUIRKS:
        marks = []
        yield pytest.param(q, marks=marks, id=q)


@pytest.mark.parametrize("quirk", list(params()))
def test_quirk_is_caught_by_its_cases_only(bins, certify, quirk):
    required, allowed, extra = QUIRKS[quirk]
    r = certify("--server-cmd", server_cmd(bins, "--quirk", quirk),
                "--profile", str(PROFILE), "--stream-limit", "16M", *extra)
    check(r, FLAGS, required, allowed)
