"""The clients P1 downloads with: Python's `http.client` (1 MiB reads, as a Python user would) and curl, a C client
(libcurl + OpenSSL, as most users' are). On loopback the client shares the two cores with the service, and part of
its receive path (softirq, ACKs) runs in the worker's context, so the client changes the worker's figures too:
P1 reports both, and the capacity model takes the costlier.

Each download function makes `count` GETs of one path on one kept-alive connection, checks every status and byte
count, and returns nothing: the caller times it and reads the workers' CPU around it.
"""

from __future__ import annotations

import subprocess

from .measures import _connection, http_get

#: Longest a curl run may take: 64 downloads of 4 MiB or one of 1 GiB on two busy cores are well inside it.
CURL_TIMEOUT_S = 300


def python_download(url: str, path: str, size: int, count: int = 1) -> None:
    connection = _connection(url)
    try:
        for _ in range(count):
            status, received = http_get(connection, path)
            assert (status, received) == (200, size), (status, received)
    finally:
        connection.close()


def curl_download(url: str, path: str, size: int, count: int = 1) -> None:
    """curl, bodies to /dev/null, HTTP/1.1 (what the ALB speaks to its targets). Over TLS without verification: the
    certificate is the server's own, made at its start, as the Python client's context (GunicornServer)."""
    command = [
        "curl",
        "--silent",
        "--show-error",
        "--http1.1",
        "--insecure",
        "--write-out",
        r"%{http_code} %{size_download}\n",
    ]
    for _ in range(count):
        command += ["--output", "/dev/null", url + path]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=CURL_TIMEOUT_S)
    answers = [tuple(int(field) for field in line.split()) for line in done.stdout.splitlines()]
    assert answers == [(200, size)] * count, answers


CLIENTS = {"python": python_download, "curl": curl_download}
