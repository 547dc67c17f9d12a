# SPDX-License-Identifier: BSD-3-Clause
"""Device profiles are checked: every shipped profile (and every example in
profiles/README.md) is valid against profiles/schema.json under a real JSON
Schema validator and loads in vucert; every profile in
tests/e2e/profiles/broken/ is refused by both, vucert naming the file, the
line and the JSON path before any case runs."""
import json
import re

import jsonschema
import pytest

from conftest import ROOT, server_cmd

SCHEMA_PATH = ROOT / "profiles" / "schema.json"
BROKEN = ROOT / "tests" / "e2e" / "profiles" / "broken"
SHIPPED = sorted(p for p in (ROOT / "profiles").glob("*.json")
                 if p.name != "schema.json") + \
    sorted((ROOT / "tests" / "e2e" / "profiles").glob("*.json"))
EXPECTED = json.loads((BROKEN / "expected.json").read_text())["profiles"]
VERDICT_LINE = re.compile(r"^(PASS|FAIL|SKIP|ERROR|NON-STRICT|IMPL-DEFINED|"
                          r"BLOCKED) ", re.M)


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_is_a_2020_12_schema(validator):
    assert validator.schema["$schema"] == \
        "https://json-schema.org/draft/2020-12/schema"


def test_every_broken_profile_is_listed():
    assert sorted(EXPECTED) == sorted(
        p.name for p in BROKEN.glob("*.json") if p.name != "expected.json")
    assert len(SHIPPED) >= 3


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_profile_is_valid_and_loads(validator, bins, certify, path):
    errors = [f"{e.json_path}: {e.message}"
              for e in validator.iter_errors(json.loads(path.read_text()))]
    assert errors == []
    r = certify("--server-cmd", server_cmd(bins), "--profile", str(path),
                "--case", "negotiate.version.major")
    assert r.rc == 0, r.out + r.err
    assert r.results["server"]["profile"] == str(path)


def readme_examples():
    """The ```json blocks of profiles/README.md: a whole profile, or the
    members of one."""
    text = (ROOT / "profiles" / "README.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    assert len(blocks) >= 5
    return [json.loads(b) if b.lstrip().startswith("{") else
            json.loads("{" + b + "}") for b in blocks]


@pytest.mark.parametrize("n", range(len(readme_examples())))
def test_readme_example_is_valid_and_loads(validator, bins, certify,
                                           tmp_path, n):
    doc = readme_examples()[n]
    assert list(validator.iter_errors(doc)) == []
    p = tmp_path / f"example{n}.json"
    p.write_text(json.dumps(doc, indent=2))
    r = certify("--server-cmd", server_cmd(bins), "--profile", str(p),
                "--case", "negotiate.version.major")
    assert r.rc == 0, r.out + r.err


def loads_strict(text):
    """json.loads that also refuses NaN and Infinity, as RFC 8259 does."""
    def no(c):
        raise ValueError(f"not JSON: {c}")
    return json.loads(text, parse_constant=no)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_profile_is_refused_by_vucert(bins, certify, name):
    exp = EXPECTED[name]
    path = BROKEN / name
    r = certify("--server-cmd", server_cmd(bins), "--profile", str(path))
    assert r.rc == 2, r.out + r.err
    where = f"{path}:{exp['line']}: "
    if exp["path"] is not None:
        where += exp["path"] + ": "
    assert r.err.startswith("vucert: profile " + where), r.err
    assert exp["message"] in r.err, r.err
    assert r.err.count("\n") == 1, r.err
    # refused before anything ran: no server, no case, no report
    assert "certifying" not in r.out and not VERDICT_LINE.search(r.out)
    assert not r.report_dir.exists()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_profile_is_refused_by_the_schema(validator, name):
    exp = EXPECTED[name]
    text = (BROKEN / name).read_text()
    if not exp.get("json", True):
        with pytest.raises(ValueError):
            loads_strict(text)
        return
    try:
        doc = loads_strict(text)
    except ValueError:
        # not JSON for Python either (NaN): refused before any schema
        assert "not valid JSON" in exp["message"]
        return
    errors = list(validator.iter_errors(doc))
    if not exp.get("schema", True):
        # what JSON Schema cannot see: vucert alone refuses it
        assert errors == []
        return
    assert errors
    # the validator points at vucert's path or at an object holding it
    paths = [e.json_path for e in errors] + \
        [c.json_path for e in errors for c in e.context]
    assert any(exp["path"] == p or exp["path"].startswith(p + ".") or
               exp["path"].startswith(p + "[") for p in paths), \
        (exp["path"], paths)


def test_schema_field_is_optional(bins, certify, tmp_path):
    """A profile written before the "schema" field is version 1."""
    prof = json.loads((ROOT / "profiles" / "vucert-server.json").read_text())
    del prof["schema"]
    p = tmp_path / "no-schema.json"
    p.write_text(json.dumps(prof))
    r = certify("--server-cmd", server_cmd(bins), "--profile", str(p),
                "--case", "fsm.ERROR.STOP")
    assert r.rc == 0, r.out + r.err
    assert r.case("fsm.ERROR.STOP")["verdict"] == "PASS"
