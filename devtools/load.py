"""`make load`: Locust headless, bounded in users and time, against LOAD_URL or a local service it starts itself.

Locally it starts SeaweedFS seeded like `make run` and the production gunicorn server on a free loopback port,
so `make load` needs nothing running. Reports (CSV + HTML) go to reports/load*. `--rounds N` sends every request
kind N times per user instead of the random mix, and stops when done (--duration stays the upper bound); it also
writes reports/load.json, Locust's final stats.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from devtools.local_stack import LocalStack
from devtools.run_local import BUCKET, ROOT, seed


def locust(url: str, args: argparse.Namespace) -> int:
    reports = Path(args.reports)
    reports.mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).parent / "locust"),
        "-f",
        str(ROOT / "loadtest" / "locustfile.py"),
        "--host",
        url,
        "--headless",
        "--users",
        str(args.users),
        "--spawn-rate",
        str(args.spawn_rate),
        "--run-time",
        args.duration,
        "--rounds",
        str(args.rounds),
        "--stop-timeout",
        "10",
        "--csv",
        str(reports / "load"),
        "--html",
        str(reports / "load.html"),
        "--only-summary",
    ]
    if args.rounds:
        # The CSV is rewritten once a second, so a run of a second or less can end before it holds anything; the
        # JSON is written from the final stats at shutdown (Locust then skips its console summary).
        command += ["--json-file", str(reports / "load")]  # Locust appends .json
    return subprocess.call(command)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=os.environ.get("LOAD_URL", ""), help="target; empty = start locally")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=int, default=5)
    parser.add_argument("--duration", default="30s")
    parser.add_argument("--rounds", type=int, default=0, help="every request kind N times per user, then stop")
    parser.add_argument("--reports", default=str(ROOT / "reports"))
    args = parser.parse_args()
    if args.url:
        return locust(args.url, args)
    with LocalStack(BUCKET) as stack:
        seed(stack)
        with stack.server() as server:
            print(f"load target: {server.url} (local SeaweedFS + production gunicorn config)", flush=True)
            return locust(server.url, args)


if __name__ == "__main__":
    sys.exit(main())
