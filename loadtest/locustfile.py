"""Locust load profile for the download service: works against `make run` locally or any deployed URL.

    locust -f loadtest/locustfile.py --host http://localhost:8080 --headless -u 20 -r 5 -t 1m

Keys come from LOAD_SMALL_KEYS / LOAD_LARGE_KEY (defaults: the samples `make run` seeds). Large downloads are read
through, Range requests read a slice, revalidations send the ETag back - the mix a CDN-less download service
sees. Every request checks its status, so a wrong answer counts as a failure, not just a slow one.
"""

from __future__ import annotations

import os
import random
import urllib.parse

from locust import HttpUser, between, task

SMALL_KEYS = os.environ.get("LOAD_SMALL_KEYS", "hello.txt,docs/report.csv,docs/logo.svg").split(",")
LARGE_KEY = os.environ.get("LOAD_LARGE_KEY", "big/random-8MiB.bin")
HEALTH_PATH = "/health"


def files_path(key: str) -> str:
    return "/files/" + urllib.parse.quote(key)


class Downloader(HttpUser):
    wait_time = between(0.05, 0.5)

    def on_start(self) -> None:
        self.etags: dict[str, str] = {}

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
        key = random.choice(SMALL_KEYS)  # noqa: S311
        if key not in self.etags:
            self._expect("GET", key, 200, "GET small")
            return
        self._expect("GET", key, 304, "GET 304", headers={"If-None-Match": self.etags[key]})

    @task(1)
    def missing(self) -> None:
        self._expect("GET", "no/such/object.bin", 404, "GET 404")

    @task(2)
    def health(self) -> None:
        with self.client.get(HEALTH_PATH, name="health", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"health answered {response.status_code}")
