# SPDX-License-Identifier: BSD-3-Clause
"""The fuzz targets' replay programs, on inputs written here: fuzz_server
ends a session at its message budget (fuzz_priv.h, FZS_MSG_BUDGET)."""
import os
import subprocess

from conftest import bin_dir

BUDGET = 64          # FZS_MSG_BUDGET
OP_GET = 0x81        # FZS_OP_GET: one MIG_DEVICE_STATE GET
OP_RECONNECT = 0x85  # FZS_OP_RECONNECT: a new client, a new VERSION


def replay_server(tmp_path, data):
    """Run fuzz_server_replay on data; return the messages it sent."""
    f = tmp_path / "input"
    f.write_bytes(data)
    env = dict(os.environ, VUC_FUZZ_VERBOSE="1")
    p = subprocess.run([str(bin_dir() / "fuzz_server_replay"), str(f)],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    return [ln.split()[1] for ln in p.stderr.splitlines()
            if ln.startswith("#")]


def test_fuzz_server_stops_at_the_budget(tmp_path):
    gets = bytes([OP_GET, 0, 0, 0])
    sent = replay_server(tmp_path, b"\x00" + gets * (BUDGET + 36))
    assert sent == ["VERSION"] + ["DEVICE_FEATURE"] * BUDGET


def test_fuzz_server_runs_an_input_within_the_budget_whole(tmp_path):
    gets = bytes([OP_GET, 0, 0, 0])
    sent = replay_server(tmp_path, b"\x00" + gets * BUDGET)
    assert sent == ["VERSION"] + ["DEVICE_FEATURE"] * BUDGET


def test_fuzz_server_budget_counts_reconnects_and_their_version(tmp_path):
    # a reconnect is one of the budget, the VERSION it brings another
    rec = bytes([OP_RECONNECT, 0, 0, 0, OP_GET, 0, 0, 0])
    sent = replay_server(tmp_path, b"\x00" + rec * BUDGET)
    assert sent == ["VERSION"] + ["VERSION", "DEVICE_FEATURE"] * (BUDGET // 3)


def test_fuzz_server_budget_counts_hang_ups(tmp_path):
    # a Reply to DEVICE_RESET makes the server hang up: the message, the
    # reconnect and the new VERSION are three of the budget
    bad = bytes([13, 0x02, 0, 0])  # VUC_CMD_DEVICE_RESET, FZS_CTL_REPLY
    sent = replay_server(tmp_path, b"\x00" + bad * BUDGET)
    n = (BUDGET + 2) // 3
    assert sent == ["VERSION"] + ["DEVICE_RESET", "VERSION"] * (n - 1) + \
        ["DEVICE_RESET"]
