"""The scanner glue in devtools/scan.py: what counts as a finding, an exception, or no audit at all."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from devtools import scan

TODAY = dt.date(2026, 6, 1)


def _exception(**overrides) -> scan.AuditException:
    fields = {
        "id": "GHSA-aaaa-bbbb-cccc",
        "package": "flask",
        "reason": "unreachable code path",
        "accepted": dt.date(2026, 5, 1),
        "expires": dt.date(2026, 7, 1),
    }
    return scan.AuditException(**{**fields, **overrides})


def _report(*dependencies: dict) -> dict:
    return {"dependencies": list(dependencies), "fixes": []}


VULNERABLE = {
    "name": "Flask",
    "version": "3.1.3",
    "vulns": [{"id": "PYSEC-2099-1", "aliases": ["GHSA-aaaa-bbbb-cccc"], "fix_versions": ["3.1.4"]}],
}
CLEAN = {"name": "gunicorn", "version": "27.0.1", "vulns": []}
SKIPPED = {"name": "boto3", "version": "1.44.8", "skip_reason": "Dependency not found on PyPI and could not be audited"}


def test_a_vulnerability_fails_unless_a_live_exception_names_it_or_an_alias():
    failing = scan.interpret("runtime.txt", _report(VULNERABLE, CLEAN), [], TODAY)
    assert (failing.audited, len(failing.vulnerabilities), failing.excepted) == (2, 1, [])
    assert failing.vulnerabilities[0] == {
        "package": "flask",
        "version": "3.1.3",
        "id": "PYSEC-2099-1",
        "fix": ["3.1.4"],
    }

    excepted = scan.interpret("runtime.txt", _report(VULNERABLE, CLEAN), [_exception()], TODAY)
    assert (excepted.vulnerabilities, len(excepted.excepted)) == ([], 1)

    expired = scan.interpret("runtime.txt", _report(VULNERABLE), [_exception(expires=dt.date(2026, 5, 31))], TODAY)
    assert len(expired.vulnerabilities) == 1

    other_package = scan.interpret("runtime.txt", _report(VULNERABLE), [_exception(package="jinja2")], TODAY)
    assert len(other_package.vulnerabilities) == 1


def test_skipped_dependencies_are_not_audited():
    result = scan.interpret("runtime.txt", _report(SKIPPED), [], TODAY)
    assert (result.audited, result.reachable, len(result.skipped)) == (0, False, 1)


@pytest.mark.parametrize("if_unreachable", ["fail", "warn"])
def test_an_audit_that_could_not_happen_never_reports_success(monkeypatch, tmp_path, capsys, if_unreachable):
    monkeypatch.setattr(scan, "REPORTS", tmp_path)
    monkeypatch.setattr(scan, "run_pip_audit", lambda lock, mode: _report(SKIPPED))
    code = scan.audit(if_unreachable)
    assert code == (scan.EXIT_NOT_AUDITED if if_unreachable == "fail" else 0)
    assert "NOT AUDITED" in capsys.readouterr().err
    assert json.loads((tmp_path / "audit.json").read_text())["audited"] is False


def test_vulnerabilities_fail_the_audit(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(scan, "REPORTS", tmp_path)
    monkeypatch.setattr(scan, "run_pip_audit", lambda lock, mode: _report(VULNERABLE, CLEAN))
    assert scan.audit("warn") == scan.EXIT_FINDINGS
    assert "VULNERABLE flask 3.1.3: PYSEC-2099-1" in capsys.readouterr().out


def test_the_committed_exceptions_file_is_valid():
    for entry in scan.load_exceptions():
        assert entry.expires >= entry.accepted


@pytest.mark.parametrize(
    "entry",
    [
        'id = "X"\npackage = "flask"\nreason = ""\naccepted = 2026-01-01\nexpires = 2026-02-01',
        'id = "X"\npackage = "flask"\nreason = "r"\naccepted = 2026-01-01\nexpires = 2026-12-01',
        'id = "X"\npackage = "flask"\nreason = "r"\naccepted = "2026-01-01"\nexpires = "2026-02-01"',
    ],
    ids=["no-reason", "longer-than-90-days", "dates-not-dates"],
)
def test_an_undated_or_unjustified_exception_is_an_error(tmp_path, entry):
    path = tmp_path / "exceptions.toml"
    path.write_text(f"[[exception]]\n{entry}\n")
    with pytest.raises(ValueError, match="X"):
        scan.load_exceptions(path)


def test_every_secrets_baseline_entry_was_reviewed_as_not_a_secret():
    baseline = json.loads(scan.BASELINE.read_text())
    entries = [item for items in baseline["results"].values() for item in items]
    assert entries  # the dummy credentials of the tests and `make run` are known and listed
    assert all(item.get("is_secret") is False for item in entries)
