"""A quick run of the benchmark harness: it must produce every figure. Timing is not asserted (shared machine);
what is exact is: the S3 request counts, that the saturating measures really held every slot, and that every
transport served the stream (each download is checked byte count and status inside the harness)."""

import json

from benchmarks import clients, run, transports
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
    objects = {obj.name for obj in run.p1_objects(run.QUICK)}
    assert {"single-part 8 MiB", "multipart 8 MiB", "single-part 2 MiB", "multipart 2 MiB"} == objects
    for transport in p1.values():
        for name in objects:  # every object shape, with every client (each download checked inside the harness)
            for client in clients.CLIENTS:
                assert transport[name][client]["worker_cpu_s_per_gib"]["n"] == 1
                assert transport[name][client]["worker_cpu_s_per_gib"]["min"] > 0
        assert set(transport["worker_cpu_ms_per_request"]) == set(clients.CLIENTS)
    assert set(results["capacity_inputs"]["MEASURED"]) == set(transports.TRANSPORTS)
    # The model's inputs come from the costlier of the large objects' shapes and clients, and say which.
    for name, measured in results["capacity_inputs"]["MEASURED"].items():
        costliest = max(
            p1[name][obj][client]["worker_cpu_s_per_gib"]["median"]
            for obj in ("single-part 8 MiB", "multipart 8 MiB")
            for client in clients.CLIENTS
        )
        assert measured["cpu_s_per_gib"] == round(costliest, 3)
        assert results["capacity_inputs"]["from"][name].split(";")[0].rsplit(", ", 1)[1] in clients.CLIENTS
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
