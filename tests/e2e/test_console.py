# SPDX-License-Identifier: BSD-3-Clause
"""The console a device author watches, and errors that say why at once:
colour only on a terminal (NO_COLOR and --color honoured), a [n/N]
counter, --quiet, --help and --version on every command, an unknown
subcommand named; a socket that is missing, refused or not a socket, a
selection that matches nothing and a report directory that cannot be
written are said before any case runs, with the errno; SIGINT and
SIGTERM leave no temporary folder and no server behind."""
import os
import pathlib
import pty
import re
import select
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import server_cmd

ESC = "\x1b["


def run(bins, *args, env=None, timeout=120):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([bins["vucert"]] + list(args), capture_output=True,
                          text=True, timeout=timeout, env=e)


def on_a_tty(argv, env=None):
    """Run argv with stdout on a pseudo-terminal; its output and status."""
    e = dict(os.environ)
    e.pop("NO_COLOR", None)
    e.update(env or {})
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdout=slave, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL, env=e)
    os.close(slave)
    out = b""
    while True:
        r, _, _ = select.select([master], [], [], 60)
        if not r:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return out.decode(errors="replace"), p.wait(timeout=60)


def test_colour_on_a_terminal_only(bins, tmp_path):
    argv = [bins["vucert"], "certify", "--case", "negotiate.*",
            "--server-cmd", server_cmd(bins)]
    out, rc = on_a_tty(argv)
    assert rc == 0 and f"{ESC}32mPASS" in out, out
    out, rc = on_a_tty(argv, env={"NO_COLOR": "1"})
    assert rc == 0 and ESC not in out, out
    out, rc = on_a_tty(argv + ["--color", "never"])
    assert rc == 0 and ESC not in out
    # a pipe gets none, unless asked
    p = run(bins, *argv[1:])
    assert p.returncode == 0 and ESC not in p.stdout
    p = run(bins, *argv[1:], "--color", "always")
    assert f"{ESC}32mPASS" in p.stdout
    p = run(bins, *argv[1:], "--color", "sometimes")
    assert p.returncode == 2 and "auto, always or never" in p.stderr


def test_counter_and_quiet(bins):
    p = run(bins, "certify", "--case", "negotiate.version.*",
            "--server-cmd", server_cmd(bins))
    assert p.returncode == 0, p.stdout + p.stderr
    counted = re.findall(r"^\[ *(\d+)/(\d+)\] ", p.stdout, re.M)
    n = int(counted[0][1])
    assert [int(c[0]) for c in counted] == list(range(1, n + 1))
    q = run(bins, "certify", "--case", "negotiate.version.*",
            "--server-cmd", server_cmd(bins), "--quiet")
    assert q.returncode == 0
    assert not re.search(r"^\[ *\d+/", q.stdout, re.M)
    assert f"{n} cases: {n} PASS" in q.stdout


def test_failures_listed_at_the_end_by_root_cause(bins):
    p = run(bins, "certify", "--quiet", "--case", "fsm.*", "--server-cmd",
            server_cmd(bins, "--quirk", "get-returns-stale-state"))
    assert p.returncode == 1
    tail = p.stdout[p.stdout.index("not passed"):]
    assert re.search(r"root causes?: ", tail)
    assert re.search(r"^  fsm\.\S+ FAIL: ", tail, re.M)
    assert re.search(r"^    blocked \d+: fsm\.", tail, re.M)


def test_help_and_version_everywhere(bins):
    for args in (["--help"], ["certify", "--help"], ["fuzz", "--help"],
                 ["replay", "--help"]):
        p = run(bins, *args)
        assert p.returncode == 0 and "usage:" in p.stdout, args
    p = run(bins, "--version")
    assert p.returncode == 0 and re.match(r"vucert \d+\.\d+\.\d+", p.stdout)
    for args in (["--help"], ["--version"]):
        p = subprocess.run([bins["server"]] + args, capture_output=True,
                           text=True, timeout=30)
        assert p.returncode == 0, args
    assert re.match(r"vucert-server \d+\.\d+\.\d+", p.stdout)


def test_unknown_subcommand_is_named(bins):
    p = run(bins, "certfy")
    assert p.returncode == 2
    assert "unknown subcommand 'certfy'" in p.stderr


def test_socket_errors_are_said_at_once(bins, tmp_path):
    t0 = time.monotonic()
    p = run(bins, "certify", "--socket", str(tmp_path / "nothing"))
    assert p.returncode == 2
    assert "No such file or directory" in p.stderr
    assert str(tmp_path / "nothing") in p.stderr
    f = tmp_path / "file"
    f.write_text("x")
    p = run(bins, "certify", "--socket", str(f))
    assert p.returncode == 2 and "Socket operation on non-socket" in p.stderr
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(tmp_path / "dead"))  # bound, nobody listens
    p = run(bins, "certify", "--socket", str(tmp_path / "dead"))
    s.close()
    assert p.returncode == 2 and "Connection refused" in p.stderr
    # none of them waited out the 5 s connect timeout
    assert time.monotonic() - t0 < 4


def test_no_case_matches_is_an_error(bins, tmp_path):
    p = run(bins, "certify", "--case", "typo*", "--server-cmd",
            server_cmd(bins), "--report-dir", str(tmp_path / "r"))
    assert p.returncode == 2 and "no case matches" in p.stderr
    assert not (tmp_path / "r" / "results.json").exists()


def test_report_dir_checked_before_the_run(bins, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    t0 = time.monotonic()
    p = run(bins, "certify", "--server-cmd", server_cmd(bins),
            "--report-dir", str(f / "sub"))
    assert p.returncode == 2 and "Not a directory" in p.stderr
    assert "[" not in p.stdout  # no case ran
    assert time.monotonic() - t0 < 2
    # a new nested folder is made
    p = run(bins, "certify", "--case", "negotiate.version.major",
            "--server-cmd", server_cmd(bins), "--report-dir",
            str(tmp_path / "a" / "b"))
    assert p.returncode == 0 and (tmp_path / "a" / "b" / "results.json").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_leaves_no_temporary_folder_or_server(bins, tmp_path, sig):
    # a short $TMPDIR: vucert uses it only while the socket path fits
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="vuc", dir="/tmp"))
    env = dict(os.environ, TMPDIR=str(tmp))
    p = subprocess.Popen([bins["vucert"], "certify", "--server-cmd",
                          server_cmd(bins)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    # wait until it runs cases: its server is up, its folder made
    line = p.stdout.readline()
    while line and not line.startswith(b"["):
        line = p.stdout.readline()
    ours = os.listdir(tmp)  # vucert's folder, under $TMPDIR
    assert len(ours) == 1 and ours[0].startswith("vucert-"), ours
    p.send_signal(sig)
    p.communicate(timeout=30)
    assert p.returncode == -sig
    assert os.listdir(tmp) == []
    # its server went with it
    out = subprocess.run(["pgrep", "-f", f"{tmp}/{ours[0]}/server.sock"],
                         capture_output=True, text=True)
    assert out.stdout.strip() == "", out.stdout
    tmp.rmdir()
