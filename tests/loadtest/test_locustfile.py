"""`make load` end to end, briefly: Locust runs the whole request mix against a local service and sees no failure
(each task checks its expected status, so a wrong answer fails the run)."""

import csv
import subprocess
import sys


def test_short_headless_run_has_no_failures(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "devtools.load",
            "--duration",
            "4s",
            "--users",
            "4",
            "--spawn-rate",
            "4",
            "--reports",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    with open(tmp_path / "load_stats.csv") as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    assert int(rows["Aggregated"]["Request Count"]) > 10
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    assert (tmp_path / "load.html").exists()
