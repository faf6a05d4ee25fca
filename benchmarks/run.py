"""`make bench`: P1-P8 (docs/performance.md): every transport (S3 plain/HTTPS x client plain/TLS) against direct
boto3 over the same S3 transport, memory, latency, S3 requests, health under load, requests/s, connection cost and
slow clients; printed, with the capacity model's inputs (stages/capacity.py), and written as JSON.

    python -m benchmarks.run [--quick] [--repeat N] [--json reports/bench.json] [--chunk-sizes 65536,262144]

Ratios and differences are taken within one run, so a noisy shared machine shifts both sides alike. No target
here fails a build: the numbers are for docs/performance.md and for tuning.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from download_service.settings import Settings

from . import measures, report, slow_clients, tls_cost, transports
from .harness import MULTIPART, SINGLE_PART, MiB, bench_environment
from .stats import summaries, summary
from .transports import Object


@dataclass(frozen=True)
class Sizes:
    stream: int
    large: int  # P1's large objects, one download per measurement
    small: int  # P1's small ones: under `aws s3 cp`'s 8 MiB multipart threshold
    small_downloads: int  # per measurement, on one connection
    memory: list[int]
    small_requests: int
    concurrency: list[int]
    probes: int
    rps_levels: list[int]
    rps_seconds: float
    count_repeat: int
    connections: int
    transport_requests: int  # small GETs per transport and repetition (worker CPU per request)
    #: P8's STALL_TIMEOUT_S. Above 2 s: on loopback (64 KiB segments) a 64 KiB/s reader acknowledges about once a
    #: second, so a 1 s deadline would cut it (measured).
    stall_timeout_s: int


FULL = Sizes(
    256 * MiB,
    1024 * MiB,
    4 * MiB,
    64,
    [256 * MiB, 1024 * MiB],
    2000,
    [1, 2, 8],
    200,
    [1, 2, 4, 8, 16],
    5.0,
    20,
    200,
    200,
    5,
)
QUICK = Sizes(8 * MiB, 8 * MiB, 2 * MiB, 2, [4 * MiB, 8 * MiB], 40, [2], 10, [1, 4], 0.5, 2, 5, 5, 3)
#: SMALL_KEY is one PutObject (under the multipart threshold), so it carries a full-object checksum, like the small
#: objects users upload.
SMALL_KEY, STREAM_KEY = "small/1KiB.bin", "large/stream.bin"


def p1_objects(sizes: Sizes) -> list[Object]:
    """Single-part and multipart, large and small (docs/performance.md, "Object shapes")."""
    return [
        Object(f"p1/{shape}-{size // MiB}MiB.bin", shape, size, downloads)
        for size, downloads in ((sizes.large, 1), (sizes.small, sizes.small_downloads))
        for shape in (SINGLE_PART, MULTIPART)
    ]


def run(sizes: Sizes, repeat: int, chunk_sizes: list[int]) -> dict:
    results: dict = {"machine": machine(), "sizes": sizes.__dict__, "repeat": repeat}
    with bench_environment() as bench:
        bench.put(SMALL_KEY, 1024)
        bench.put(STREAM_KEY, sizes.stream)
        # P2 reads single-part objects: the shape whose read path does the most (a checksum per byte, by default).
        memory_keys = {size: f"large/memory-{size // MiB}MiB.bin" for size in sizes.memory}
        for size, key in memory_keys.items():
            bench.put(key, size)
        objects = p1_objects(sizes)
        for obj in objects:
            bench.put(obj.key, obj.size, obj.shape)
        small = Object(SMALL_KEY, SINGLE_PART, 1024, sizes.transport_requests)

        results["P1_transports"] = {}
        for chunk in chunk_sizes:
            with contextlib.ExitStack() as stack:
                servers = transports.start_servers(bench, stack, CHUNK_SIZE=str(chunk))
                warm = {name: transports.warm(server, STREAM_KEY, sizes.stream) for name, server in servers.items()}
                reps = [
                    transports.repetition(bench, servers, objects, small, sizes.transport_requests, i)
                    for i in range(repeat)
                ]
                results["P1_transports"][str(chunk)] = {
                    name: {**summaries([r[name] for r in reps]), "warm_downloads": warm[name]} for name in servers
                }
                if chunk == chunk_sizes[0]:
                    plain, tls = servers["s3-http client-http"], servers["s3-http client-tls"]
                    reps = [tls_cost.connection_cost(plain, tls, sizes.connections) for _ in range(repeat)]
                    results["P7_tls_connection"] = summaries(reps)

        with bench.service(WORKERS="1") as server:
            results["P2_rss_growth_mib"] = {
                str(size // MiB): summary([measures.rss_growth(server, key, size) for _ in range(repeat)])
                for size, key in memory_keys.items()
            }

        with bench.service() as server:
            results["P3_small_latency"] = {}
            for concurrency in sizes.concurrency:
                reps = [
                    measures.small_latency(bench, server.url, SMALL_KEY, concurrency, sizes.small_requests)
                    for _ in range(repeat)
                ]
                results["P3_small_latency"][str(concurrency)] = summaries(reps)
            results["P4_s3_requests"] = measures.s3_requests_per_request(
                bench, server.url, SMALL_KEY, sizes.count_repeat
            )
            reps = [measures.health_under_load(server, STREAM_KEY, sizes.probes) for _ in range(repeat)]
            results["P5_health_under_load"] = summaries(reps)

        with bench.service(STALL_TIMEOUT_S=str(sizes.stall_timeout_s)) as server:
            reps = [slow_clients.repetition(server, STREAM_KEY, SMALL_KEY) for _ in range(repeat)]
            results["P8_slow_clients"] = {**summaries(reps), "stall_timeout_s": sizes.stall_timeout_s}

        with bench.service(WORKERS="1") as server:
            reps = [
                measures.rps_per_worker(server.url, SMALL_KEY, sizes.rps_levels, sizes.rps_seconds)
                for _ in range(repeat)
            ]
        results["P6_rps_per_worker"] = {
            "levels": [
                {
                    "concurrency": level,
                    "rps": summary([r["levels"][i]["rps"] for r in reps]),
                    "p99_ms": summary([r["levels"][i]["p99_ms"] for r in reps]),
                }
                for i, level in enumerate(sizes.rps_levels)
            ],
            "best_rps_p99_under_100ms": summary([r["best_rps_p99_under_100ms"] for r in reps]),
        }
    results["capacity_inputs"] = report.capacity_inputs(results, chunk_sizes[0], sizes.large)
    return results


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "cpus": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_1m": psutil.getloadavg()[0],
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the harness, measures nothing")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", default="reports/bench.json")
    parser.add_argument(
        "--chunk-sizes", default=str(Settings.chunk_size), help="comma-separated CHUNK_SIZE values for P1"
    )
    args = parser.parse_args(argv)
    chunk_sizes = [int(c) for c in args.chunk_sizes.split(",")]
    results = run(QUICK if args.quick else FULL, args.repeat, chunk_sizes)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))
    print(report.table(results))
    print(f"\nwritten to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
