# SPDX-License-Identifier: BSD-3-Clause
"""Servers that are right but unlike vucert-server, and servers that go
wrong in ways that used to cascade: verdicts must not depend on the order
of the cases, a hang costs one case, a crash loop is named once, and a
device without migration gets a headline, not PASSes."""
import pytest

from conftest import PROFILE, server_cmd

QUICK = ["--timeout", "2", "--stream-limit", "16M"]
SEEDS = ["1", "2", "3"]


def run(certify, bins, *server_args, extra=()):
    return certify("--server-cmd", server_cmd(bins, *server_args),
                   "--profile", str(PROFILE), *QUICK, *extra)


@pytest.mark.parametrize("quirk", [None, "logging-kept-on-reconnect",
                                   "get-returns-stale-state",
                                   "read-reply-padded"])
def test_verdicts_do_not_depend_on_order(bins, certify, quirk):
    args = ["--quirk", quirk] if quirk else []
    base = run(certify, bins, *args)
    assert base.results is not None, base.err
    for seed in SEEDS:
        r = run(certify, bins, *args, extra=["--shuffle", seed])
        assert r.results["shuffle_seed"] == int(seed)
        order = [c["id"] for c in r.results["cases"]]
        assert order != [c["id"] for c in base.results["cases"]]
        diff = {k: (v, base.verdicts()[k]) for k, v in r.verdicts().items()
                if base.verdicts()[k] != v}
        assert diff == {}, (seed, diff)
        assert r.rc == base.rc


def test_state_kept_across_reconnects_changes_one_case(bins, certify):
    """A device that keeps logging (and its migration state) across
    reconnects and resets: only the case that records what a device does
    with logging on disconnect notices (the spec does not say)."""
    clean = run(certify, bins).verdicts()
    r = run(certify, bins, "--quirk", "logging-kept-on-reconnect")
    changed = {k: v for k, v in r.verdicts().items() if clean[k] != v}
    assert changed == {"dirty.disconnect.stops-logging": "IMPL-DEFINED"}, \
        changed
    assert r.rc == 0


def test_hang_is_one_fail_and_the_server_is_restarted(bins, certify):
    r = certify("--server-cmd", server_cmd(bins, "--quirk",
                                           "hang-on-zero-read"),
                "--profile", str(PROFILE), "--timeout", "1")
    bad = {k: v for k, v in r.verdicts().items() if v not in ("PASS", "SKIP")}
    assert bad == {"stream.read.size-zero": "FAIL"}, bad
    reason = r.case("stream.read.size-zero")["reason"]
    assert "no reply within the timeout" in reason
    assert "started again" in reason
    assert r.rc == 1


def test_hung_server_on_a_socket_blocks_the_rest_at_once(bins, certify,
                                                         server):
    """vucert cannot restart a server it did not start: after the hang,
    the rest are BLOCKED by the case that hung it, without waiting."""
    _, path = server("--quirk", "hang-on-zero-read")
    # run order is the registry's: stream.* before robust.*
    r = certify("--socket", str(path), "--timeout", "1",
                "--case", "stream.read.size-zero",
                "--case", "robust.header.*")
    v = r.verdicts()
    assert v["stream.read.size-zero"] == "FAIL"
    after = [c for c in r.results["cases"]
             if c["id"].startswith("robust.")]
    assert after and all(c["verdict"] == "BLOCKED" and
                         c["root_cause"] == "stream.read.size-zero"
                         for c in after), after[:3]
    assert all(c["duration_ms"] < 500 for c in after)
    assert r.rc == 1


def test_crash_loop_is_named_once(bins, certify):
    r = run(certify, bins, "--quirk", "crash-loop")
    cases = r.results["cases"]
    first, rest = cases[0], cases[1:]
    assert first["verdict"] == "FAIL", first
    assert "killed by signal 6" in first["reason"]
    assert "Assertion 'state_ok' failed" in first["reason"]
    assert all(c["verdict"] == "BLOCKED" and c["root_cause"] == first["id"]
               for c in rest)
    assert "crash loop" in rest[0]["reason"]
    roots = r.results["summary"]["root_causes"]
    assert [g["case"] for g in roots] == [first["id"]]
    assert r.rc == 1


def test_exit_after_each_client_is_normal(bins, certify):
    clean = run(certify, bins).verdicts()
    r = run(certify, bins, "--quirk", "exit-after-client")
    changed = {k: v for k, v in r.verdicts().items() if clean[k] != v}
    # a new process per client: its fds and memory cannot be compared, and
    # no device outlives a connection
    assert changed == {"robust.resources.end": "SKIP",
                       "device.disconnect.keeps-state": "SKIP",
                       "device.disconnect.irq-fds-closed": "SKIP"}, changed
    assert r.rc == 0


@pytest.mark.parametrize("quirk", ["migration-flags-zero", "no-migration"])
def test_no_migration_gets_a_headline_not_passes(bins, certify, quirk):
    r = run(certify, bins, "--quirk", quirk)
    assert "migration not supported:" in r.out
    assert r.results["migration_supported"] is False
    v = r.verdicts()
    for c in r.results["cases"]:
        if c["id"].startswith(("fsm.", "stream.")) and \
                not c["id"].startswith(("fsm.error-reply.",
                                        "fsm.feature.unknown-index",
                                        "fsm.flags.valid")):
            assert c["verdict"] == "SKIP", c
    assert v["fsm.flags.valid"] == ("FAIL" if quirk == "migration-flags-zero"
                                    else "SKIP")
    md = (r.report_dir / "matrix.md").read_text()
    assert " ok " not in md


def test_server_claiming_more_than_proposed_is_not_believed(bins, certify):
    r = run(certify, bins, "--quirk", "max-xfer-above-proposal")
    v = r.verdicts()
    # each side's max_data_xfer_size is what "the sender supports": a
    # larger one is the server's business, recorded; vucert keeps to its
    # own proposal and every other case runs as on a clean server
    assert v["negotiate.limits.not-above-proposal"] == "IMPL-DEFINED"
    assert all(c["verdict"] in ("PASS", "SKIP")
               for c in r.results["cases"]
               if c["id"] != "negotiate.limits.not-above-proposal")
    assert r.rc == 0
