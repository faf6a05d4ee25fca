"""`make run` as a newcomer uses it: a second run is refused in one line and touches nothing; SIGINT to make alone
stops everything; a killed runner leaves nothing behind (devtools/run_local.py, devtools/lifetime.py)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from devtools.run_local import ROOT
from devtools.seaweed import free_ports

#: Bounds of functional outcomes, not speed: before the fix, SIGINT to make stopped nothing at all.
READY_S = 120
GONE_S = 30


@dataclass
class Running:
    make: subprocess.Popen
    port: int

    @property
    def folder(self) -> Path:
        return ROOT / ".local" / f"run-{self.port}"

    def processes(self) -> list[psutil.Process]:
        return psutil.Process(self.make.pid).children(recursive=True)


@pytest.fixture
def running() -> Iterator[Running]:
    port = free_ports(1)[0]
    make = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={port}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        # SIGINT as a terminal's make has it: a run started in the background (CI, `cmd &`) inherits it ignored,
        # and make then ignores it too (it handles only signals not ignored at its start).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    run = Running(make, port)
    try:
        deadline = time.monotonic() + READY_S
        for line in make.stdout:
            if "Ctrl-C stops both" in line or time.monotonic() > deadline:
                break
        assert make.poll() is None, "make run did not start"
        yield run
    finally:
        for process in [*run.processes(), psutil.Process(make.pid)] if make.poll() is None else []:
            process.kill()
        make.wait()
        shutil.rmtree(run.folder, ignore_errors=True)


def all_gone(processes: list[psutil.Process]) -> bool:
    deadline = time.monotonic() + GONE_S
    while time.monotonic() < deadline:
        alive = [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return True
        time.sleep(0.2)
    return False


def run_local(port: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    command = [sys.executable, "-m", "devtools.run_local", "--port", str(port)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def health(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
        return response.status


def test_a_second_run_is_refused_in_one_line_and_touches_nothing(running: Running) -> None:
    data = sorted(path.relative_to(running.folder) for path in (running.folder / "seaweed").rglob("*"))
    done = run_local(running.port)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"make run: already running in this clone on http://localhost:{running.port} (pid ")
    assert " make run PORT=" in lines[0]
    assert sorted(path.relative_to(running.folder) for path in (running.folder / "seaweed").rglob("*")) == data
    assert health(running.port) == 200


def test_sigint_to_make_alone_stops_everything(running: Running) -> None:
    processes = running.processes()
    assert len(processes) >= 3  # the runner, gunicorn's master and workers, SeaweedFS
    running.make.send_signal(signal.SIGINT)  # to make's pid only, as a process manager or `kill -INT` would
    assert all_gone(processes), [p.cmdline()[:3] for p in processes if p.is_running()]
    assert running.make.wait(GONE_S) != 0


def test_nothing_outlives_a_killed_runner(running: Running) -> None:
    processes = running.processes()
    (runner,) = [p for p in processes if "devtools.run_local" in p.cmdline()]
    runner.kill()
    assert all_gone(processes), [p.cmdline()[:3] for p in processes if p.is_running()]


def test_a_port_another_program_holds_is_named_with_a_free_one() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        done = run_local(port)
    shutil.rmtree(ROOT / ".local" / f"run-{port}", ignore_errors=True)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"make run: port {port} is in use by another program: make run PORT=")
