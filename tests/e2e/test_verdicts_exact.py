# SPDX-License-Identifier: BSD-3-Clause
"""Every quirk of vucert-server changes exactly the verdicts recorded in
quirk_verdicts.json, compared with the clean server on the same flag set:
no allow-list. And every case id is proven: some quirk gives it the
verdict its own rule gives a violation (FAIL for a MUST, NON-STRICT for a
SHOULD, IMPL-DEFINED for a MAY), not only BLOCKED through its setup."""
import json
import subprocess

import pytest

from conftest import PROFILE
import quirk_runs

DATA = json.loads(quirk_runs.DATA.read_text())
VIOLATION = {"MUST": "FAIL", "SHOULD": "NON-STRICT", "MAY": "IMPL-DEFINED"}
_BASE = {}


def baseline(bins, flags, tmp_path):
    if flags not in _BASE:
        rc, v, _ = quirk_runs.certify(bins["vucert"], bins["server"],
                                      PROFILE, ["--migration-flags", flags],
                                      [], tmp_path / f"base-{flags}")
        assert rc == 0, v
        _BASE[flags] = v
    return _BASE[flags]


def test_every_quirk_has_a_recorded_run(bins):
    names = quirk_runs.server_quirks(bins["server"])
    assert names, "vucert-server --help lists no quirks"
    for q in names:
        assert q in DATA["runs"], f"quirk {q} has no recorded verdicts"


@pytest.mark.parametrize("name", sorted(DATA["runs"]))
def test_quirk_changes_exactly_its_verdicts(bins, tmp_path, name):
    run = DATA["runs"][name]
    flags = run["server_args"][1]
    base = baseline(bins, flags, tmp_path)
    rc, got, res = quirk_runs.certify(bins["vucert"], bins["server"],
                                      PROFILE, run["server_args"],
                                      run["vucert_args"], tmp_path / "r")
    changed = quirk_runs.diff(base, got)
    assert changed == run["changed"], json.dumps(
        {c["id"]: c["reason"] for c in res["cases"]
         if c["id"] in set(changed) ^ set(run["changed"]) or
         changed.get(c["id"]) != run["changed"].get(c["id"])}, indent=1)
    assert rc == run["exit"]
    for c in res["cases"]:
        if c["verdict"] == "BLOCKED":
            assert c["root_cause"] and c["reason"].startswith("blocked by")


def proven():
    """case id -> 'direct' or 'setup', from the recorded runs."""
    out = {}
    for run in DATA["runs"].values():
        for cid, v in run["changed"].items():
            if v == "BLOCKED":
                out.setdefault(cid, "setup")
            else:
                out[cid] = out.get(cid) if out.get(cid) == "direct" else v
    return out


def test_every_case_fails_under_some_quirk_for_its_own_claim(bins):
    lines = subprocess.run([bins["vucert"], "certify", "--list"],
                           capture_output=True, text=True,
                           check=True).stdout.splitlines()
    level = {ln.split()[0]: ln.split()[1] for ln in lines if ln.strip()}
    direct, setup_only, none = [], [], []
    for cid, lvl in level.items():
        verdicts = {r["changed"][cid] for r in DATA["runs"].values()
                    if cid in r["changed"]}
        if VIOLATION[lvl] in verdicts or "FAIL" in verdicts:
            direct.append(cid)
        elif "BLOCKED" in verdicts:
            setup_only.append(cid)
        else:
            none.append(cid)
    print(f"proven directly: {len(direct)}, only through setup: "
          f"{len(setup_only)}, not at all: {len(none)}")
    # the closing note reports these numbers; the list below is the debt
    assert not setup_only and not none, (setup_only, none)
