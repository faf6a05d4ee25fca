"""`make load`: Locust headless, bounded in users and time, against LOAD_URL or a local service it starts itself.

Locally it starts SeaweedFS seeded like `make run` and the production gunicorn server on a free loopback port,
so `make load` needs nothing running. Reports (CSV + HTML) go to reports/load*.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from devtools.local_stack import LocalStack
from devtools.run_local import BUCKET, ROOT, seed


def locust(url: str, users: int, spawn_rate: int, duration: str, reports: Path) -> int:
    reports.mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).parent / "locust"),
        "-f",
        str(ROOT / "loadtest" / "locustfile.py"),
        "--host",
        url,
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(spawn_rate),
        "--run-time",
        duration,
        "--stop-timeout",
        "10",
        "--csv",
        str(reports / "load"),
        "--html",
        str(reports / "load.html"),
        "--only-summary",
    ]
    return subprocess.call(command)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=os.environ.get("LOAD_URL", ""), help="target; empty = start locally")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=int, default=5)
    parser.add_argument("--duration", default="30s")
    parser.add_argument("--reports", default=str(ROOT / "reports"))
    args = parser.parse_args()
    if args.url:
        return locust(args.url, args.users, args.spawn_rate, args.duration, Path(args.reports))
    with LocalStack(BUCKET) as stack:
        seed(stack)
        with stack.server() as server:
            print(f"load target: {server.url} (local SeaweedFS + production gunicorn config)", flush=True)
            return locust(server.url, args.users, args.spawn_rate, args.duration, Path(args.reports))


if __name__ == "__main__":
    sys.exit(main())
