"""`make load` end to end, briefly: Locust sends every kind of request of the profile against a local service, and
each is answered as the profile expects (each task checks its status, so a wrong answer counts as a failure).

`--rounds` makes what is sent fixed (every kind, once per round and user) whatever the machine's speed; nothing
here depends on throughput.
"""

import json
import subprocess
import sys

USERS, ROUNDS = 3, 2
#: Request name (as the locustfile labels it) per task of loadtest/locustfile.py; revalidate is "GET 304".
KINDS = {"GET small", "GET large", "GET range", "HEAD", "GET 304", "GET 404", "health"}
#: An upper bound only: the run stops by itself when every user has sent its rounds.
RUN_TIME_LIMIT = "120s"


def test_every_request_kind_is_sent_and_answered_as_expected(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "devtools.load",
            "--rounds",
            str(ROUNDS),
            "--users",
            str(USERS),
            "--spawn-rate",
            str(USERS),
            "--duration",
            RUN_TIME_LIMIT,
            "--reports",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = completed.stdout[-2000:] + completed.stderr[-2000:]
    assert completed.returncode == 0, output
    stats = {entry["name"]: entry for entry in json.loads((tmp_path / "load.json").read_text())}
    assert set(stats) == KINDS, output
    for name, entry in stats.items():
        assert (name, entry["num_requests"], entry["num_failures"]) == (name, USERS * ROUNDS, 0), output
    assert (tmp_path / "load.html").exists()
    assert (tmp_path / "load_stats.csv").exists()
