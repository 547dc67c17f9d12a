# SPDX-License-Identifier: BSD-3-Clause
"""The planted defects of vucert-server (--plant, reference-server/README.md
"Planted defects"), each triggered by a handmade reproducer that `vucert
replay` sends: with the plant the server's testimony (a sanitizer's report,
its death) makes replay say "reproduced", without it the same bytes are
"not reproduced". Also: the plain and the AFL++-instrumented servers that
later fuzzing tests use (conftest.py plain_server, afl_server), and that
the AFL++ one reports its edge coverage into the shared memory that
__AFL_SHM_ID names."""
import contextlib
import ctypes
import itertools
import os
import shutil
import signal
import socket
import struct
import subprocess
import time

import pytest

from conftest import asan_built, server_cmd

# include/vucert/wire.h (msgs.def)
VERSION = 1
DEVICE_GET_INFO = 4
DEVICE_GET_REGION_INFO = 5
DEVICE_GET_IRQ_INFO = 7
DEVICE_SET_IRQS = 8
DEVICE_RESET = 13
DEVICE_FEATURE = 16

# reference-server/device.c: VFIO_IRQ_SET_DATA_NONE | ACTION_TRIGGER
IRQ_DATA_NONE_TRIGGER = (1 << 0) | (1 << 5)


def msg(mid, cmd, payload=b"", flags=0):
    """A whole vfio-user message: the 16-byte header (id, cmd, size,
    flags, error), then the payload."""
    return struct.pack("<HHIII", mid, cmd, 16 + len(payload), flags, 0) + \
        payload


def region_info(mid, index=0):
    # struct vfio_region_info: argsz, flags, index, cap_offset, size, offset
    return msg(mid, DEVICE_GET_REGION_INFO,
               struct.pack("<IIIIQQ", 32, 0, index, 0, 0, 0))


def set_irqs(mid):
    # struct vfio_irq_set: argsz, flags, index, start, count: trigger INTx
    return msg(mid, DEVICE_SET_IRQS,
               struct.pack("<IIIII", 20, IRQ_DATA_NONE_TRIGGER, 0, 0, 1))


def reset(mid):
    return msg(mid, DEVICE_RESET)


def irq_info(mid, index=0):
    # struct vfio_irq_info: argsz, flags, index, count
    return msg(mid, DEVICE_GET_IRQ_INFO, struct.pack("<IIII", 16, 0, index, 0))


def get_info(mid):
    return msg(mid, DEVICE_GET_INFO, struct.pack("<IIII", 16, 0, 0, 0))


def feature(mid, n):
    """DEVICE_FEATURE with an n-byte payload: argsz 8 (as much as fits),
    then bytes 0xa5 (short of the 8-byte argsz + flags: EINVAL)."""
    p = struct.pack("<I", 8)[:n] + b"\xa5" * max(0, n - 4)
    return msg(mid, DEVICE_FEATURE, p)


def repro(path, *msgs):
    """A reproducer file (harness/fuzz.c): the magic line, then each
    message as its u32 length and its bytes."""
    with open(path, "wb") as f:
        f.write(b"VUCERT-REPRO 1\n")
        for m in msgs:
            f.write(struct.pack("<I", len(m)) + m)
    return str(path)


def replay(bins, path, cmd, timeout_s=None):
    """vucert replay; timeout_s: its --timeout, for a slow server (one
    under valgrind)."""
    extra = ["--timeout", str(timeout_s)] if timeout_s else []
    return subprocess.run([bins["vucert"], "replay", path, "--server-cmd",
                           cmd] + extra, capture_output=True, text=True,
                          timeout=120)


def reproduced(r, *words):
    assert r.returncode == 1, r.stdout + r.stderr
    assert "vucert replay: reproduced" in r.stdout, r.stdout
    for w in words:
        assert w in r.stdout, r.stdout


def not_reproduced(r):
    assert r.returncode == 0, r.stdout + r.stderr
    assert "not reproduced" in r.stdout, r.stdout


@pytest.fixture(scope="session")
def asan_bins(bins):
    if not asan_built(bins["server"]):
        pytest.skip(f"{bins['server']} is not ASan-instrumented (no "
                    "__asan_init): overread and leak show only under a "
                    "sanitizer; build with -DVUC_SANITIZE=ON (build-asan)")
    return bins


def test_plants_are_listed_and_an_unknown_one_is_refused(bins):
    h = subprocess.run([bins["server"], "--help"], capture_output=True,
                       text=True, timeout=10)
    assert h.returncode == 0
    assert "--plant NAME" in h.stdout
    listed = h.stdout.split("planted defects:\n", 1)[1]
    for name in ("overread", "leak", "abort-sequence"):
        assert f"  {name} " in listed, h.stdout
    p = subprocess.run([bins["server"], "--socket", "/nonexistent/s",
                        "--plant", "leek"], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 2
    assert "unknown plant 'leek'" in p.stderr
    for name in ("overread", "leak", "abort-sequence"):
        assert f"  {name}\n" in p.stderr, p.stderr


@pytest.mark.parametrize("n", [5, 6, 7])
def test_overread_is_reproduced_under_asan(asan_bins, tmp_path, n):
    path = repro(tmp_path / "overread", feature(1, n))
    reproduced(replay(asan_bins, path,
                      server_cmd(asan_bins, "--plant", "overread")),
               "heap-buffer-overflow")
    not_reproduced(replay(asan_bins, path, server_cmd(asan_bins)))


def test_overread_wants_a_payload_of_5_to_7_bytes(asan_bins, tmp_path):
    cmd = server_cmd(asan_bins, "--plant", "overread")
    for n in (0, 4, 8):
        not_reproduced(replay(asan_bins,
                              repro(tmp_path / f"f{n}", feature(1, n)), cmd))


def test_overread_is_invisible_without_a_sanitizer(plain_server, tmp_path):
    """Without ASan the over-read changes nothing: the server answers the
    short DEVICE_FEATUREs with EINVAL, as without the plant, and lives."""
    answers = []
    for extra in ([], ["--plant", "overread"]):
        with _running(plain_server, tmp_path, *extra) as (p, path):
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(path))
                s.settimeout(5)
                _negotiate(s)
                got = []
                for n in (5, 6, 7):
                    s.sendall(feature(n, n))
                    got.append(_recv_msg(s))
                answers.append(got)
            assert p.poll() is None
    assert answers[0] == answers[1]
    for h in answers[1]:
        _, cmd, size, flags, err = struct.unpack("<HHIII", h[:16])
        assert cmd == DEVICE_FEATURE and size == 16
        assert flags & 0x20 and err == 22  # Error, EINVAL


@pytest.fixture(scope="session")
def valgrind():
    v = shutil.which("valgrind")
    if v is None:
        pytest.skip("valgrind is not installed")
    return v


def test_overread_is_reproduced_under_valgrind(bins, plain_server, valgrind,
                                               tmp_path):
    """valgrind sees the over-read too (the bytes are read one by one: an
    aligned u32 load partly inside the block would pass its default
    --partial-loads-ok=yes); the server lives on, and replay reads the
    report when it ends the server."""
    path = repro(tmp_path / "overread", feature(1, 5))
    vg = f"{valgrind} -q {plain_server} --socket {{socket}}"
    reproduced(replay(bins, path, vg + " --plant overread", timeout_s=20),
               "Invalid read of size 1")
    not_reproduced(replay(bins, path, vg, timeout_s=20))


def test_leak_is_reproduced_under_valgrind(bins, plain_server, valgrind,
                                           tmp_path):
    path = repro(tmp_path / "leak", irq_info(1, 0))
    vg = f"{valgrind} -q --leak-check=full {plain_server} --socket {{socket}}"
    reproduced(replay(bins, path, vg + " --plant leak", timeout_s=20),
               "definitely lost")
    not_reproduced(replay(bins, path, vg, timeout_s=20))


def test_leak_is_reproduced_at_exit_under_lsan(asan_bins, tmp_path):
    path = repro(tmp_path / "leak", irq_info(1, 0), irq_info(2, 1),
                 irq_info(3, 2))
    reproduced(replay(asan_bins, path,
                      server_cmd(asan_bins, "--plant", "leak")),
               "LeakSanitizer", "detected memory leaks")
    not_reproduced(replay(asan_bins, path, server_cmd(asan_bins)))


ORDER = (region_info, set_irqs, reset)


def test_abort_sequence_is_reproduced(bins, tmp_path):
    path = repro(tmp_path / "abort", *(f(i + 1) for i, f in enumerate(ORDER)))
    reproduced(replay(bins, path,
                      server_cmd(bins, "--plant", "abort-sequence")),
               "signal 6")
    not_reproduced(replay(bins, path, server_cmd(bins)))


def test_abort_sequence_allows_messages_in_between(bins, tmp_path):
    """Other messages between the three, the three themselves again out
    of turn, and invalid ones count by their command."""
    seq = [reset(1), set_irqs(2), get_info(3),
           msg(4, DEVICE_GET_REGION_INFO, b"\x01\x02"),  # too short
           region_info(5), irq_info(6), set_irqs(7), region_info(8),
           msg(9, DEVICE_SET_IRQS),  # no payload at all
           get_info(10),
           msg(11, DEVICE_RESET, b"\x00" * 4)]  # RESET takes no payload
    reproduced(replay(bins, repro(tmp_path / "between", *seq),
                      server_cmd(bins, "--plant", "abort-sequence")),
               "signal 6")


@pytest.mark.parametrize("order", [
    o for o in itertools.permutations(range(3)) if o != (0, 1, 2)])
def test_abort_sequence_other_orders_do_not_abort(bins, tmp_path, order):
    seq = [ORDER[k](i + 1) for i, k in enumerate(order)]
    not_reproduced(replay(bins, repro(tmp_path / "order", *seq),
                          server_cmd(bins, "--plant", "abort-sequence")))


def test_abort_sequence_counts_per_connection(bins, server):
    """The order is counted on each connection from its start: the first
    two on one connection and the RESET on the next abort nothing; all
    three on one connection do."""
    p, path = server("--plant", "abort-sequence")

    def talk(*msgs):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(path))
            s.settimeout(5)
            for m in msgs:  # before VERSION: each one gets EINVAL
                s.sendall(m)
                _recv_msg(s)

    talk(region_info(1), set_irqs(2))
    talk(reset(3))
    assert p.poll() is None
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(path))
        s.settimeout(5)
        for m in (region_info(1), set_irqs(2), reset(3)):
            s.sendall(m)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
    assert p.wait(10) == -signal.SIGABRT
    assert "abort-sequence plant" in p.stderr.read()


# ---- the servers later fuzzing tests use ----


def test_plain_server_is_not_instrumented(plain_server):
    assert not asan_built(plain_server)
    h = subprocess.run([plain_server, "--help"], capture_output=True,
                       text=True, timeout=10)
    assert h.returncode == 0 and "--plant NAME" in h.stdout


class _Shm:
    """A SysV shared memory segment of `size` bytes, attached here."""

    def __init__(self, size):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.shmget.restype = ctypes.c_int
        libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
        libc.shmat.restype = ctypes.c_void_p
        libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
        libc.shmdt.argtypes = [ctypes.c_void_p]
        libc.shmctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
        self.libc = libc
        self.id = libc.shmget(0, size, 0o1000 | 0o600)  # IPC_PRIVATE, CREAT
        if self.id < 0:
            pytest.skip("shmget: " + os.strerror(ctypes.get_errno()))
        self.addr = libc.shmat(self.id, None, 0)
        if self.addr in (None, ctypes.c_void_p(-1).value):
            err = ctypes.get_errno()
            libc.shmctl(self.id, 0, None)  # IPC_RMID
            pytest.skip("shmat: " + os.strerror(err))
        self.map = (ctypes.c_ubyte * size).from_address(self.addr)

    def nonzero(self):
        return sum(1 for b in bytes(self.map) if b)

    def close(self):
        self.libc.shmdt(ctypes.c_void_p(self.addr))
        self.libc.shmctl(self.id, 0, None)  # IPC_RMID


def test_afl_server_reports_coverage_into_the_shm(afl_server, tmp_path):
    """AFL++'s runtime maps the segment __AFL_SHM_ID names and counts the
    edges it runs there; with no forkserver on its pipe it just runs,
    saying nothing. Its map (one byte per edge, a few thousand edges)
    fits the default 64 KiB: no AFL_MAP_SIZE is needed."""
    shm = _Shm(65536)
    try:
        env = dict(os.environ, __AFL_SHM_ID=str(shm.id))
        env.pop("AFL_MAP_SIZE", None)
        with _running(afl_server, tmp_path, env=env) as (p, path):
            before = shm.nonzero()
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(path))
                s.settimeout(5)
                _negotiate(s)
                s.sendall(get_info(1))
                _recv_msg(s)
            time.sleep(0.05)
            after = shm.nonzero()
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=10)
        assert p.returncode == 0, err
        assert after > before > 0, (before, after)
        assert out == b"" and err == b"", (out, err)
    finally:
        shm.close()


# ---- helpers for talking to a server directly ----


def _wait_socket(p, path):
    """Wait until the server accepts connections (its socket file appears
    at bind(), a moment before listen())."""
    deadline = time.time() + 10
    while time.time() < deadline:
        if path.exists():
            with socket.socket(socket.AF_UNIX) as s:
                try:
                    s.connect(str(path))
                    return
                except OSError:
                    pass
        if p.poll() is not None:
            raise RuntimeError(f"server exited with {p.returncode}")
        time.sleep(0.01)
    raise RuntimeError("no socket")


@contextlib.contextmanager
def _running(binary, tmp_path, *extra, env=None):
    """Run a vucert-server binary on a socket in tmp_path; yields (proc,
    path) and ends it with SIGTERM."""
    path = tmp_path / f"s{next(_serial)}.sock"
    p = subprocess.Popen([binary, "--socket", str(path)] + list(extra),
                         env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        _wait_socket(p, path)
        yield p, path
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()


_serial = itertools.count()


def _negotiate(s):
    s.sendall(msg(0, VERSION, struct.pack("<HH", 0, 1)))
    h = _recv_msg(s)
    assert struct.unpack("<I", h[12:16])[0] == 0, h


def _recv_msg(s):
    h = b""
    while len(h) < 16:
        c = s.recv(16 - len(h))
        if not c:
            raise ConnectionError("closed")
        h += c
    size = struct.unpack("<I", h[4:8])[0]
    rest = b""
    while len(h) + len(rest) < size:
        c = s.recv(size - len(h) - len(rest))
        if not c:
            raise ConnectionError("closed")
        rest += c
    return h + rest
