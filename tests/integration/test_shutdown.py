"""Stopping under load: SIGTERM to the master while clients hammer it, and a worker killed outright.

What counts: a request the server accepted must complete exactly (right status, byte-identical body). A connection
refused after SIGTERM is the intended signal to go elsewhere, not a failure. Load is bounded in threads, requests
and time, on loopback only.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import psutil
import pytest

from download_service import contract

from .conftest import BIG_KEY, BIG_SIZE, BUCKET

MiB = 1024 * 1024
LOAD_THREADS = 6
MAX_REQUESTS_PER_THREAD = 2000
MAX_LOAD_S = 45.0
IN_FLIGHT_DOWNLOADS = 4


@pytest.fixture(scope="module")
def load_objects(s3) -> dict[str, bytes]:
    """Objects the load asks for: path -> (status, exact body)."""
    small = hashlib.sha256(b"small").digest() * 2048  # 64 KiB
    medium = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(MiB // 32))  # 1 MiB
    s3.put_object(Bucket=BUCKET, Key="load/small.bin", Body=small)
    s3.put_object(Bucket=BUCKET, Key="load/medium.bin", Body=medium)
    return {"/files/load/small.bin": (200, small), "/files/load/medium.bin": (200, medium)}


@dataclass
class Outcome:
    tag: str
    path: str
    started: float
    kind: str  # ok | refused | reset_unanswered | failed
    detail: str = ""
    ended: float = 0.0
    #: When connect() returned: on loopback the handshake is complete then, the connection in the accept queue.
    connected: float | None = None


@dataclass
class Load:
    """Threads that each send one request per new connection, round-robin over `paths`, until told to stop.
    `paths` maps each path to the status and, when not None, the exact body it must answer."""

    port: int
    paths: dict[str, tuple[int, bytes | None]]
    stop: threading.Event = field(default_factory=threading.Event)
    outcomes: list[Outcome] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, thread: int) -> None:
        deadline = time.monotonic() + MAX_LOAD_S
        paths = list(self.paths)
        refused_in_a_row = 0
        for n in range(MAX_REQUESTS_PER_THREAD):
            if self.stop.is_set() or time.monotonic() > deadline or refused_in_a_row >= 5:
                return
            path = paths[(n + thread) % len(paths)]
            outcome = self.one(path, f"t{thread}-{n}")
            refused_in_a_row = refused_in_a_row + 1 if outcome.kind == "refused" else 0
            with self._lock:
                self.outcomes.append(outcome)
            if outcome.kind == "refused":
                time.sleep(0.05)

    def one(self, path: str, tag: str) -> Outcome:
        outcome = self._one(path, tag)
        outcome.ended = time.monotonic()
        return outcome

    def _one(self, path: str, tag: str) -> Outcome:
        started = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            try:
                connection.connect()
            except ConnectionRefusedError:
                return Outcome(tag, path, started, "refused")
            connected = time.monotonic()
            try:
                connection.request("GET", f"{path}?load={tag}", headers={"Connection": "close"})
                response = connection.getresponse()
                body = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as err:
                # Connected, but not a byte of answer: either the server dropped an accepted request (a failure),
                # or the kernel completed the handshake just as the listener closed and nobody ever read it.
                # The access log tells which (see _accepted_tags).
                return Outcome(tag, path, started, "reset_unanswered", type(err).__name__, connected=connected)
            except (http.client.HTTPException, OSError) as err:
                return Outcome(tag, path, started, "failed", f"{type(err).__name__}: {err}")
            status, expected = self.paths[path]
            ok = response.status == status and (expected is None or body == expected)
            return Outcome(tag, path, started, "ok" if ok else "failed", f"status {response.status}, {len(body)} B")
        finally:
            connection.close()


def _download_in_background(port: int, results: dict, key: int, progress: threading.Event) -> None:
    """A slow reader of the 64 MiB object: sets `progress` after the first MiB, records (size, sha256 | error)."""
    digest, size = hashlib.sha256(), 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", f"/files/{BIG_KEY}")
        response = connection.getresponse()
        results[key] = {"status": response.status, "local_port": connection.sock.getsockname()[1]}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            block = response.read(MiB)
            if not block:
                break
            digest.update(block)
            size += len(block)
            progress.set()
            time.sleep(0.08)  # about 12 MiB/s: still in flight well after the signal
        # http.client's read(n) returns b"" at a premature EOF: the length check is how a client sees truncation.
        short = size != int(response.headers["Content-Length"])
        results[key].update(size=size, sha256=digest.hexdigest(), error="short of Content-Length" if short else None)
    except (http.client.HTTPException, OSError) as err:
        results.setdefault(key, {}).update(size=size, error=type(err).__name__)
    finally:
        progress.set()
        connection.close()


def _start_downloads(port: int, count: int) -> tuple[list[threading.Thread], dict]:
    results: dict = {}
    threads, started = [], []
    for i in range(count):
        progress = threading.Event()
        thread = threading.Thread(target=_download_in_background, args=(port, results, i, progress), daemon=True)
        thread.start()
        threads.append(thread)
        started.append(progress)
    for progress in started:
        assert progress.wait(30)
    return threads, results


def _access_records(server) -> list[dict]:
    records = []
    for line in server.log_lines():
        record = json.loads(line)
        if record.get("event") == "access":
            records.append(record)
    return records


def _accepted_tags(server) -> set[str]:
    return {
        record["query"].removeprefix("load=")
        for record in _access_records(server)
        if (record.get("query") or "").startswith("load=")
    }


def test_sigterm_under_load_loses_no_accepted_request(start_server, big_object, load_objects, capsys):
    # The load threads and downloads stand for many clients: the per-client cap is not what this test is about.
    server = start_server(MAX_STREAMS_PER_CLIENT="64")
    paths = {**load_objects, contract.HEALTH_PATH: (200, None), "/files/load/missing.bin": (404, None)}
    load = Load(server.port, paths)
    downloads, results = _start_downloads(server.port, IN_FLIGHT_DOWNLOADS)
    workers = [threading.Thread(target=load.run, args=(i,), daemon=True) for i in range(LOAD_THREADS)]
    for worker in workers:
        worker.start()
    time.sleep(2.0)  # steady load before the signal

    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    exit_code = server.wait(timeout=contract.GRACEFUL_TIMEOUT_S + 10)
    stopped_after = time.monotonic() - signalled
    load.stop.set()
    for thread in workers + downloads:
        thread.join(MAX_LOAD_S + 60)

    accepted = _accepted_tags(server)
    kinds = Counter(outcome.kind for outcome in load.outcomes)
    failures = [o for o in load.outcomes if o.kind == "failed"]
    refused_before = [o for o in load.outcomes if o.kind == "refused" and o.started < signalled - 0.01]
    dropped = [o for o in load.outcomes if o.kind == "reset_unanswered" and o.tag in accepted]
    unanswered = [o for o in load.outcomes if o.kind == "reset_unanswered" and o.tag not in accepted]
    # Queued before the signal was sent: the stopping worker serves its accept queue before closing the listener.
    unanswered_backlog = [o for o in unanswered if o.connected < signalled]
    ok_after_signal = sum(1 for o in load.outcomes if o.kind == "ok" and o.started >= signalled)
    ok_across_signal = sum(1 for o in load.outcomes if o.kind == "ok" and o.started < signalled <= o.ended)
    with capsys.disabled():
        print(
            f"\n[measure] SIGTERM under load: {len(load.outcomes)} requests ({kinds['ok']} ok, {ok_after_signal} of"
            f" them started after the signal, {ok_across_signal} in flight across it),"
            f" {len(failures) + len(dropped)} failed, {kinds['refused']} refused after SIGTERM,"
            f" {len(unanswered)} reset unanswered ({len(unanswered_backlog)} queued before the signal);"
            f" {IN_FLIGHT_DOWNLOADS} x 64 MiB in flight; exit {exit_code} {stopped_after:.1f} s after the signal"
        )

    assert kinds["ok"] > 50  # the load did run
    assert failures == []
    assert dropped == []
    # Stricter than "accepted": a client whose handshake completed before the signal gets an answer too, although no
    # worker had accepted it yet (GracefulThreadWorker serves its accept queue before closing the listener). One that
    # completes after the stopping worker's last look at the queue, before its close, is reset by the kernel, as any
    # listener's close does: no stop can both close the listener and promise an answer to a handshake racing it.
    # (Seen 2 in 11 runs on two busy cores, when the last worker was descheduled between the two.) On ECS no client
    # connects then: the load balancer deregisters a task, and waits, before ECS sends SIGTERM.
    assert unanswered_backlog == []
    assert refused_before == []
    for result in results.values():  # every in-flight download completed byte-exactly
        assert result == {**result, "status": 200, "size": BIG_SIZE, "sha256": big_object, "error": None}
    assert exit_code == 0
    assert stopped_after < contract.GRACEFUL_TIMEOUT_S


def _worker_of(server, local_port: int) -> int:
    for worker in server.workers():
        for conn in worker.net_connections(kind="tcp"):
            if conn.raddr and conn.raddr.port == local_port and conn.status == psutil.CONN_ESTABLISHED:
                return worker.pid
    raise AssertionError(f"no worker holds the connection from port {local_port}")


KILLED_WORKER_CLIENT_CAP = 16


def _client_gets_its_whole_cap_again(server, within_s: float = 5.0) -> bool:
    """With every download over, 127.0.0.1 holds KILLED_WORKER_CLIENT_CAP streams and not one more: the master freed
    the killed worker's row (child_exit). Retried for a moment: a finished request's slot is released just after
    its client has read the last byte; a leaked row refuses every try."""
    deadline = time.monotonic() + within_s
    while True:
        held = [server.stalled_download(f"/files/{BIG_KEY}") for _ in range(KILLED_WORKER_CLIENT_CAP + 1)]
        statuses = [status for _, status in held]
        for sock, _ in held:
            sock.close()
        if statuses == [200] * KILLED_WORKER_CLIENT_CAP + [429]:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def test_killed_worker_is_replaced_and_the_other_worker_is_unaffected(start_server, big_object, load_objects, capsys):
    # All of this test's clients are 127.0.0.1: with the default cap (8 per task), up to 12 held downloads plus the
    # killed worker's row, counted until the master reaps it, refused the first new request (seen in CI).
    server = start_server(MAX_STREAMS_PER_CLIENT=str(KILLED_WORKER_CLIENT_CAP))
    # Downloads until each worker holds at least two (the kernel decides which worker accepts a connection).
    downloads, results, owner = [], {}, {}
    for key in range(12):
        progress = threading.Event()
        thread = threading.Thread(
            target=_download_in_background, args=(server.port, results, key, progress), daemon=True
        )
        thread.start()
        downloads.append(thread)
        assert progress.wait(30)
        owner[key] = _worker_of(server, results[key]["local_port"])
        if len(owner) >= 4 and min(Counter(owner.values()).values()) >= 2 and len(set(owner.values())) == 2:
            break
    assert len(set(owner.values())) == 2, f"every download landed on one worker: {owner}"
    victim = owner[0]
    killed_at = time.monotonic()
    psutil.Process(victim).kill()

    # Meanwhile, new requests keep working (served by the surviving worker, then by both).
    load = Load(server.port, dict(load_objects))
    for n in range(40):
        outcome = load.one(list(load_objects)[n % 2], f"k{n}")
        assert outcome.kind == "ok", outcome
    replaced_after = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pids = {worker.pid for worker in server.workers()}
        if len(pids) == 2 and victim not in pids:
            replaced_after = time.monotonic() - killed_at
            break
        time.sleep(0.1)
    assert replaced_after is not None, "the master did not replace the killed worker"
    for thread in downloads:
        thread.join(90)

    survivors = [results[key] for key, pid in owner.items() if pid != victim]
    victims = [results[key] for key, pid in owner.items() if pid == victim]
    for result in survivors:
        assert (result["size"], result["sha256"], result["error"]) == (BIG_SIZE, big_object, None)
    for result in victims:  # cut with the process, visibly: short of Content-Length, never a complete-looking file
        assert result["error"] is not None
        assert result["size"] < BIG_SIZE
    for n in range(10):
        assert load.one(list(load_objects)[n % 2], f"after{n}").kind == "ok"
    assert _client_gets_its_whole_cap_again(server), "the killed worker's streams still count against their client"
    assert server.process.poll() is None
    with capsys.disabled():
        print(
            f"\n[measure] worker SIGKILL: replaced after {replaced_after:.1f} s; {len(survivors)} downloads on the"
            f" other worker completed byte-exactly, {len(victims)} on the killed one were cut short; 50 new"
            " requests meanwhile and after, 0 failed"
        )
