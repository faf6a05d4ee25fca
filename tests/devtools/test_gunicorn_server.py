"""GunicornServer.log_lines: tests read a running server's log while its workers write to it."""

import subprocess
import sys

import pytest

from devtools.gunicorn_server import GunicornServer


@pytest.fixture
def server(tmp_path):
    server = GunicornServer({}, tmp_path, port=1)
    server.stdout_path.write_text('{"event": "access", "status": 200}\n{"event": "access", "sta', encoding="utf-8")
    server.stderr_path.write_text('{"event": "boot"}\n', encoding="utf-8")
    return server


def test_a_line_still_being_written_is_not_returned_while_the_server_runs(server):
    # A stand-in for the master: log_lines only asks whether the process is still running.
    server.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert server.log_lines() == ['{"event": "access", "status": 200}', '{"event": "boot"}']
        with server.stdout_path.open("a", encoding="utf-8") as log:
            log.write('tus": 503}\n')
        assert server.log_lines()[1] == '{"event": "access", "status": 503}'
    finally:
        server.process.kill()
        server.process.wait()


def test_a_stopped_servers_last_line_is_returned_even_without_its_newline(server):
    server.process = subprocess.Popen([sys.executable, "-c", "pass"])
    server.process.wait()
    assert server.log_lines()[1] == '{"event": "access", "sta'
