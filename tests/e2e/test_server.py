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


@pytest.mark.parametrize("stall", ["nothing", "half a message"])
def test_idle_client_is_dropped_so_the_next_is_served(server, stall):
    """A client that sends nothing, or stops mid-message, holds the
    one-client-at-a-time server only until --idle-timeout."""
    import socket
    import struct
    import time
    _, path = server("--idle-timeout", "0.3")
    a = socket.socket(socket.AF_UNIX)
    a.connect(str(path))
    if stall != "nothing":
        a.sendall(struct.pack("<HHIII", 1, 1, 64, 0, 0) + b"\0\0")
    time.sleep(0.05)  # a is the one being served
    b = socket.socket(socket.AF_UNIX)
    b.settimeout(5)
    b.connect(str(path))
    t0 = time.monotonic()
    assert _version(b)[1] == 1      # b's VERSION answered ...
    assert time.monotonic() - t0 < 2  # ... once a was dropped
    a.settimeout(1)
    assert a.recv(16) == b""        # a was closed
    a.close()
    b.close()


def test_idle_timeout_0_keeps_a_silent_client(server):
    import socket
    import time
    _, path = server("--idle-timeout", "0")
    a = socket.socket(socket.AF_UNIX)
    a.connect(str(path))
    time.sleep(0.05)
    b = socket.socket(socket.AF_UNIX)
    b.settimeout(0.8)
    b.connect(str(path))
    with pytest.raises(socket.timeout):
        _version(b)   # still waiting behind a
    a.close()
    b.close()
