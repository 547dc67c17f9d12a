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


def runs(quirks):
    """(name, server args, vucert args) for every run."""
    out = []
    for q in quirks:
        out.append((q, ["--migration-flags", DEFAULT, "--quirk", q], []))
    # flag-dependent quirks, where they can show
    out.append(("stopcopy-to-precopy-allowed@all",
                ["--migration-flags", "stop-copy,p2p,pre-copy", "--quirk",
                 "stopcopy-to-precopy-allowed"], []))
    out.append(("unadvertised-state-accepted@stop-copy",
                ["--migration-flags", "stop-copy", "--quirk",
                 "unadvertised-state-accepted"], []))
    return out


def server_quirks(server):
    """The quirk names vucert-server --help lists."""
    txt = subprocess.run([server, "--help"], capture_output=True,
                         text=True).stdout
    names, on = [], False
    for line in txt.splitlines():
        if line.startswith("quirks:"):
            on = True
            continue
        if on and line.startswith("  ") and line.strip():
            names.append(line.split()[0])
        elif on and line.strip() and not line.startswith(" "):
            on = False
    return names


def certify(vucert, server, profile, sargs, vargs, report_dir, extra=()):
    cmd = " ".join([server, "--socket", "{socket}"] + sargs)
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
    bins = pathlib.Path(sys.argv[sys.argv.index("--bin") + 1])
    vucert, server = str(bins / "vucert"), str(bins / "vucert-server")
    profile = HERE.parents[1] / "profiles" / "vucert-server.json"
    data = {"baseline_flags": DEFAULT, "runs": {}}
    with tempfile.TemporaryDirectory() as d:
        _, base, _ = certify(vucert, server, profile,
                             ["--migration-flags", DEFAULT], [], d + "/b")
        for i, (name, sargs, vargs) in enumerate(runs(server_quirks(server))):
            flags = sargs[1]
            b = base
            if flags != DEFAULT:
                _, b, _ = certify(vucert, server, profile,
                                  ["--migration-flags", flags], [],
                                  f"{d}/b{i}")
            rc, got, _ = certify(vucert, server, profile, sargs, vargs,
                                 f"{d}/r{i}")
            data["runs"][name] = {"server_args": sargs, "vucert_args": vargs,
                                  "exit": rc, "changed": diff(b, got)}
            print(f"{name}: exit {rc}, {len(data['runs'][name]['changed'])} "
                  "changed", file=sys.stderr)
    if "--write" in sys.argv:
        DATA.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    else:
        print(json.dumps(data, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
