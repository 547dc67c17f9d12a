#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench_fuzz: sequences per second of `vucert fuzz` against a live
vucert-server, in both modes, each as a ratio to a limit measured in the
same run.

fresh (the default with --server-cmd): every sequence meets a new server
process. vucert starts it with `sh -c 'exec SERVER --socket PATH'`, waits
for the socket file, connects, negotiates VERSION, sends the sequence,
probes liveness on a second connection, then SIGTERMs the server and
waits for its exit.
  Limit: server starts per second. This script does the part of that
  cycle no fresh-mode fuzzer can skip, with nothing else: posix_spawn of
  `/bin/sh -c 'exec SERVER --socket PATH'` (the same shell, the same
  server binary and command line; its own process group; stderr appended
  to a log file, as vucert does), polling every 100 us (stat, then
  connect) until the server accepts a connection, one connect and close,
  SIGTERM to the group, waitpid. Starting the real server rather than
  timing `vucert-server --help`: it has no --version, and what a fresh
  sequence pays is the start up to listen() and the exit after SIGTERM,
  which a process that prints and exits does not have. One poll takes
  about 0.17 ms with the timer's slack, so the server is seen on average
  about 0.09 ms after it listens: the limit is some 5% low on a cycle of
  about 2 ms.

reuse (--reuse-server): one server process; each sequence is a new
connection that negotiates VERSION and sends DEVICE_RESET, then the
steps, then the liveness probe on a second connection (VERSION and
DEVICE_GET_INFO).
  Limit: empty sequences per second against one running vucert-server,
  from this script: connect + VERSION (the same capabilities JSON) +
  DEVICE_RESET + close, then connect + VERSION + DEVICE_GET_INFO +
  close: the two connections and four round trips every reused sequence
  pays before it sends a single step. The steps themselves are not in
  the limit (they are the work); for scale the script also times one
  more round trip (DEVICE_GET_INFO on an open connection) and says how
  many such round trips the gap between vucert and the limit is worth.
  Python adds a few microseconds per system call, so this limit is lower
  than a C client would reach: the ratio flatters vucert a little.

Each limit is measured in two halves, one before and one after the fuzz
run it is compared with, so that drift hits both; each half is printed.
The fuzz rate is vucert's own (summary.json: runs / seconds, which leaves
out vucert's start and, in reuse mode, the server's).

Options: --runs N (fresh-mode sequences, default 2000; reuse mode runs
10 x N), --quick (100 / 1000, for the ctest smoke), --seed, --vucert,
--server, --json FILE. Exit: 0 when both fuzz runs and both limits ran
and vucert found nothing; 1 when vucert failed, found something against
the clean server, or a limit could not be measured (why is printed);
2 on a usage error. Ratios never fail it. Standard library only.
"""
import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import stat
import statistics
import struct
import subprocess
import sys
import tempfile
import time

# vucert's VERSION proposal (harness/client.c default_caps), NUL-ended
CAPS = (b'{"capabilities":{"max_msg_fds":8,"max_data_xfer_size":1048576,'
        b'"max_dma_maps":65535,"pgsizes":4096}}\0')
CMD_VERSION, CMD_DEVICE_GET_INFO, CMD_DEVICE_RESET = 1, 4, 13
FLAG_TYPE_MASK, TYPE_REPLY, FLAG_ERROR = 0xF, 0x1, 1 << 5
START_TIMEOUT_S = 10.0
POLL_S = 100e-6


class BenchError(Exception):
    def __init__(self, msg, keep=False):
        super().__init__(msg)
        self.keep = keep  # the work directory holds evidence


def find_bin(explicit, name, beside=None):
    if explicit:
        # runs happen in a private cwd
        return os.path.abspath(explicit)
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    cands = []
    if beside:
        cands.append(os.path.join(os.path.dirname(beside), name))
    if os.environ.get("VUC_BIN"):
        cands.append(os.path.join(os.environ["VUC_BIN"], name))
    cands += [os.path.join(root, d, "bin", name)
              for d in ("build", "build-bench")]
    for c in cands:
        if os.access(c, os.X_OK):
            return os.path.abspath(c)
    return None


def message(msg_id, cmd, payload):
    return struct.pack("<HHIII", msg_id, cmd, 16 + len(payload), 0,
                       0) + payload


VERSION_MSG = message(0, CMD_VERSION, struct.pack("<HH", 0, 1) + CAPS)
RESET_MSG = message(1, CMD_DEVICE_RESET, b"")
INFO_MSG = message(1, CMD_DEVICE_GET_INFO, struct.pack("<IIII", 16, 0, 0, 0))


def recv_exact(s, n):
    buf = s.recv(n, socket.MSG_WAITALL)
    if len(buf) != n:
        raise BenchError(f"the server closed the connection ({len(buf)} of "
                         f"{n} bytes)")
    return buf


def round_trip(s, msg, what):
    s.sendall(msg)
    _, cmd, size, flags, err = struct.unpack("<HHIII", recv_exact(s, 16))
    if size > 16:
        recv_exact(s, size - 16)
    if (flags & FLAG_TYPE_MASK) != TYPE_REPLY or flags & FLAG_ERROR:
        raise BenchError(f"{what}: flags 0x{flags:x}, error {err}")


class Server:
    """vucert-server started as vucert starts it: sh -c 'exec CMD', in its
    own process group, stdin /dev/null, stdout and stderr appended to a
    log."""

    def __init__(self, server, work):
        self.sock = os.path.join(work, "server.sock")
        self.log = os.path.join(work, "server-stderr.log")
        self.cmd = (f"exec {shlex.quote(server)} --socket "
                    f"{shlex.quote(self.sock)}")
        self.null = os.open(os.devnull, os.O_RDONLY)
        self.logfd = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                             0o600)
        self.pid = 0

    def close(self):
        self.stop()
        os.close(self.null)
        os.close(self.logfd)

    def log_tail(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-1000:].strip()
        except OSError:
            return ""

    def start(self):
        """Spawn; returns the connected socket once the server accepts."""
        try:
            os.unlink(self.sock)
        except FileNotFoundError:
            pass
        self.pid = os.posix_spawn(
            "/bin/sh", ["sh", "-c", self.cmd], os.environ, setpgroup=0,
            file_actions=[(os.POSIX_SPAWN_DUP2, self.null, 0),
                          (os.POSIX_SPAWN_DUP2, self.logfd, 1),
                          (os.POSIX_SPAWN_DUP2, self.logfd, 2)])
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if stat.S_ISSOCK(os.stat(self.sock).st_mode):
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    try:
                        s.connect(self.sock)
                        return s
                    except ConnectionRefusedError:  # bound, not listening
                        s.close()
            except FileNotFoundError:
                pass
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.pid = 0
                raise BenchError(f"the server exited (wait status {status}) "
                                 f"before listening: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise BenchError(f"the server did not listen on {self.sock} "
                                 f"within {START_TIMEOUT_S:.0f} s")
            time.sleep(POLL_S)

    def stop(self):
        """SIGTERM to the group, wait; an exit other than 0 or by SIGTERM
        is an error."""
        if self.pid <= 0:
            return
        pid, self.pid = self.pid, 0
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        _, status = os.waitpid(pid, 0)
        if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0) and \
                not (os.WIFSIGNALED(status) and
                     os.WTERMSIG(status) == signal.SIGTERM):
            raise BenchError(f"the server ended with wait status {status} "
                             f"after SIGTERM: {self.log_tail()}")


def fresh_limit(srv, n):
    """n starts; returns (seconds, per-start up ms, per-start down ms)."""
    up, down = [], []
    t_all = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        s = srv.start()
        s.close()
        t1 = time.perf_counter()
        srv.stop()
        t2 = time.perf_counter()
        up.append((t1 - t0) * 1e3)
        down.append((t2 - t1) * 1e3)
    return time.perf_counter() - t_all, up, down


def empty_sequence(path):
    # the sequence's connection (VERSION, DEVICE_RESET), then the
    # liveness probe's (VERSION, DEVICE_GET_INFO)
    for msg, name in ((RESET_MSG, "DEVICE_RESET"),
                      (INFO_MSG, "DEVICE_GET_INFO")):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            round_trip(s, VERSION_MSG, "VERSION")
            round_trip(s, msg, name)
        finally:
            s.close()


def reuse_limit(path, n):
    t0 = time.perf_counter()
    for _ in range(n):
        empty_sequence(path)
    return time.perf_counter() - t0


def round_trip_us(path, n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        round_trip(s, VERSION_MSG, "VERSION")
        t0 = time.perf_counter()
        for _ in range(n):
            round_trip(s, INFO_MSG, "DEVICE_GET_INFO")
        return (time.perf_counter() - t0) / n * 1e6
    finally:
        s.close()


def fuzz(vucert, server, runs, seed, reuse, work):
    """One vucert fuzz run; returns summary.json's figures."""
    out = os.path.join(work, "fuzz-reuse" if reuse else "fuzz-fresh")
    cmd = [vucert, "fuzz", "--server-cmd",
           f"{shlex.quote(server)} --socket {{socket}}", "--runs", str(runs),
           "--seed", str(seed), "--out", out]
    if reuse:
        cmd.append("--reuse-server")
    p = subprocess.run(cmd, cwd=work, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    mode = "reuse" if reuse else "fresh"
    if p.returncode != 0:
        what = "found something" if p.returncode == 1 else "failed"
        tail = "\n".join(p.stdout.strip().splitlines()[-20:])
        raise BenchError(f"{mode}: vucert fuzz {what} (exit "
                         f"{p.returncode}) against the clean server; its "
                         f"reproducers and logs are kept in {out}:\n{tail}",
                         keep=True)
    try:
        with open(os.path.join(out, "summary.json")) as f:
            s = json.load(f)
    except (OSError, ValueError) as e:
        raise BenchError(f"{mode}: reading {out}/summary.json: {e}")
    want = "reuse-server" if reuse else "fresh"
    if s.get("mode") != want or s.get("runs") != runs or \
            not s.get("seconds"):
        raise BenchError(f"{mode}: summary.json says mode {s.get('mode')}, "
                         f"{s.get('runs')} runs in {s.get('seconds')} s "
                         f"(expected {want}, {runs} runs)")
    last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
    return s, last


def halves(n):
    return (n + 1) // 2, n // 2 if n > 1 else 1


def measure(a, vucert, server, work, report):
    fresh_runs = a.runs
    reuse_runs = 10 * a.runs
    print(f"bench_fuzz: {vucert} fuzz, server {server}, seed {a.seed}, "
          f"{fresh_runs} fresh and {reuse_runs} reused sequences")
    sys.stdout.flush()
    srv = Server(server, work)
    try:
        # fresh: limit half, fuzz, limit half
        h1, h2 = halves(fresh_runs)
        s1, up1, down1 = fresh_limit(srv, h1)
        fz, last = fuzz(vucert, server, fresh_runs, a.seed, False, work)
        s2, up2, down2 = fresh_limit(srv, h2)
        lim = (h1 + h2) / (s1 + s2)
        rate = fz["runs"] / fz["seconds"]
        up, down = up1 + up2, down1 + down2
        report["fresh"] = {
            "runs": fz["runs"], "seconds": fz["seconds"],
            "seq_per_s": rate, "limit_starts_per_s": lim,
            "limit_halves_per_s": [h1 / s1, h2 / s2],
            "limit_starts": h1 + h2, "ratio": rate / lim,
            "start_to_listen_ms_median": statistics.median(up),
            "sigterm_to_exit_ms_median": statistics.median(down),
            "vucert_line": last}
        print(f"  fresh: vucert {last.removeprefix('vucert fuzz: ')}")
        print(f"  fresh: limit {h1 + h2} starts, {lim:.0f}/s (halves "
              f"{h1 / s1:.0f} / {h2 / s2:.0f}); start to listening "
              f"{statistics.median(up):.2f} ms, SIGTERM to exit "
              f"{statistics.median(down):.2f} ms (medians)")
        print(f"  fresh: {1e3 / rate:.2f} ms per sequence, "
              f"{1e3 / lim:.2f} ms per start")
        print(f"fresh: {rate:.0f} seq/s, limit {lim:.0f} starts/s, ratio "
              f"{rate / lim:.2f}")
        sys.stdout.flush()

        # reuse: limit half, fuzz, limit half, against one running server
        h1, h2 = halves(reuse_runs)
        srv.start().close()
        empty_sequence(srv.sock)  # warm-up
        s1 = reuse_limit(srv.sock, h1)
        fz, last = fuzz(vucert, server, reuse_runs, a.seed, True, work)
        s2 = reuse_limit(srv.sock, h2)
        rtt = round_trip_us(srv.sock, max(100, reuse_runs // 4))
        srv.stop()
        lim = (h1 + h2) / (s1 + s2)
        rate = fz["runs"] / fz["seconds"]
        gap = 1e6 / rate - 1e6 / lim
        report["reuse"] = {
            "runs": fz["runs"], "seconds": fz["seconds"],
            "seq_per_s": rate, "limit_empty_seq_per_s": lim,
            "limit_halves_per_s": [h1 / s1, h2 / s2],
            "limit_sequences": h1 + h2, "ratio": rate / lim,
            "round_trip_us": rtt, "gap_us": gap,
            "vucert_line": last}
        print(f"  reuse: vucert {last.removeprefix('vucert fuzz: ')}")
        print(f"  reuse: limit {h1 + h2} empty sequences (2 x connect + "
              f"VERSION + one call + close), {lim:.0f}/s (halves "
              f"{h1 / s1:.0f} / {h2 / s2:.0f})")
        print(f"  reuse: {1e6 / rate:.0f} us per sequence, {1e6 / lim:.0f} "
              f"us per empty one; the gap, {gap:.0f} us, is "
              f"{gap / rtt:.1f} round trips of {rtt:.1f} us (DEVICE_GET_INFO "
              f"on an open connection)")
        print(f"reuse: {rate:.0f} seq/s, limit {lim:.0f} empty seq/s, ratio "
              f"{rate / lim:.2f}")
    finally:
        try:
            srv.close()
        except BenchError as e:
            print(f"bench_fuzz: {e}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vucert", help="the vucert binary (default: "
                    "$VUC_BIN/vucert, build/bin/vucert, build-bench/bin/vucert)")
    ap.add_argument("--server", help="the vucert-server binary (default: "
                    "the one beside vucert, then $VUC_BIN, build/bin, "
                    "build-bench/bin)")
    ap.add_argument("--runs", type=int, default=2000,
                    help="fresh-mode sequences (reuse mode runs 10 x N; "
                    "default 2000)")
    ap.add_argument("--quick", action="store_true",
                    help="100 fresh, 1000 reuse (the ctest smoke)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="also write the figures as JSON")
    a = ap.parse_args()
    if a.quick:
        a.runs = 100
    if a.runs < 1:
        ap.error("--runs must be at least 1")
    if a.seed < 0:
        ap.error("--seed must not be negative")
    vucert = find_bin(a.vucert, "vucert")
    if not vucert:
        print("bench_fuzz: no vucert binary found; use --vucert PATH",
              file=sys.stderr)
        return 1
    server = find_bin(a.server, "vucert-server", vucert)
    if not server:
        print("bench_fuzz: no vucert-server binary found; use --server PATH",
              file=sys.stderr)
        return 1

    # vucert fuzz makes its own temporary directory for the server's
    # socket; the private cwd holds --out and this script's own server.
    work = tempfile.mkdtemp(prefix="bench_fuzz.")
    report = {"benchmark": "bench_fuzz", "vucert": vucert, "server": server,
              "seed": a.seed}
    keep = False
    try:
        measure(a, vucert, server, work, report)
    except BenchError as e:
        print(f"bench_fuzz: {e}", file=sys.stderr)
        keep = e.keep
        return 1
    except OSError as e:
        print(f"bench_fuzz: {e}", file=sys.stderr)
        return 1
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
