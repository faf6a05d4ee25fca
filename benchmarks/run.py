"""`make bench`: P1-P6 from issue #7 (service vs direct boto3 on the same SeaweedFS) and P7 (TLS to the service vs
plain HTTP), printed and written as JSON.

    python -m benchmarks.run [--quick] [--repeat N] [--json reports/bench.json] [--chunk-sizes 65536,262144]

Ratios and differences are taken within one run, so a noisy shared machine shifts both sides alike. No target
here fails a build: the numbers are for docs/performance.md and for tuning.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from download_service import contract
from download_service.settings import Settings

from . import measures, tls_cost
from .harness import MiB, bench_environment
from .stats import summary


@dataclass(frozen=True)
class Sizes:
    stream: int
    memory: list[int]
    small_requests: int
    concurrency: list[int]
    probes: int
    rps_levels: list[int]
    rps_seconds: float
    count_repeat: int
    connections: int


FULL = Sizes(256 * MiB, [256 * MiB, 1024 * MiB], 2000, [1, 2, 8], 200, [1, 2, 4, 8, 16], 5.0, 20, 200)
QUICK = Sizes(8 * MiB, [4 * MiB, 8 * MiB], 40, [2], 10, [1, 4], 0.5, 2, 5)
SMALL_KEY, STREAM_KEY = "small/1KiB.bin", "large/stream.bin"


def run(sizes: Sizes, repeat: int, chunk_sizes: list[int]) -> dict:
    results: dict = {"machine": machine(), "sizes": sizes.__dict__, "repeat": repeat}
    with bench_environment() as bench:
        bench.put(SMALL_KEY, 1024)
        bench.put(STREAM_KEY, sizes.stream)
        memory_keys = {size: f"large/memory-{size // MiB}MiB.bin" for size in sizes.memory}
        for size, key in memory_keys.items():
            bench.put(key, size)

        results["P1_throughput"] = {}
        for chunk in chunk_sizes:
            with bench.service(CHUNK_SIZE=str(chunk)) as server:
                reps = [
                    measures.throughput(bench, server, STREAM_KEY, sizes.stream, direct_first=i % 2 == 1)
                    for i in range(repeat)
                ]
            results["P1_throughput"][str(chunk)] = {k: summary([r[k] for r in reps]) for k in reps[0]}

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
                results["P3_small_latency"][str(concurrency)] = {k: summary([r[k] for r in reps]) for k in reps[0]}
            results["P4_s3_requests"] = measures.s3_requests_per_request(
                bench, server.url, SMALL_KEY, sizes.count_repeat
            )
            reps = [measures.health_under_load(server, STREAM_KEY, sizes.probes) for _ in range(repeat)]
            results["P5_health_under_load"] = {k: summary([r[k] for r in reps]) for k in reps[0]}

        with bench.service() as plain, bench.service(TLS=contract.TLS_SELF_SIGNED) as tls:
            reps = [
                tls_cost.stream_cost(plain, tls, STREAM_KEY, sizes.stream, tls_first=i % 2 == 1) for i in range(repeat)
            ]
            results["P7_tls_stream"] = {k: summary([r[k] for r in reps]) for k in reps[0]}
            reps = [tls_cost.connection_cost(plain, tls, sizes.connections) for _ in range(repeat)]
            results["P7_tls_connection"] = {k: summary([r[k] for r in reps]) for k in reps[0]}

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
    return results


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "cpus": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_1m": psutil.getloadavg()[0],
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def table(results: dict) -> str:
    def fmt(stat: dict, unit: str = "", digits: int = 2) -> str:
        return f"{stat['median']:.{digits}f}{unit} ({stat['min']:.{digits}f}-{stat['max']:.{digits}f})"

    rows = [("measure", "target", "median (min-max)")]
    for chunk, p1 in results["P1_throughput"].items():
        rows.append((f"P1 throughput ratio, chunk {int(chunk) // 1024} KiB", ">= 0.90", fmt(p1["ratio"])))
        rows.append(
            (
                "   service / direct MiB/s",
                "",
                f"{p1['service_mib_s']['median']:.0f} / {p1['direct_mib_s']['median']:.0f}",
            )
        )
    for size, growth in results["P2_rss_growth_mib"].items():
        rows.append((f"P2 worker RSS growth, {size} MiB object", "<= 32 MiB", fmt(growth, " MiB", 1)))
    for concurrency, p3 in results["P3_small_latency"].items():
        rows.append((f"P3 1 KiB overhead p50 @ {concurrency} clients", "<= +5 ms", fmt(p3["overhead_p50_ms"], " ms")))
        rows.append((f"P3 1 KiB overhead p99 @ {concurrency} clients", "<= +15 ms", fmt(p3["overhead_p99_ms"], " ms")))
        for side in ("service", "direct"):
            p50, p99 = p3[f"{side}_p50_ms"]["median"], p3[f"{side}_p99_ms"]["median"]
            rows.append((f"   {side} p50 / p99", "", f"{p50:.2f} / {p99:.2f} ms"))
    for kind, count in results["P4_s3_requests"].items():
        rows.append((f"P4 S3 requests per {kind}", "== 1", f"{count:.2f}"))
    p5 = results["P5_health_under_load"]
    rows.append(("P5 /health p99, every slot streaming", "<= 50 ms", fmt(p5["health_p99_ms"], " ms")))
    rows.append(("   /health p50", "", fmt(p5["health_p50_ms"], " ms")))
    admitted = f"{p5['streams_admitted']['median']:.0f} of {p5['slots']['median']:.0f} slots"
    rows.append(("   streams admitted / refused", "", f"{admitted} / {p5['streams_refused']['median']:.0f}"))
    p6 = results["P6_rps_per_worker"]
    for level in p6["levels"]:
        label = f"P6 rps/worker @ {level['concurrency']} clients"
        rows.append((label, "", f"{fmt(level['rps'], '', 0)}, p99 {level['p99_ms']['median']:.1f} ms"))
    rows.append(("P6 best rps/worker with p99 < 100 ms", "", fmt(p6["best_rps_p99_under_100ms"], "", 0)))
    stream, connection = results["P7_tls_stream"], results["P7_tls_connection"]
    rows.append(("P7 worker CPU s/GiB, plain HTTP", "", fmt(stream["plain_worker_cpu_s_per_gib"], " s")))
    rows.append(("P7 worker CPU s/GiB, TLS", "", fmt(stream["tls_worker_cpu_s_per_gib"], " s")))
    rows.append(("   TLS / plain worker CPU", "", fmt(stream["worker_cpu_ratio"])))
    rows.append(("   client CPU s/GiB plain / TLS", "", _pair(stream, "client_cpu_s_per_gib", " s")))
    rows.append(("   MiB/s plain / TLS", "", _pair(stream, "mib_s", "", 0)))
    rows.append(("P7 worker CPU per new connection", "", _pair(connection, "worker_cpu_ms_per_connection", " ms")))
    width = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join("  ".join(cell.ljust(width[i]) for i, cell in enumerate(row)) for row in rows)


def _pair(stats: dict, suffix: str, unit: str, digits: int = 2) -> str:
    plain, tls = stats[f"plain_{suffix}"]["median"], stats[f"tls_{suffix}"]["median"]
    return f"{plain:.{digits}f}{unit} / {tls:.{digits}f}{unit} (medians)"


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
    print(table(results))
    print(f"\nwritten to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
