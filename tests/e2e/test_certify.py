# SPDX-License-Identifier: BSD-3-Clause
"""vucert certify against the clean vucert-server: every case PASS, or
SKIP for a stated reason; the reports and the command-line contract."""
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import FLAG_SETS, PROFILE, STATES, advertised, server_cmd

N_CASES = 234


def expected_skip(cid, flags):
    """Why a clean server's case may be SKIP, or None."""
    adv = advertised(flags)
    m = re.fullmatch(r"fsm\.([A-Z_0-9]+)\.([A-Z_0-9]+)", cid)
    if m and m.group(1) in STATES and m.group(1) not in adv:
        return "not advertised"
    m = re.fullmatch(r"fsm\.reset\.from\.([A-Z_0-9]+)", cid)
    if m and m.group(1) not in adv:
        return "not advertised"
    if cid == "stream.precopy.then-stopcopy" and "PRE_COPY" not in adv:
        return "PRE_COPY is not advertised"
    return None


@pytest.mark.parametrize("flags", FLAG_SETS)
def test_clean_server_passes(bins, certify, flags):
    r = certify("--server-cmd",
                server_cmd(bins, "--migration-flags", flags),
                "--profile", str(PROFILE))
    assert r.rc == 0, r.out + r.err
    assert len(r.results["cases"]) == N_CASES
    for c in r.results["cases"]:
        why = expected_skip(c["id"], flags)
        if why is None:
            assert c["verdict"] == "PASS", c
        else:
            assert c["verdict"] == "SKIP", c
            assert why in c["reason"], c
    # the matrix covers 64 cells
    cells = [c for c in r.results["cases"]
             if re.fullmatch(r"fsm\.[A-Z_0-9]+\.[A-Z_0-9]+", c["id"])]
    assert len(cells) == 64


def test_embedded_default(bins, certify):
    """No --socket/--server-cmd: the vucert-server beside vucert, with its
    profile, so the ERROR row runs."""
    r = certify()
    assert r.rc == 0, r.out + r.err
    assert r.case("fsm.ERROR.RUNNING")["verdict"] == "PASS"
    assert r.results["server"]["profile"].endswith("vucert-server.json")
    assert r.results["server"]["migration_flags"] == ["STOP_COPY", "PRE_COPY"]
    # one console line per case, counted [n/N], then the counts
    lines = [l for l in r.out.splitlines()
             if re.match(r"^\[ *\d+/\d+\] (PASS|FAIL|SKIP|ERROR|NON-STRICT|"
                         r"IMPL-DEFINED) ", l)]
    assert len(lines) == N_CASES
    assert lines[0].startswith(f"[  1/{N_CASES}] ")
    assert lines[-1].startswith(f"[{N_CASES}/{N_CASES}] ")
    assert f"{N_CASES} cases:" in r.out


def test_socket_without_profile_skips_error_row(server, certify):
    _, path = server()
    r = certify("--socket", str(path))
    assert r.rc == 0, r.out + r.err
    for s in STATES:
        c = r.case(f"fsm.ERROR.{s}")
        assert c["verdict"] == "SKIP"
        assert "profile" in c["reason"]
    assert r.case("fsm.reset.from.ERROR")["verdict"] == "SKIP"
    assert r.case("fsm.RUNNING.STOP")["verdict"] == "PASS"


def test_device_state_survives_reconnects(server, certify):
    """Cases reconnect for every case; the same server serves them all."""
    proc, path = server("--migration-flags", "stop-copy,p2p,pre-copy")
    r = certify("--socket", str(path), "--profile", str(PROFILE))
    assert r.rc == 0, r.out
    assert proc.poll() is None


def test_reports(bins, certify):
    r = certify("--server-cmd", server_cmd(bins), "--profile", str(PROFILE))
    res = r.results
    assert res["schema"] == 1 and res["tool"] == "vucert"
    assert res["version"]
    assert res["server"]["version"] == "0.1"
    for c in res["cases"]:
        assert set(c) >= {"id", "title", "spec", "source", "level",
                          "verdict", "reason", "root_cause", "notes",
                          "checks", "duration_ms"}
        assert c["level"] in ("MUST", "SHOULD", "MAY")
        assert c["source"]
        # a PASS is a check that was made
        assert c["verdict"] != "PASS" or c["checks"] >= 1, c
    assert res["started"] and res["command_line"].startswith("vucert ")
    s = res["summary"]
    assert sum(s[k] for k in ("PASS", "FAIL", "NON-STRICT", "IMPL-DEFINED",
                              "SKIP", "ERROR", "BLOCKED")) == s["total"] == \
        N_CASES
    assert s["not_passed"] == 0 and s["root_causes"] == []
    suite = ET.parse(r.report_dir / "junit.xml").getroot().find("testsuite")
    assert int(suite.get("tests")) == N_CASES
    assert int(suite.get("failures")) == 0
    assert int(suite.get("skipped")) == s["SKIP"]
    md = (r.report_dir / "matrix.md").read_text()
    assert "| **STOP_COPY** |" in md
    rows = [l for l in md.splitlines() if l.startswith("| **")]
    assert len(rows) == 8 and all(l.count("|") == 10 for l in rows)


def test_list_and_globs(bins):
    out = subprocess.run([bins["vucert"], "certify", "--list"],
                         capture_output=True, text=True, check=True).stdout
    ids = [l.split()[0] for l in out.splitlines()]
    assert len(ids) == N_CASES == len(set(ids))
    assert "fsm.STOP_COPY.PRE_COPY" in ids
    out = subprocess.run([bins["vucert"], "certify", "--list", "--case",
                          "fsm.RUNNING.*", "--exclude", "*.ERROR"],
                         capture_output=True, text=True, check=True).stdout
    ids = [l.split()[0] for l in out.splitlines()]
    assert len(ids) == 7 and "fsm.RUNNING.ERROR" not in ids


def test_case_filter_runs_only_selected(bins, certify):
    r = certify("--server-cmd", server_cmd(bins), "--case", "negotiate.*")
    assert r.rc == 0
    assert {c["id"].split(".")[0] for c in r.results["cases"]} == \
        {"negotiate"}


@pytest.mark.parametrize("args", [
    ["--bogus"],
    ["--socket", "/x", "--server-cmd", "y {socket}"],
    ["--timeout", "0"],
    ["--timeout", "abc"],
    ["extra-arg"],
    ["--server-cmd", "no-placeholder"],
    ["--profile", "/nonexistent/profile.json"],
])
def test_usage_errors_exit_2(certify, args):
    r = certify(*args, report=False)
    assert r.rc == 2, r.out + r.err
    assert r.err.strip()


def test_bad_profile_is_a_clear_error(bins, certify, tmp_path):
    p = tmp_path / "p.json"
    p.write_text('{"error_injection": {"writes": [{"region": 0}]}}')
    r = certify("--server-cmd", server_cmd(bins), "--profile", str(p),
                report=False)
    assert r.rc == 2
    assert "offset" in r.err


def test_unreachable_socket_exits_2(certify, tmp_path):
    r = certify("--socket", str(tmp_path / "nobody.sock"), "--timeout",
                "0.3", report=False)
    assert r.rc == 2
    assert "cannot connect" in r.err


def test_server_that_exits_at_once_exits_2(certify):
    r = certify("--server-cmd", "sh -c 'echo boom >&2; exit 3' {socket}",
                report=False)
    assert r.rc == 2
    assert "exited with status 3" in r.err and "boom" in r.err


def test_fuzz_and_replay_usage_errors(bins, tmp_path):
    for args in (["fuzz"], ["fuzz", "--socket", "/x", "--server-cmd", "y"],
                 ["replay"], ["replay", str(tmp_path / "none"), "--socket",
                              "/x"]):
        p = subprocess.run([bins["vucert"]] + args, capture_output=True,
                           text=True, timeout=30)
        assert p.returncode == 2 and p.stderr.strip(), args


def fake_cmd(*extra):
    import sys
    here = __file__.rsplit("/", 1)[0]
    return " ".join([sys.executable, f"{here}/fake_server.py", "{socket}"] +
                    list(extra))


def test_sanitizer_report_on_stderr_fails_the_case(certify):
    """The server's own testimony: a sanitizer report written while a case
    ran is that case's FAIL, quoted, even though the server lives on."""
    r = certify("--server-cmd", fake_cmd("--testify-on", "DEVICE_RESET"),
                "--case", "negotiate.version.major", "--case",
                "fsm.RUNNING.RUNNING")
    assert r.rc == 1, r.out
    c = r.case("fsm.RUNNING.RUNNING")
    assert c["verdict"] == "FAIL"
    assert "AddressSanitizer: heap-buffer-overflow" in c["reason"], c
    assert r.case("negotiate.version.major")["verdict"] == "PASS"


def test_server_exiting_0_on_disconnect_is_restarted_without_verdict(
        certify):
    r = certify("--server-cmd", fake_cmd("--exit-on-disconnect"), "--case",
                "negotiate.version.*", "--case", "fsm.flags.valid")
    assert r.rc == 0, r.out + r.err
    assert all(c["verdict"] == "PASS" for c in r.results["cases"]), r.out
    # noticed at once, not after a connect timeout per case
    assert all(c["duration_ms"] < 2000 for c in r.results["cases"]), r.out
