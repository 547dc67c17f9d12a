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
