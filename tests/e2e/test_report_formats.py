# SPDX-License-Identifier: BSD-3-Clause
"""results.json and junit.xml of real runs, checked by their readers'
tools: results.json against docs/results.schema.json with
python3-jsonschema, junit.xml against the JUnit XSD in this folder with
python3-lxml, and junit.xml read by python3-junitparser, a real JUnit
consumer, which must see what results.json says and what the exit status
says. Runs: the clean vucert-server, one that fails (get-returns-stale-
state: FAIL, ERROR and BLOCKED), and a NON-STRICT finding with and
without --strict."""
import datetime
import json
import re
import socket

import jsonschema
import pytest
from junitparser import Error, Failure, JUnitXml, Skipped
from lxml import etree

from conftest import PROFILE, ROOT, server_cmd

HERE = ROOT / "tests" / "e2e"


@pytest.fixture(scope="module")
def results_validator():
    schema = json.loads((ROOT / "docs" / "results.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def junit_xsd():
    return etree.XMLSchema(etree.parse(str(HERE / "junit.xsd")))


def check_results(validator, r):
    """results.json is valid, and says what the run was."""
    errors = [f"{e.json_path}: {e.message}"
              for e in validator.iter_errors(r.results)]
    assert errors == []
    res = r.results
    started = datetime.datetime.strptime(res["started"],
                                         "%Y-%m-%dT%H:%M:%SZ")
    age = datetime.datetime.utcnow() - started
    assert datetime.timedelta(0) <= age < datetime.timedelta(minutes=10)
    assert res["command_line"].startswith("vucert certify ")
    assert res["host"]["hostname"] == socket.gethostname()
    assert res["timeout_s"] > 0
    # the spec revisions are the ones docs/decisions.md says were read
    decisions = (ROOT / "docs" / "decisions.md").read_text()
    for src in [res["spec"]] + res["spec"]["kernel"]:
        assert f"read at commit {src['revision']}" in \
            re.sub(r"\s+", " ", decisions), src
    # root_cause: a case's own id when it did not pass by itself, the
    # root it is BLOCKED by, and null when it passed or was skipped
    for c in res["cases"]:
        assert c["source"], c
        if c["verdict"] in ("FAIL", "ERROR", "NON-STRICT"):
            assert c["root_cause"] == c["id"], c
        elif c["verdict"] == "BLOCKED":
            assert c["root_cause"] and c["root_cause"] != c["id"], c
        else:
            assert c["root_cause"] is None, c


def check_junit(xsd, r):
    """junit.xml is valid under the XSD, and a JUnit reader sees in it the
    verdicts of results.json and the run's exit status. Returns the
    reader's cases by name."""
    path = r.report_dir / "junit.xml"
    doc = etree.parse(str(path))
    if not xsd.validate(doc):
        pytest.fail("junit.xml against junit.xsd: " +
                    "; ".join(str(e) for e in xsd.error_log))
    assert doc.getroot().tag == "testsuites"

    xml = JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert len(suites) == 1
    suite = suites[0]
    res = r.results
    strict = res["strict"]
    s = res["summary"]
    assert suite.tests == s["total"]
    assert suite.skipped == s["SKIP"]
    assert suite.errors == s["ERROR"]
    assert suite.failures == s["FAIL"] + s["BLOCKED"] + \
        (s["NON-STRICT"] if strict else 0)
    # a JUnit reader fails the build exactly when vucert exits 1
    assert (suite.failures + suite.errors > 0) == (r.rc == 1)
    assert suite.hostname == res["host"]["hostname"]
    assert suite.timestamp + "Z" == res["started"]
    props = {p.name: p.value for p in suite.properties()}
    assert props["target"] == res["server"]["target"]
    assert props["vucert_version"] == res["version"]
    assert props["profile"] == (res["server"]["profile"] or "none")
    assert props["strict"] == ("true" if strict else "false")
    assert props["spec"].endswith(" at " + res["spec"]["revision"])
    assert float(props["timeout_s"]) == res["timeout_s"]
    assert props["migration_flags"].startswith(
        ",".join(res["server"]["migration_flags"]) or "none")

    cases = {c.name: c for c in suite}
    assert len(cases) == len(res["cases"])
    for c in res["cases"]:
        tc = cases[c["id"]]
        assert tc.classname == "vucert." + c["id"].split(".")[0]
        kinds = [type(x) for x in tc.result]
        v = c["verdict"]
        if v == "SKIP":
            assert kinds == [Skipped] and tc.is_skipped, c["id"]
        elif v == "ERROR":
            assert kinds == [Error], c["id"]
        elif v in ("FAIL", "BLOCKED") or (v == "NON-STRICT" and strict):
            assert kinds == [Failure], c["id"]
            assert tc.result[0].type == v
            if v == "BLOCKED":
                assert c["root_cause"] in tc.result[0].message
        else:
            assert tc.is_passed, c["id"]
            if v in ("NON-STRICT", "IMPL-DEFINED"):
                assert tc.system_out.startswith(v + ": "), c["id"]
    return cases


def test_clean_run(results_validator, junit_xsd, bins, certify):
    r = certify("--server-cmd", server_cmd(bins), "--profile", str(PROFILE))
    assert r.rc == 0, r.out + r.err
    check_results(results_validator, r)
    check_junit(junit_xsd, r)
    assert r.results["server"]["profile"] == str(PROFILE)


def test_run_with_failures(results_validator, junit_xsd, bins, certify):
    r = certify("--server-cmd",
                server_cmd(bins, "--quirk", "get-returns-stale-state"),
                "--profile", str(PROFILE), "--timeout", "2")
    assert r.rc == 1, r.out + r.err
    check_results(results_validator, r)
    check_junit(junit_xsd, r)
    s = r.results["summary"]
    assert s["FAIL"] and s["ERROR"] and s["BLOCKED"], s
    assert s["root_causes"]


@pytest.mark.parametrize("strict", [False, True])
def test_non_strict(results_validator, junit_xsd, bins, certify, strict):
    """NON-STRICT fails the run only under --strict, and junit.xml agrees:
    a passed testcase that says NON-STRICT, or a failure."""
    args = ["--server-cmd",
            server_cmd(bins, "--bug", "feature-unknown-flags-accepted"),
            "--case", "robust.feature.unknown-flags",
            "--case", "negotiate.version.major"]
    r = certify(*args, *(["--strict"] if strict else []))
    assert r.rc == (1 if strict else 0), r.out + r.err
    assert r.case("robust.feature.unknown-flags")["verdict"] == "NON-STRICT"
    assert r.results["strict"] is strict
    check_results(results_validator, r)
    cases = check_junit(junit_xsd, r)
    tc = cases["robust.feature.unknown-flags"]
    assert tc.is_passed is not strict


def test_documented_example_is_valid(results_validator):
    """The example in docs/results.md is a results.json the schema takes."""
    text = (ROOT / "docs" / "results.md").read_text()
    example = json.loads(re.search(r"```json\n(.*?)```", text, re.S)[1])
    assert [e.message for e in results_validator.iter_errors(example)] == []
