#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""bench_certify: wall time of a full `vucert certify` run against the
embedded vucert-server (the one built beside vucert, started by vucert
itself), repeated RUNS times; prints min and median in milliseconds.

For scale it also times `vucert --version` the same number of times,
interleaved: the cost of starting a process, which every certify run pays
once for vucert and once for vucert-server.

Exit: 0 when every run ran (a certify verdict of FAIL is reported, not an
error here), 1 when vucert could not run or could not reach its server,
2 on a usage error. Standard library only.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def find_vucert(explicit):
    if explicit:
        # runs happen in a private cwd
        return os.path.abspath(explicit)
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    cands = []
    if os.environ.get("VUC_BIN"):
        cands.append(os.path.join(os.environ["VUC_BIN"], "vucert"))
    cands += [os.path.join(root, d, "bin", "vucert")
              for d in ("build", "build-bench")]
    for c in cands:
        if os.access(c, os.X_OK):
            return c
    return None


def timed(cmd, cwd):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return (time.perf_counter() - t0) * 1e3, p.returncode, p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vucert", help="the vucert binary (default: "
                    "$VUC_BIN/vucert, build/bin/vucert, build-bench/bin/vucert)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", help="also write the figures as JSON")
    a = ap.parse_args()
    if a.runs < 1:
        ap.error("--runs must be at least 1")
    vucert = find_vucert(a.vucert)
    if not vucert:
        print("bench_certify: no vucert binary found; use --vucert PATH",
              file=sys.stderr)
        return 1

    # certify writes no reports without --report-dir; the private cwd
    # keeps anything else it might leave out of the tree.
    work = tempfile.mkdtemp(prefix="bench_certify.")
    certify, spawn = [], []
    summary = ""
    status = 0
    try:
        for i in range(a.runs):
            ms, rc, out = timed([vucert, "certify"], work)
            if rc not in (0, 1):
                print(f"bench_certify: run {i + 1}: vucert certify exited "
                      f"{rc}:\n{out}", file=sys.stderr)
                status = 1
                break
            certify.append(ms)
            lines = [ln for ln in out.splitlines() if " cases: " in ln]
            summary = lines[-1] if lines else summary
            if rc == 1:
                print(f"note: run {i + 1}: certify reported failures",
                      file=sys.stderr)
            ms, rc, _ = timed([vucert, "--version"], work)
            if rc == 0:
                spawn.append(ms)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if status:
        return status

    print(f"bench_certify: {vucert} certify (embedded vucert-server), "
          f"{a.runs} runs")
    if summary:
        print(f"  {summary.strip()}")
    print("  runs (ms): " + " ".join(f"{x:.1f}" for x in certify))
    print(f"  certify wall time: min {min(certify):.1f} ms, "
          f"median {statistics.median(certify):.1f} ms")
    if spawn:
        print(f"  process floor (vucert --version): min {min(spawn):.1f} ms, "
              f"median {statistics.median(spawn):.1f} ms")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"benchmark": "bench_certify", "unit": "ms",
                       "runs": certify, "min": min(certify),
                       "median": statistics.median(certify),
                       "spawn_floor_median":
                           statistics.median(spawn) if spawn else None,
                       "summary": summary.strip()}, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
