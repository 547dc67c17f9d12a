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
    ["--fd", "0"],                      # not a socket
    ["--fd", "x"],
    ["--fd", "1", "--socket", "/tmp/x.sock"],
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


def _version(sock):
    """VERSION 0.1 with an empty capabilities object; the reply's header."""
    import struct
    js = b'{"capabilities":{}}\0'
    payload = struct.pack("<HH", 0, 1) + js
    sock.sendall(struct.pack("<HHIII", 1, 1, 16 + len(payload), 0, 0) +
                 payload)
    hdr = sock.recv(16, socket_flags())
    return struct.unpack("<HHIII", hdr)


def socket_flags():
    import socket
    return socket.MSG_WAITALL


def test_fd_serves_one_client_then_exits(bins):
    """--fd=N: the Backend Program Conventions' connected socket."""
    import socket
    a, b = socket.socketpair()
    p = subprocess.Popen([bins["server"], "--fd=%d" % b.fileno()],
                         pass_fds=[b.fileno()], stderr=subprocess.PIPE)
    b.close()
    a.settimeout(5)
    msg_id, cmd, size, flags, err = _version(a)
    assert (msg_id, cmd, flags & 0xf, err) == (1, 1, 1, 0)
    a.close()
    assert p.wait(5) == 0


def test_fd_refused_bug_is_a_usage_error(bins):
    import socket
    a, b = socket.socketpair()
    p = subprocess.run([bins["server"], "--fd=%d" % b.fileno(), "--bug",
                        "fd-refused"], pass_fds=[b.fileno()],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "--fd" in p.stderr
