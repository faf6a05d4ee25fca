"""A quick run of the benchmark harness: it must produce every figure. Timing is not asserted (shared machine);
the S3 request counts are, because they are exact."""

import json

from benchmarks import run
from download_service.settings import Settings


def test_quick_run_produces_every_measure(tmp_path, capsys):
    output = tmp_path / "bench.json"
    assert run.main(["--quick", "--repeat", "1", "--json", str(output)]) == 0
    results = json.loads(output.read_text())
    assert set(results) >= {
        "P1_throughput",
        "P2_rss_growth_mib",
        "P3_small_latency",
        "P4_s3_requests",
        "P5_health_under_load",
        "P6_rps_per_worker",
        "P7_tls_stream",
        "P7_tls_connection",
    }
    assert results["P1_throughput"][str(Settings.chunk_size)]["ratio"]["median"] > 0
    assert results["P4_s3_requests"] == {"GET": 1.0, "Range": 1.0, "304": 1.0, "404": 1.0, "HEAD": 1.0}
    p5 = results["P5_health_under_load"]
    assert p5["streams_admitted"]["min"] == p5["slots"]["min"]  # the probes ran with every slot of every worker busy
    table = capsys.readouterr().out
    for label in ("P1 throughput ratio", "P2 worker RSS growth", "P3 1 KiB overhead p99 @ 2 clients", "P5 /health p99"):
        assert label in table
    assert "P7 worker CPU s/GiB, TLS" in table  # the TLS server really served the stream (asserted per download)
