"""Locust load profile for the download service: works against `make run` locally or any deployed URL.

    locust -f loadtest/locustfile.py --host http://localhost:8080 --headless -u 20 -r 5 -t 1m

Keys come from LOAD_SMALL_KEYS / LOAD_LARGE_KEY (defaults: the samples `make run` seeds). Large downloads are read
through, Range requests read a slice, revalidations send the ETag back - the mix a CDN-less download service
sees. Every request checks its status, so a wrong answer counts as a failure, not just a slow one.

`--rounds N` (tests, smoke checks) replaces the weighted random mix: each user sends every kind of request once
per round, in the order declared below, N rounds, and the run stops by itself when every user is done. What it
covers is then fixed (N requests of each kind per user) however fast or slow the machine is.
"""

from __future__ import annotations

import os
import random
import urllib.parse
from typing import ClassVar

import gevent
from locust import HttpUser, between, events, task

SMALL_KEYS = os.environ.get("LOAD_SMALL_KEYS", "hello.txt,docs/report.csv,docs/logo.svg").split(",")
LARGE_KEY = os.environ.get("LOAD_LARGE_KEY", "big/random-8MiB.bin")
HEALTH_PATH = "/health"


def files_path(key: str) -> str:
    return "/files/" + urllib.parse.quote(key)


@events.init_command_line_parser.add_listener
def _add_options(parser) -> None:
    parser.add_argument(
        "--rounds",
        type=int,
        default=0,
        help="every request kind once per round, in order, then stop (0: the weighted random mix until --run-time)",
    )


def _covering_round(user: Downloader) -> None:
    """One request of each kind, in declaration order (revalidate after small_download, so it has an ETag)."""
    for kind in dict.fromkeys(type(user).tasks):  # the weighted list repeats each task; keep first occurrences
        kind(user)
    user.rounds_left -= 1
    if user.rounds_left == 0:
        user.tasks = [_done]
        _done(user)


def _done(user: Downloader) -> None:
    """A user that has sent its rounds idles (this is its only task); the last one to finish ends the run, once."""
    if id(user) in Downloader.finished:
        return
    Downloader.finished.add(id(user))
    if len(Downloader.finished) == user.environment.parsed_options.num_users:
        # From a greenlet of its own: quit() stops every user, and run from this user's greenlet it would be
        # killed with it before the runner itself is stopped (the run would go on until --run-time).
        gevent.spawn(user.environment.runner.quit)


class Downloader(HttpUser):
    wait_time = between(0.05, 0.5)
    finished: ClassVar[set[int]] = set()  # ids of the users done with their --rounds (one process, one run)

    def on_start(self) -> None:
        self.etags: dict[str, str] = {}
        options = self.environment.parsed_options
        self.rounds_left = getattr(options, "rounds", 0) if options else 0
        if self.rounds_left > 0:
            self.tasks = [_covering_round]  # this user's own task list, instead of the class's weighted one

    def _expect(self, method: str, key: str, status: int, name: str, **kwargs) -> None:
        with self.client.request(method, files_path(key), name=name, catch_response=True, **kwargs) as response:
            if response.status_code != status:
                response.failure(f"expected {status}, got {response.status_code}")
                return
            response.success()  # Locust counts every 4xx as a failure unless told the status was expected
            if status == 200 and method == "GET":
                self.etags[key] = response.headers.get("ETag", "")

    @task(10)
    def small_download(self) -> None:
        self._expect("GET", random.choice(SMALL_KEYS), 200, "GET small")  # noqa: S311 - load mix, not security

    @task(2)
    def large_download(self) -> None:
        self._expect("GET", LARGE_KEY, 200, "GET large")

    @task(3)
    def ranged(self) -> None:
        self._expect("GET", LARGE_KEY, 206, "GET range", headers={"Range": "bytes=1048576-2097151"})

    @task(3)
    def head(self) -> None:
        self._expect("HEAD", random.choice(SMALL_KEYS), 200, "HEAD")  # noqa: S311

    @task(4)
    def revalidate(self) -> None:
        # A client revalidates what it already has; one that has nothing yet downloads it first.
        known = [key for key in SMALL_KEYS if key in self.etags]
        if not known:
            self._expect("GET", random.choice(SMALL_KEYS), 200, "GET small")  # noqa: S311
            return
        key = random.choice(known)  # noqa: S311
        self._expect("GET", key, 304, "GET 304", headers={"If-None-Match": self.etags[key]})

    @task(1)
    def missing(self) -> None:
        self._expect("GET", "no/such/object.bin", 404, "GET 404")

    @task(2)
    def health(self) -> None:
        with self.client.get(HEALTH_PATH, name="health", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"health answered {response.status_code}")
