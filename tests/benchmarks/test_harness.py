"""A quick run of the benchmark harness: it must produce every figure. Timing is not asserted (shared machine);
what is exact is: the S3 request counts, that the saturating measures really held every slot, and that every
transport served the stream (each download is checked byte count and status inside the harness)."""

import json

from benchmarks import run, transports
from download_service.settings import Settings


def test_quick_run_produces_every_measure(tmp_path, capsys):
    output = tmp_path / "bench.json"
    assert run.main(["--quick", "--repeat", "1", "--json", str(output)]) == 0
    results = json.loads(output.read_text())
    assert set(results) >= {
        "P1_transports",
        "P2_rss_growth_mib",
        "P3_small_latency",
        "P4_s3_requests",
        "P5_health_under_load",
        "P6_rps_per_worker",
        "P7_tls_connection",
        "P8_slow_clients",
        "capacity_inputs",
    }
    p1 = results["P1_transports"][str(Settings.chunk_size)]
    assert set(p1) == set(transports.TRANSPORTS)  # S3 plain and HTTPS, client plain and TLS, in the same run
    assert all(p1[name]["ratio"]["n"] == 1 for name in p1)
    assert set(results["capacity_inputs"]["MEASURED"]) == set(transports.TRANSPORTS)
    assert results["P4_s3_requests"] == {"GET": 1.0, "Range": 1.0, "304": 1.0, "404": 1.0, "HEAD": 1.0}
    p5 = results["P5_health_under_load"]
    assert p5["streams_admitted"]["min"] == p5["slots"]["min"]  # the probes ran with every slot of every worker busy
    p8 = results["P8_slow_clients"]
    assert p8["stalled_admitted"]["min"] == p8["slots"]["min"] - 1  # every slot held: stalled ones and the steady one
    assert p8["stalled_closed"]["min"] == p8["stalled_admitted"]["min"]  # the server closed every stalled stream
    assert p8["steady_status"]["min"] == 200
    table = capsys.readouterr().out
    for label in (
        "P1 s3-https client-tls",
        "P2 worker RSS growth",
        "P3 1 KiB overhead p99 @ 2 clients",
        "P5 /health p99",
    ):
        assert label in table
    assert "P8 slow clients" in table
    assert "capacity model inputs from this run" in table
