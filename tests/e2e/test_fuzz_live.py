# SPDX-License-Identifier: BSD-3-Clause
"""vucert fuzz against a live server: it finds a planted crash, saves the
sequence, and vucert replay reproduces it; the clean server survives a
bounded campaign."""
import re
import subprocess

from conftest import server_cmd


def fuzz(bins, *args, timeout=240):
    return subprocess.run([bins["vucert"], "fuzz"] + list(args),
                          capture_output=True, text=True, timeout=timeout)


def test_fuzz_finds_planted_crash_and_replay_reproduces_it(bins, tmp_path):
    crashing = server_cmd(bins, "--quirk", "planted-crash")
    out = tmp_path / "findings"
    p = fuzz(bins, "--server-cmd", crashing, "--runs", "200", "--seed", "7",
             "--out", str(out))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "FINDING" in p.stdout and "signal 6" in p.stdout, p.stdout
    m = re.search(r"reproducer: (\S+)", p.stdout)
    assert m, p.stdout
    repro = m.group(1)
    r = subprocess.run([bins["vucert"], "replay", repro, "--server-cmd",
                        crashing], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "reproduced" in r.stdout and "signal 6" in r.stdout
    # the same bytes do not crash the clean server
    r = subprocess.run([bins["vucert"], "replay", repro, "--server-cmd",
                        server_cmd(bins)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "not reproduced" in r.stdout


def test_clean_server_survives_a_bounded_campaign(bins, tmp_path):
    p = fuzz(bins, "--server-cmd", server_cmd(bins), "--runs", "300",
             "--seed", "3", "--out", str(tmp_path / "f"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "300 runs" in p.stdout and "no finding" in p.stdout


def test_fuzz_against_a_socket_respects_time(bins, server, tmp_path):
    _, path = server()
    p = fuzz(bins, "--socket", str(path), "--time", "2", "--out",
             str(tmp_path / "f"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "no finding" in p.stdout


def test_one_client_per_process_server_is_fuzzed_without_false_findings(
        bins, tmp_path):
    """A server that exits with status 0 when its client leaves is started
    again for every sequence; its clean exit is not a finding, a crash
    still is."""
    one = server_cmd(bins, "--quirk", "exit-after-client")
    p = fuzz(bins, "--server-cmd", one, "--runs", "40", "--out",
             str(tmp_path / "a"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "no finding" in p.stdout
    crashing = server_cmd(bins, "--quirk", "exit-after-client", "--quirk",
                          "planted-crash")
    p = fuzz(bins, "--server-cmd", crashing, "--runs", "200", "--seed", "7",
             "--out", str(tmp_path / "b"))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "FINDING" in p.stdout and "signal 6" in p.stdout, p.stdout


def _repro(path, *msgs):
    """A reproducer file: each message as its u32 length and its bytes."""
    import struct
    with open(path, "wb") as f:
        f.write(b'VUCERT-REPRO 1\n')  # REPRO_MAGIC (harness/fuzz.c)
        for m in msgs:
            f.write(struct.pack("<I", len(m)) + m)
    return str(path)


def test_replay_reports_a_leak_the_server_tells_at_exit(bins, tmp_path):
    """LeakSanitizer speaks only when the server exits: replay ends the
    server with SIGTERM and reads what it says then."""
    import struct
    import sys
    here = __file__.rsplit("/", 1)[0]
    leaky = " ".join([sys.executable, f"{here}/fake_server.py", "{socket}",
                      "--leak-on", "DEVICE_RESET"])
    reset = struct.pack("<HHIII", 7, 13, 16, 0, 0)
    get = struct.pack("<HHIII", 8, 16, 24, 0, 0) + \
        struct.pack("<II", 24, (1 << 16) | 1)
    r = subprocess.run([bins["vucert"], "replay",
                        _repro(tmp_path / "leak", reset), "--server-cmd",
                        leaky], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "reproduced" in r.stdout and "exited with status 23" in r.stdout
    assert "ERROR: LeakSanitizer: detected memory leaks" in r.stdout
    # the sequence that does not leak: nothing at exit
    r = subprocess.run([bins["vucert"], "replay",
                        _repro(tmp_path / "clean", get), "--server-cmd",
                        leaky], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "not reproduced" in r.stdout
