# SPDX-License-Identifier: BSD-3-Clause
"""Shared fixtures: where the built binaries are, and how to run them."""
import json
import os
import pathlib
import signal
import socket
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROFILE = ROOT / "profiles" / "vucert-server.json"
FLAG_SETS = ["stop-copy", "stop-copy,p2p", "stop-copy,pre-copy",
             "stop-copy,p2p,pre-copy"]
STATES = ["ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P",
          "PRE_COPY", "PRE_COPY_P2P"]


def bin_dir():
    d = os.environ.get("VUC_BIN")
    if d:
        return pathlib.Path(d)
    for cand in ("build", "build-asan", "build-me"):
        p = ROOT / cand / "bin"
        if (p / "vucert").exists():
            return p
    raise RuntimeError("set VUC_BIN to the folder holding vucert")


@pytest.fixture(scope="session")
def bins():
    d = bin_dir()
    return {"vucert": str(d / "vucert"),
            "server": str(d / "vucert-server")}


def advertised(flags):
    """States a flag set advertises (spec: interpreted as in VFIO)."""
    s = {"ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING"}
    names = flags.split(",")
    if "p2p" in names:
        s.add("RUNNING_P2P")
    if "pre-copy" in names:
        s.add("PRE_COPY")
    if "p2p" in names and "pre-copy" in names:
        s.add("PRE_COPY_P2P")
    return s


class Run:
    def __init__(self, proc, report_dir):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.report_dir = report_dir
        self.results = None
        rj = report_dir / "results.json" if report_dir else None
        if rj and rj.exists():
            self.results = json.loads(rj.read_text())

    def verdicts(self):
        return {c["id"]: c["verdict"] for c in self.results["cases"]}

    def case(self, cid):
        for c in self.results["cases"]:
            if c["id"] == cid:
                return c
        raise KeyError(cid)


@pytest.fixture
def certify(bins, tmp_path):
    """Run `vucert certify` with arguments; returns a Run."""
    counter = [0]

    def run(*args, report=True, timeout=240):
        counter[0] += 1
        rdir = tmp_path / f"reports{counter[0]}" if report else None
        cmd = [bins["vucert"], "certify"] + list(args)
        if rdir:
            cmd += ["--report-dir", str(rdir)]
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout)
        return Run(proc, rdir)
    return run


def binary_has(path, *needles):
    """Does the file hold any of these byte strings (a sanitizer's or an
    instrumentation's symbol names)?"""
    data = pathlib.Path(path).read_bytes()
    return any(n in data for n in needles)


def asan_built(path):
    """Is this binary AddressSanitizer-instrumented?"""
    return binary_has(path, b"__asan_init")


def afl_built(path):
    """Is this binary instrumented by afl-clang-fast (AFL++'s runtime,
    which maps the shared memory named by __AFL_SHM_ID)?"""
    return binary_has(path, b"__afl_area_ptr", b"__AFL_SHM_ID")


@pytest.fixture(scope="session")
def plain_server():
    """A vucert-server without sanitizers, for valgrind: $VUC_PLAIN_BIN
    (scripts/test.sh: the clang Release build), else ROOT/build's when it
    is not ASan-instrumented."""
    d = os.environ.get("VUC_PLAIN_BIN")
    if d:
        p = pathlib.Path(d) / "vucert-server"
        if not p.exists():
            pytest.skip(f"VUC_PLAIN_BIN={d} holds no vucert-server")
        if asan_built(p):
            pytest.skip(f"{p} (VUC_PLAIN_BIN) is ASan-instrumented")
        return str(p)
    p = ROOT / "build" / "bin" / "vucert-server"
    if not p.exists():
        pytest.skip("no plain vucert-server: set VUC_PLAIN_BIN (the clang "
                    "Release build's bin, scripts/test.sh) or build ROOT/build")
    if asan_built(p):
        pytest.skip(f"{p} is ASan-instrumented; set VUC_PLAIN_BIN to a "
                    "plain build's bin")
    return str(p)


@pytest.fixture(scope="session")
def afl_server():
    """A vucert-server compiled by afl-clang-fast: $VUC_AFL_BIN
    (scripts/test.sh: build-afl), else ROOT/build-afl's."""
    d = os.environ.get("VUC_AFL_BIN")
    p = pathlib.Path(d) / "vucert-server" if d else \
        ROOT / "build-afl" / "bin" / "vucert-server"
    where = f"VUC_AFL_BIN={d}" if d else str(p.parent)
    if not p.exists():
        pytest.skip(f"no AFL++-instrumented vucert-server in {where}: set "
                    "VUC_AFL_BIN or build it (scripts/test.sh, build-afl "
                    "--target vucert-server)")
    if not afl_built(p):
        pytest.skip(f"{p} is not AFL++-instrumented (no __afl_area_ptr)")
    return str(p)


def server_cmd(bins, *extra):
    return " ".join([bins["server"], "--socket", "{socket}"] + list(extra))


@pytest.fixture
def server(bins, tmp_path):
    """Start vucert-server on a socket; yields (proc, path)."""
    procs = []

    def start(*extra):
        path = tmp_path / f"s{len(procs)}.sock"
        p = subprocess.Popen([bins["server"], "--socket", str(path)] +
                             list(extra), stderr=subprocess.PIPE, text=True)
        procs.append(p)
        deadline = time.time() + 10
        while time.time() < deadline:
            if path.exists():
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    s.connect(str(path))
                    s.close()
                    break
                except OSError:
                    s.close()
            if p.poll() is not None:
                raise RuntimeError("server exited: " + p.stderr.read())
            time.sleep(0.01)
        return p, path
    yield start
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


# Progress for CI (scripts/test.sh sets VUC_E2E_PROGRESS=SECONDS): the
# line of dots ends with "N of M tests done" at most every SECONDS. pytest's own dots
# do not end their line until it is full, and ctest -V passes on whole
# lines only, so without these the console stays silent for minutes.
# With pytest-xdist they come from the controller, which sees every
# worker's results.
_progress = {"every": float(os.environ.get("VUC_E2E_PROGRESS") or 0),
             "config": None, "total": None, "done": 0, "t0": 0.0,
             "last": 0.0}


def pytest_configure(config):
    _progress["config"] = config
    _progress["t0"] = _progress["last"] = time.monotonic()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    _progress["total"] = len(ids)


def pytest_collection_finish(session):
    _progress["total"] = len(session.items)


def pytest_runtest_logreport(report):
    p = _progress
    cfg = p["config"]
    if not p["every"] or report.when != "teardown" or cfg is None or \
            hasattr(cfg, "workerinput"):  # a worker's lines are not seen
        return
    p["done"] += 1
    now = time.monotonic()
    if now - p["last"] >= p["every"]:
        p["last"] = now
        # after the dots of the tests since the last line; flushed, as
        # stdout is a pipe under ctest
        tr = cfg.pluginmanager.getplugin("terminalreporter")
        tr.write_line(f" {p['done']} of {p['total'] or '?'} tests done, "
                      f"{now - p['t0']:.0f} s")
        tr.flush()
