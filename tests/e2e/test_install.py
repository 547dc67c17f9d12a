# SPDX-License-Identifier: BSD-3-Clause
"""What `cmake --install` makes: the tree, an installed vucert that finds
the installed vucert-server and profile by itself, and man pages and a
bash completion that name every option the usage texts do."""
import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from conftest import ROOT

MAN = ROOT / "man"
COMPLETION = ROOT / "completion" / "vucert.bash"


def usage(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True,
                          timeout=30).stdout


def options(text):
    """The long options a usage text names (--coverage[=measure] is
    --coverage), less those it names as another command's ("certify
    --save-sequences")."""
    return set(re.findall(r"(?<!certify )--[a-z][a-z-]*[a-z]", text))


def usages(bins):
    """The options of each command, as its usage text shows them today:
    vucert --help's first block is certify's."""
    top = usage(bins["vucert"], "--help")
    certify = top[:top.index("vucert fuzz")]
    server = usage(bins["server"], "--help")
    return {
        "certify": options(certify) | {"--help"},
        "fuzz": options(usage(bins["vucert"], "fuzz", "--help")) | {"--help"},
        "replay": options(usage(bins["vucert"], "replay", "--help"))
        | {"--help"},
        "server": options(server[:server.index("quirks:")]),
    }


def roff(opt):
    """An option as the man pages write it (\\- for each hyphen), not
    followed by more of a longer option's name."""
    return re.compile(re.escape(opt.replace("-", "\\-")) + r"(?![a-z]|\\-)")


def man_sections(path):
    """vucert.1's .SS sections of OPTIONS by name."""
    out, name, in_options = {}, None, False
    for line in path.read_text().splitlines():
        if line.startswith(".SH"):
            name, in_options = None, line.split(None, 1)[1] == "OPTIONS"
        elif line.startswith(".SS") and in_options:
            name = line.split(None, 1)[1].strip()
            out[name] = ""
        elif name:
            out[name] += line + "\n"
    return out


def test_man_pages_name_every_option(bins):
    want = usages(bins)
    sections = man_sections(MAN / "vucert.1")
    for cmd in ("certify", "fuzz", "replay"):
        missing = [o for o in sorted(want[cmd])
                   if not roff(o).search(sections[cmd])]
        assert not missing, f"vucert.1, OPTIONS/{cmd} lacks {missing}"
    text = (MAN / "vucert-server.1").read_text()
    missing = [o for o in sorted(want["server"]) if not roff(o).search(text)]
    assert not missing, f"vucert-server.1 lacks {missing}"


@pytest.mark.skipif(shutil.which("groff") is None, reason="no groff")
@pytest.mark.parametrize("page", ["vucert.1", "vucert-server.1"])
def test_man_pages_render_without_warnings(page):
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z",
                        str(MAN / page)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def complete(*words):
    """COMPREPLY for a command line whose last word is being completed."""
    fn = "_vucert_server" if words[0].endswith("vucert-server") \
        else "_vucert"
    script = (f'source "{COMPLETION}"; COMP_WORDS=("$@"); '
              f'COMP_CWORD=$(($# - 1)); {fn}; printf "%s\\n" "${{COMPREPLY[@]}}"')
    r = subprocess.run(["bash", "-c", script, "_", *words],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def test_completion_offers_every_option(bins):
    want = usages(bins)
    assert complete(bins["vucert"], "") >= {"certify", "fuzz", "replay"}
    for cmd in ("certify", "fuzz", "replay"):
        missing = want[cmd] - complete(bins["vucert"], cmd, "--")
        assert not missing, f"completion of vucert {cmd} lacks {missing}"
    missing = want["server"] - complete(bins["server"], "--")
    assert not missing, f"completion of vucert-server lacks {missing}"


def test_completion_asks_the_binaries_for_names(bins):
    """Case ids from `vucert certify --list`, quirks from
    `vucert-server --help`, of the binary on the command line."""
    got = complete(bins["vucert"], "certify", "--case", "fsm.STOP.RU")
    assert got == {"fsm.STOP.RUNNING", "fsm.STOP.RUNNING_P2P"}
    got = complete(bins["vucert"], "certify", "--exclude", "=", "negotiate.")
    assert "negotiate.version.major" in got
    got = complete(bins["server"], "--quirk", "reset-")
    assert got == {"reset-keeps-state", "reset-goes-to-stop"}
    assert complete(bins["vucert"], "fuzz", "--coverage", "=", "") == \
        {"measure"}


def test_cmake_install_makes_a_tree_that_certifies(bins, tmp_path):
    """`cmake --install` of the build under test (VUC_BUILD_DIR, which
    tests/e2e/CMakeLists.txt passes), then the installed vucert with no
    target: it must start the installed vucert-server with the installed
    profile, not the source tree's."""
    build = os.environ.get("VUC_BUILD_DIR")
    if not build:
        pytest.skip("set VUC_BUILD_DIR to a configured and built tree")
    if shutil.which("cmake") is None:
        pytest.skip("no cmake")
    prefix = tmp_path / "prefix"
    r = subprocess.run(["cmake", "--install", build, "--prefix", str(prefix)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    profile = prefix / "share/vucert/profiles/vucert-server.json"
    for f in ("bin/vucert", "bin/vucert-server",
              "share/vucert/profiles/vucert-server.json",
              "share/vucert/profiles/vucert-server-arm.json",
              "share/vucert/results.schema.json",
              "share/man/man1/vucert.1", "share/man/man1/vucert-server.1",
              "share/bash-completion/completions/vucert",
              "share/bash-completion/completions/vucert-server",
              "share/doc/vucert/LICENSE"):
        assert (prefix / f).is_file(), f"{f} not installed"
    for f in ("bin/vucert", "bin/vucert-server"):
        assert os.access(prefix / f, os.X_OK), f"{f} not executable"
    # every profile of the source tree
    shipped = {p.name for p in (ROOT / "profiles").glob("*.json")}
    assert {p.name for p in profile.parent.glob("*.json")} == shipped

    # The ERROR row needs the profile: SKIP without it, PASS with it.
    reports = tmp_path / "reports"
    run = subprocess.run([str(prefix / "bin/vucert"), "certify",
                          "--case", "fsm.ERROR.*", "--case", "negotiate.*",
                          "--report-dir", str(reports)],
                         capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    res = json.loads((reports / "results.json").read_text())
    assert res["server"]["profile"] == str(profile.resolve())
    assert res["server"]["target"].startswith(
        f"'{prefix / 'bin/vucert-server'}'")
    verdicts = {c["id"]: c["verdict"] for c in res["cases"]}
    assert verdicts["fsm.ERROR.STOP"] == "PASS", verdicts
