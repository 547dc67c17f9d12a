# SPDX-License-Identifier: BSD-3-Clause
"""vucert-server as a process: options, signals, socket cleanup."""
import signal
import subprocess

import pytest


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_exit_removes_socket(server, sig):
    proc, path = server()
    proc.send_signal(sig)
    assert proc.wait(5) == 0
    assert not path.exists()


def test_half_header_client_does_not_block_shutdown(server):
    import socket
    proc, path = server()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(path))
    s.sendall(b"\x01\x00\x01")  # 3 bytes of a header, then silence
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(5) == 0
    s.close()


@pytest.mark.parametrize("args", [
    [],
    ["--socket", "/tmp/x.sock", "--migration-flags", "p2p"],
    ["--socket", "/tmp/x.sock", "--migration-flags", "stop-copy,bogus"],
    ["--socket", "/tmp/x.sock", "--quirk", "no-such-quirk"],
    ["--socket", "/tmp/x.sock", "--bogus"],
])
def test_usage_errors(bins, args):
    p = subprocess.run([bins["server"]] + args, capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip()


def test_unknown_quirk_lists_valid_ones(bins):
    p = subprocess.run([bins["server"], "--socket", "/tmp/x.sock", "--quirk",
                        "nope"], capture_output=True, text=True, timeout=10)
    assert "state-8-accepted" in p.stderr
