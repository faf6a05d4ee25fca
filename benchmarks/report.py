"""`make bench`'s printed table, and the capacity model's inputs from this run in stages/capacity.py's shape."""

from __future__ import annotations

from stages import capacity

from .clients import CLIENTS
from .harness import MiB


def _large(p1_transport: dict, large: int) -> dict:
    """{(object name, client): that side's figures} for the large objects of one transport."""
    return {
        (name, client): figures[client]
        for name, figures in p1_transport.items()
        if name.endswith(f" {large // MiB} MiB")
        for client in CLIENTS
    }


def capacity_inputs(results: dict, chunk: int, large: int) -> dict:
    """stages/capacity.py's MEASURED and TLS_HANDSHAKE_MS, as this run measured them: per transport, the costlier
    shape (object and client) of the large objects, and the costlier client per small request; `from` says which."""
    p1 = results["P1_transports"][str(chunk)]
    measured, shapes = {}, {}
    for name, transport in p1.items():
        sides = _large(transport, large)
        costliest = max(sides, key=lambda side: sides[side]["worker_cpu_s_per_gib"]["median"])
        per_request = transport["worker_cpu_ms_per_request"]
        request_client = max(per_request, key=lambda client: per_request[client]["median"])
        measured[name] = {
            "cpu_s_per_gib": round(sides[costliest]["worker_cpu_s_per_gib"]["median"], 3),
            "cpu_s_per_gib_max": round(sides[costliest]["worker_cpu_s_per_gib"]["max"], 3),
            "cpu_ms_per_request": round(per_request[request_client]["median"], 2),
        }
        shapes[name] = f"{costliest[0]}, {costliest[1]}; per request: {request_client}"
    handshake = results["P7_tls_connection"]
    extra = (
        handshake["tls_worker_cpu_ms_per_connection"]["median"]
        - handshake["plain_worker_cpu_ms_per_connection"]["median"]
    )
    return {"MEASURED": measured, "from": shapes, "TLS_HANDSHAKE_MS": round(extra, 2)}


def _fmt(stat: dict, unit: str = "", digits: int = 2) -> str:
    return f"{stat['median']:.{digits}f}{unit} ({stat['min']:.{digits}f}-{stat['max']:.{digits}f})"


#: Issue 21's targets: worker CPU per GiB of a large single-part object read by curl, at the median.
_TARGETS = {
    ("s3-http client-http", "single-part 1024 MiB", "curl"): "<= 0.5",
    (capacity.PRODUCTION, "single-part 1024 MiB", "curl"): "<= 1.0",
}


def _transport_rows(results: dict) -> list[tuple[str, str, str]]:
    rows = []
    for chunk, transports in results["P1_transports"].items():
        for name, p1 in transports.items():
            rows.append((f"P1 {name}, chunk {int(chunk) // 1024} KiB", "", ""))
            for obj, sides in p1.items():
                if not isinstance(sides, dict) or "direct" not in sides:
                    continue
                for client in CLIENTS:
                    side, direct = sides[client], sides["direct"]
                    each = " ".join(f"{v:.3f}" for v in side["worker_cpu_s_per_gib"]["each"])
                    cpu = f"{_fmt(side['worker_cpu_s_per_gib'], ' s', 3)}; each {each}"
                    rows.append((f"   {obj}, {client}: worker CPU s/GiB", _TARGETS.get((name, obj, client), ""), cpu))
                    detail = (
                        f"{side['mib_s']['median']:.0f} / {direct['mib_s']['median']:.0f} MiB/s, ratio "
                        f"{_fmt(side['ratio'])}, if bound by the cores {side['core_bound_ratio']['median']:.2f}; "
                        f"cores busy {side['machine_busy']['median']:.0%} / {direct['machine_busy']['median']:.0%}; "
                        f"client CPU {side['client_cpu_s_per_gib']['median']:.2f} / "
                        f"{direct['client_cpu_s_per_gib']['median']:.2f} s/GiB"
                    )
                    rows.append(("      service / direct", ">= 0.90", detail))
            for client, cost in p1["worker_cpu_ms_per_request"].items():
                rows.append((f"   worker CPU ms per small GET, {client}", "", _fmt(cost, " ms")))
    return rows


def table(results: dict) -> str:
    rows = [("measure", "target", "median (min-max)"), *_transport_rows(results)]
    for size, growth in results["P2_rss_growth_mib"].items():
        rows.append((f"P2 worker RSS growth, {size} MiB object", "<= 32 MiB", _fmt(growth, " MiB", 1)))
    for concurrency, p3 in results["P3_small_latency"].items():
        rows.append((f"P3 1 KiB overhead p50 @ {concurrency} clients", "<= +5 ms", _fmt(p3["overhead_p50_ms"], " ms")))
        rows.append((f"P3 1 KiB overhead p99 @ {concurrency} clients", "<= +15 ms", _fmt(p3["overhead_p99_ms"], " ms")))
        for side in ("service", "direct"):
            p50, p99 = p3[f"{side}_p50_ms"]["median"], p3[f"{side}_p99_ms"]["median"]
            rows.append((f"   {side} p50 / p99", "", f"{p50:.2f} / {p99:.2f} ms"))
    for kind, count in results["P4_s3_requests"].items():
        rows.append((f"P4 S3 requests per {kind}", "== 1", f"{count:.2f}"))
    p5 = results["P5_health_under_load"]
    rows.append(("P5 /health p99, every slot streaming", "<= 50 ms", _fmt(p5["health_p99_ms"], " ms")))
    rows.append(("   /health p50", "", _fmt(p5["health_p50_ms"], " ms")))
    admitted = f"{p5['streams_admitted']['median']:.0f} of {p5['slots']['median']:.0f} slots"
    rows.append(("   streams admitted / refused", "", f"{admitted} / {p5['streams_refused']['median']:.0f}"))
    p6 = results["P6_rps_per_worker"]
    for level in p6["levels"]:
        label = f"P6 rps/worker @ {level['concurrency']} clients"
        rows.append((label, "", f"{_fmt(level['rps'], '', 0)}, p99 {level['p99_ms']['median']:.1f} ms"))
    rows.append(("P6 best rps/worker with p99 < 100 ms", "", _fmt(p6["best_rps_p99_under_100ms"], "", 0)))
    connection = results["P7_tls_connection"]
    rows.append(
        ("P7 worker CPU per new connection, plain", "", _fmt(connection["plain_worker_cpu_ms_per_connection"], " ms"))
    )
    rows.append(
        ("P7 worker CPU per new connection, TLS", "", _fmt(connection["tls_worker_cpu_ms_per_connection"], " ms"))
    )
    rows += _slow_client_rows(results["P8_slow_clients"])
    width = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(width[i]) for i, cell in enumerate(row)) for row in rows]
    return "\n".join([*lines, "", *_capacity_lines(results["capacity_inputs"])])


def _slow_client_rows(p8: dict) -> list[tuple[str, str, str]]:
    stall = p8["stall_timeout_s"]
    held = f"{p8['stalled_admitted']['median']:.0f} stalled + 1 steady of {p8['slots']['median']:.0f} slots"
    return [
        (f"P8 slow clients (STALL_TIMEOUT_S={stall})", "", held),
        ("   /health p99 while they hold the slots", "<= 50 ms", _fmt(p8["health_p99_ms"], " ms")),
        ("   /health p50", "", _fmt(p8["health_p50_ms"], " ms")),
        ("   stalled streams closed after, median", f"~{stall} s", _fmt(p8["closed_after_s_median"], " s")),
        ("   stalled streams closed after, last", "", _fmt(p8["closed_after_s_max"], " s")),
        ("   stalled streams closed, of admitted", "all", _fmt(p8["stalled_closed"], "", 0)),
        ("   a new download admitted after", "", _fmt(p8["download_admitted_after_s"], " s")),
        ("   steady reader cut (0 = never)", "0", _fmt(p8["steady_cut"], "", 0)),
        ("   steady reader KiB/s", "", _fmt(p8["steady_kib_s"], "", 0)),
    ]


def _capacity_lines(inputs: dict) -> list[str]:
    lines = ["capacity model inputs from this run (stages/capacity.py: MEASURED, TLS_HANDSHAKE_MS):"]
    for name, fields in inputs["MEASURED"].items():
        lines.append(f"    # {inputs['from'][name]}")
        lines.append(f'    "{name}": Transport({", ".join(f"{k}={v}" for k, v in fields.items())}),')
    lines.append(f"TLS_HANDSHAKE_MS = {inputs['TLS_HANDSHAKE_MS']}")
    transport = capacity.Transport(**inputs["MEASURED"][capacity.PRODUCTION])
    row = capacity.task_capacity(capacity.TasksConfig.cpu, transport)
    lines.append(
        f"with these, a {capacity.TasksConfig.cpu}-cpu task ({capacity.PRODUCTION}) streams {row.gib_s_at_target:.2f}"
        f" GiB/s or answers {row.requests_s_at_target:.0f} requests/s at {capacity.CPU_TARGET_PERCENT} % CPU;"
        " stages/capacity.py derives the request target from its own MEASURED"
        f" (now {capacity.requests_per_target()} a minute)"
    )
    return lines
