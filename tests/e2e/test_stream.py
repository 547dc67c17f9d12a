# SPDX-License-Identifier: BSD-3-Clause
"""Migration data streams: the stream.* cases against the clean server and
its stream quirks, and a real migration between two servers."""

import pytest

from conftest import FLAG_SETS, PROFILE, server_cmd

WITH_PRE = [f for f in FLAG_SETS if "pre-copy" in f]
# a stream that never ends must not make a test read gigabytes
LIMIT = ["--stream-limit", "16M"]


def test_padding_server_is_bounded_by_stream_limit(bins, certify):
    r = certify("--server-cmd",
                server_cmd(bins, "--quirk", "read-pads-to-requested"),
                "--case", "stream.read.full-to-end", *LIMIT)
    c = r.case("stream.read.full-to-end")
    assert c["verdict"] == "FAIL" and "did not end within" in c["reason"]


@pytest.mark.parametrize("flags", FLAG_SETS)
def test_migration_between_two_servers(bins, certify, flags):
    """Source and destination are separate processes; the digest in the
    profile must match after the round trip."""
    r = certify("--server-cmd", server_cmd(bins, "--migration-flags", flags),
                "--dest-server-cmd",
                server_cmd(bins, "--migration-flags", flags),
                "--profile", str(PROFILE), "--case", "stream.roundtrip")
    assert r.rc == 0, r.out + r.err
    assert r.case("stream.roundtrip")["verdict"] == "PASS"
    assert r.results["server"]["destination"]


def test_destination_socket(bins, certify, server):
    _, path = server()
    r = certify("--server-cmd", server_cmd(bins), "--dest-socket", str(path),
                "--profile", str(PROFILE), "--case", "stream.roundtrip")
    assert r.rc == 0, r.out + r.err


def test_precopy_loss_is_caught_between_two_servers(bins, certify):
    r = certify("--server-cmd",
                server_cmd(bins, "--quirk", "precopy-loses-dirty-state"),
                "--dest-server-cmd", server_cmd(bins),
                "--profile", str(PROFILE), "--case", "stream.roundtrip")
    c = r.case("stream.roundtrip")
    assert r.rc == 1 and c["verdict"] == "FAIL"
    assert "digest differs" in c["reason"]


def test_resume_fail_to_error_still_certifies(bins, certify):
    """With --resume-fail-to-error a bad resume goes to ERROR, which the
    resume cases allow; reset brings the device back for the rest."""
    r = certify("--server-cmd",
                server_cmd(bins, "--resume-fail-to-error"),
                "--profile", str(PROFILE))
    assert r.rc == 0, r.out


def test_unreachable_destination_exits_2(bins, certify, tmp_path):
    r = certify("--server-cmd", server_cmd(bins), "--dest-socket",
                str(tmp_path / "none.sock"), "--timeout", "0.3",
                report=False)
    assert r.rc == 2
