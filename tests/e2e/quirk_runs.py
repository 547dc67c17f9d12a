# SPDX-License-Identifier: BSD-3-Clause
"""The runs behind test_verdicts_exact.py: each quirk of vucert-server
(and the server shapes that are not wrong but unusual), the flag set it
runs with, and how vucert is started. `python3 quirk_runs.py --write`
records what vucert says of each into quirk_verdicts.json; a person reads
the diff before committing it: the file is the claim that each quirk is
caught by its own cases and only by them."""
import json
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE / "quirk_verdicts.json"
DEFAULT = "stop-copy,pre-copy"
# every wait for an answer that never comes costs the timeout
COMMON = ["--timeout", "2", "--stream-limit", "16M"]


ALL = "stop-copy,p2p,pre-copy"
# --bug arc=FROM:TO runs: each decides a few transitions the other way,
# chosen so that no walk a case needs crosses an arc of the same run
ARC_RUNS = [
    ("arcs-from-ERROR", DEFAULT, ["ERROR:*"]),
    ("arcs-to-ERROR", ALL, ["*:ERROR"]),
    ("arcs-from-STOP", DEFAULT,
     ["STOP:RUNNING", "STOP:STOP_COPY", "STOP:RESUMING"]),
    # STOP_COPY:STOP would keep the RESUMING cases from saving a stream;
    # the bug stop-copy-exit-needs-end refuses it instead
    ("arcs-from-RESUMING-PRE_COPY", DEFAULT,
     ["RESUMING:STOP", "RESUMING:STOP_COPY", "PRE_COPY:STOP",
      "PRE_COPY:RUNNING", "PRE_COPY:STOP_COPY"]),
    ("arcs-from-RUNNING_P2P", ALL, ["RUNNING_P2P:*"]),
    ("arcs-from-PRE_COPY_P2P", ALL, ["PRE_COPY_P2P:*"]),
]


def runs(quirks, bugs):
    """(name, server args, vucert args) for every run."""
    out = []
    for q in quirks:
        out.append((q, ["--migration-flags", DEFAULT, "--quirk", q], []))
    # flag-dependent quirks, where they can show
    out.append(("stopcopy-to-precopy-allowed@all",
                ["--migration-flags", ALL, "--quirk",
                 "stopcopy-to-precopy-allowed"], []))
    out.append(("unadvertised-state-accepted@stop-copy",
                ["--migration-flags", "stop-copy", "--quirk",
                 "unadvertised-state-accepted"], []))
    out.append(("reset-keeps-state@all",
                ["--migration-flags", ALL, "--quirk", "reset-keeps-state"],
                []))
    # a device with a precondition, certified without and with the
    # profile that says what it needs (profiles/vucert-server-arm.json)
    out.append(("shape:require-arm",
                ["--migration-flags", DEFAULT, "--require-arm"], []))
    out.append(("shape:require-arm+preconditions",
                ["--migration-flags", DEFAULT, "--require-arm"],
                ["--profile", "profiles/vucert-server-arm.json"]))
    # a device that cannot leave STOP_COPY before its stream's end,
    # with a profile that drains it first: only the case whose claim is
    # leaving early still fails
    out.append(("shape:stop-copy-needs-end+drain",
                ["--migration-flags", DEFAULT, "--bug",
                 "stop-copy-exit-needs-end"],
                ["--profile", "tests/e2e/profiles/vucert-server-drain.json"]))
    for b in bugs:
        out.append(("bug:" + b, ["--migration-flags", DEFAULT, "--bug", b],
                    []))
    for name, flags, arcs in ARC_RUNS:
        args = ["--migration-flags", flags]
        for a in arcs:
            args += ["--bug", "arc=" + a]
        out.append(("bug:" + name, args, []))
    return out


def _listed(server, section):
    """The names vucert-server --help lists under `section:`."""
    txt = subprocess.run([server, "--help"], capture_output=True,
                         text=True).stdout
    names, on = [], False
    for line in txt.splitlines():
        if line == section + ":":
            on = True
            continue
        if on and line.startswith("  ") and line.strip():
            names.append(line.split()[0])
        elif on and not line.startswith(" "):
            on = False
    return names


def server_quirks(server):
    """The quirk names vucert-server --help lists."""
    return _listed(server, "quirks")


def server_bugs(server):
    """The --bug names vucert-server --help lists (arc=FROM:TO aside)."""
    return [b for b in _listed(server, "bugs") if "=" not in b]


def certify(vucert, server, profile, sargs, vargs, report_dir, extra=()):
    cmd = " ".join([server, "--socket", "{socket}"] + sargs)
    # repository paths in the recorded runs are relative to its root
    vargs = [str(HERE.parents[1] / a)
             if a.startswith(("profiles/", "tests/")) else a for a in vargs]
    p = subprocess.run([vucert, "certify", "--server-cmd", cmd, "--profile",
                        str(profile), "--report-dir", str(report_dir)] +
                       COMMON + list(vargs) + list(extra),
                       capture_output=True, text=True, timeout=600)
    res = json.loads((pathlib.Path(report_dir) / "results.json").read_text())
    return p.returncode, {c["id"]: c["verdict"] for c in res["cases"]}, res


def diff(base, got):
    """Cases whose verdict differs from the clean server's."""
    return {k: v for k, v in sorted(got.items()) if base.get(k) != v}


def main():
    """--bin DIR [--write] [--only NAME ...]: with --only, just those runs
    are made again and the others kept from the file."""
    bins = pathlib.Path(sys.argv[sys.argv.index("--bin") + 1])
    vucert, server = str(bins / "vucert"), str(bins / "vucert-server")
    profile = HERE.parents[1] / "profiles" / "vucert-server.json"
    only = {sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == "--only"}
    data = {"baseline_flags": DEFAULT, "runs": {}}
    if only:
        data = json.loads(DATA.read_text())
    base = {}
    with tempfile.TemporaryDirectory() as d:
        todo = runs(server_quirks(server), server_bugs(server))
        for i, (name, sargs, vargs) in enumerate(todo):
            if only and name not in only:
                continue
            flags = sargs[1]
            if flags not in base:
                _, base[flags], _ = certify(
                    vucert, server, profile, ["--migration-flags", flags],
                    [], f"{d}/b{len(base)}")
            rc, got, _ = certify(vucert, server, profile, sargs, vargs,
                                 f"{d}/r{i}")
            data["runs"][name] = {"server_args": sargs, "vucert_args": vargs,
                                  "exit": rc,
                                  "changed": diff(base[flags], got)}
            print(f"{name}: exit {rc}, {len(data['runs'][name]['changed'])} "
                  "changed", file=sys.stderr)
        names = {n for n, _, _ in todo}
        for gone in set(data["runs"]) - names:
            del data["runs"][gone]
    if "--write" in sys.argv:
        DATA.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    else:
        print(json.dumps(data, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
