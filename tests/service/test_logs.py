"""JSON log lines stay one line each, whatever a client puts in the path."""

from __future__ import annotations

import json
import logging

import pytest

from download_service.logs import JsonFormatter


@pytest.mark.parametrize("breaker", ["\x85", "\u2028", "\u2029", "\x9b", "\r\n", "\x1e"])
def test_a_client_chosen_line_breaker_cannot_split_or_forge_a_record(breaker: str):
    path = f'/files/a{breaker}{{"level": "critical", "message": "forged"}}é'
    record = logging.LogRecord("access", logging.INFO, "", 0, "access", (), None)
    record.path = path
    line = JsonFormatter().format(record)
    assert line.splitlines() == [line]  # Python's notion of a line break is the widest: NEL, LS, PS, FS...
    assert json.loads(line)["path"] == path  # escaped, not altered
    assert "é" in line  # other non-ASCII stays readable
