# SPDX-License-Identifier: BSD-3-Clause
"""vucert certify --jobs N: the cases on N server instances at once give
the verdicts one job gives, in the same order in the reports, under
--shuffle too, for a clean server and a faulty one; each job's server is
its own (its own socket, its own stderr) and none is left behind."""
import os
import re
import tempfile

import pytest

from conftest import server_cmd


def verdicts(r):
    return [(c["id"], c["verdict"], c.get("root_cause")) for c in
            r.results["cases"]]


@pytest.mark.parametrize("extra", [[], ["--quirk", "get-returns-stale-state"],
                                   ["--bug", "daemonize"]])
def test_jobs_give_the_verdicts_of_one(bins, certify, extra):
    cmd = server_cmd(bins, *extra)
    one = certify("--server-cmd", cmd, "--quiet")
    many = certify("--server-cmd", cmd, "--quiet", "--jobs", "3")
    assert many.rc == one.rc
    assert verdicts(many) == verdicts(one)
    # the same reasons, numbers (pids, times) and socket folders aside
    def same(reason):
        reason = re.sub(r"/tmp/\S*vucert-\w+", "DIR", reason or "")
        return re.sub(r"\d+", "N", reason)
    for a, b in zip(one.results["cases"], many.results["cases"]):
        assert same(b.get("reason")) == same(a.get("reason")), a["id"]


def test_jobs_under_shuffle(bins, certify):
    cmd = server_cmd(bins)
    one = certify("--server-cmd", cmd, "--quiet", "--shuffle", "7")
    many = certify("--server-cmd", cmd, "--quiet", "--shuffle", "7",
                   "--jobs", "4")
    assert verdicts(many) == verdicts(one)


def test_jobs_count_as_results_arrive_and_leave_nothing(bins, certify):
    tmp = tempfile.mkdtemp(prefix="vuj", dir="/tmp")
    old = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = tmp
    try:
        r = certify("--server-cmd", server_cmd(bins), "--case", "fsm.*",
                    "--jobs", "2")
    finally:
        if old is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = old
    assert r.rc == 0, r.out + r.err
    n = len(r.results["cases"])
    lines = [l for l in r.out.splitlines() if l.startswith("[")]
    assert [int(l[1:l.index("/")]) for l in lines] == list(range(1, n + 1))
    assert os.listdir(tmp) == []
    os.rmdir(tmp)


@pytest.mark.parametrize("args", [["--socket", "/tmp/x.sock"],
                                  ["--dest-socket", "/tmp/x.sock"],
                                  ["--jobs", "0"], ["--jobs", "65"]])
def test_jobs_need_servers_vucert_starts(bins, certify, args):
    r = certify(*(["--jobs", "2"] if args[0] != "--jobs" else []), *args,
                report=False)
    assert r.rc == 2
    assert "--jobs" in r.err
