# SPDX-License-Identifier: BSD-3-Clause
"""Hostile servers: for each --chaos mode of vucert-server, vucert certify
ends within its timeouts, never crashes (the sanitizers stay silent), grades
the affected cases FAIL, ERROR or (when the mangled reply was a setup
step's) BLOCKED with a reason that names what was wrong, and runs the
remaining cases (reconnecting, or restarting the server)."""
import os
import subprocess
import time

import pytest

from conftest import PROFILE

CASES = ["--case", "negotiate.*", "--case", "fsm.RUNNING.*", "--case",
         "fsm.STOP.*", "--case", "fsm.probe.*"]

# mode: words one of which the reason of an affected case must contain
MODES = {
    "truncated-reply": ["no reply within the timeout", "middle of a message"],
    "wrong-message-id": ["message id"],
    "reply-never-sent": ["no reply within the timeout"],
    "close-mid-reply": ["middle of a message", "closed the connection"],
    "oversized-msg-size": ["above the largest vucert accepts"],
    "garbage-bytes": ["header", "message id", "type", "largest",
                      "reply to", "no reply within the timeout",
                      "middle of a message"],
    # a success turned into an error reply: the step that needed it says
    # it failed; the payload is judged by fsm.error-reply.* alone
    "error-flag-with-payload": ["payload", "failed with errno",
                                "rejected with errno"],
}


def run(bins, tmp_path, *extra, timeout_s="0.5"):
    env = dict(os.environ)
    # a sanitizer report in vucert must not pass for an ordinary FAIL
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":exitcode=86"
    env["UBSAN_OPTIONS"] = env.get("UBSAN_OPTIONS", "") + ":exitcode=87"
    rdir = tmp_path / "r"
    cmd = [bins["vucert"], "certify", "--server-cmd",
           " ".join([bins["server"], "--socket", "{socket}"] + list(extra)),
           "--profile", str(PROFILE), "--timeout", timeout_s,
           "--report-dir", str(rdir)] + CASES
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=180,
                       env=env)
    elapsed = time.monotonic() - t0
    import json
    res = json.loads((rdir / "results.json").read_text())
    return p, res, elapsed


@pytest.mark.parametrize("mode", sorted(MODES))
def test_hostile_server(bins, tmp_path, mode):
    p, res, elapsed = run(bins, tmp_path, "--chaos", mode, "--chaos-every",
                          "4")
    assert p.returncode in (0, 1), p.stdout + p.stderr
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr
    cases = res["cases"]
    assert len(cases) > 20
    bad = [c for c in cases if c["verdict"] in ("FAIL", "ERROR", "BLOCKED")]
    good = [c for c in cases if c["verdict"] == "PASS"]
    assert bad, "no case noticed the hostile server"
    assert good, "no case ran to completion around the hostile replies"
    named = [c for c in bad
             if any(w in (c["reason"] or "") for w in MODES[mode])]
    assert named, [c["reason"] for c in bad]
    # each case waits at most a few timeouts of 0.5 s
    assert elapsed < 0.5 * 6 * len(cases) + 20, elapsed


def test_slow_drip_still_certifies(bins, tmp_path):
    """A server that sends its replies one byte at a time is slow, not
    wrong: with a sensible timeout every case still passes."""
    p, res, _ = run(bins, tmp_path, "--chaos", "slow-drip", timeout_s="3")
    assert p.returncode == 0, p.stdout
    assert all(c["verdict"] in ("PASS", "SKIP") for c in res["cases"])
