"""Capacity model: what one task can carry, from the worker CPU the service was measured to spend (`make bench`).

The inputs are MEASURED below, per transport, with the run they came from; `make bench` prints the same fields for
its own run (benchmarks/report.py), so updating them is copying numbers. From them:

- GiB/s a task can stream = vCPU x utilisation / (CPU-s per GiB);
- requests/s it can answer = vCPU x utilisation / (CPU-s per request), but each gunicorn worker runs its Python
  under one interpreter lock, so small requests can use at most WORKERS cores whatever the task's vCPU;
- the request-count target: the ALB requests per target per minute at which small-object traffic alone puts a
  task of the default size at the CPU target, at the costliest measured CPU per request. The two policies then
  agree; where a Fargate vCPU is slower than the machine measured, the CPU policy scales first;
- the client speed below which downloads fill SLOT_UTILIZATION_TARGET of the slots before CPU reaches its target:
  slower clients hold slots at low CPU, which is what the slot policy is for.

Measured on the project's 2-vCPU machine, not on Fargate: confirm against a deployment with `make load`. The
stages read CPU_TARGET_PERCENT and SLOT_UTILIZATION_TARGET from here; tests/infra/test_capacity.py keeps
TasksConfig's default requests_per_target equal to requests_per_target() and docs/performance.md's table equal to
`python -m stages.capacity --markdown`. Nothing here imports benchmarks/ or the CDK.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from download_service.settings import Settings

from .config.sections import FARGATE_MEMORY_MIB, TasksConfig

#: Target tracking on the service's average CPU (stages/service.py).
CPU_TARGET_PERCENT = 50
#: Per cent of its download slots a task is kept at: room for a burst while new tasks start (about a minute).
SLOT_UTILIZATION_TARGET = 70
#: gunicorn processes per task (the image's default; the stages do not set WORKERS) and their download slots.
WORKERS = Settings.workers
SLOTS_PER_TASK = WORKERS * (Settings.threads - max(2, Settings.threads // 8))
#: What production runs: S3 is HTTPS on AWS, and the ALB speaks TLS to the tasks (edge.tls_to_tasks).
PRODUCTION = "s3-https client-tls"


@dataclass(frozen=True)
class Transport:
    cpu_s_per_gib: float  # worker CPU-seconds per GiB streamed: median of the run's repetitions
    cpu_s_per_gib_max: float  # the costliest repetition
    cpu_ms_per_request: float  # worker CPU-milliseconds per small GET on a kept-alive connection (median)


#: Where MEASURED comes from. Per transport, the costlier shape of the run's 1 GiB downloads: single-part objects
#: (full-object checksum, as put_object and `aws s3 cp` under 8 MiB write them) or multipart ones, read by curl or
#: by Python (MEASURED_SHAPE); per request, the costlier client's 1 KiB GET. `make bench` prints them in this form.
MEASURED_IN = (
    "make bench BENCH_ARGS='--repeat 5', 2026-12-06 22:05 UTC, load 3.05 (a shared, busy machine; docs/performance.md)"
)
MEASURED_SHAPE = {
    "s3-http client-http": "single-part 1024 MiB, curl; per request: python",
    "s3-http client-tls": "single-part 1024 MiB, curl; per request: python",
    "s3-https client-http": "single-part 1024 MiB, curl; per request: python",
    "s3-https client-tls": "single-part 1024 MiB, python; per request: python",
}
MEASURED: dict[str, Transport] = {
    "s3-http client-http": Transport(cpu_s_per_gib=0.352, cpu_s_per_gib_max=0.404, cpu_ms_per_request=2.89),
    "s3-http client-tls": Transport(cpu_s_per_gib=1.179, cpu_s_per_gib_max=1.402, cpu_ms_per_request=3.71),
    "s3-https client-http": Transport(cpu_s_per_gib=1.161, cpu_s_per_gib_max=1.238, cpu_ms_per_request=3.51),
    "s3-https client-tls": Transport(cpu_s_per_gib=2.358, cpu_s_per_gib_max=2.46, cpu_ms_per_request=3.2),
}
#: Worker CPU-ms for a new TLS connection from the ALB (the handshake), paid per connection, not per request.
TLS_HANDSHAKE_MS = 1.36


@dataclass(frozen=True)
class TaskCapacity:
    cpu: int
    gib_s_at_target: float
    gib_s_full: float
    requests_s_at_target: float
    requests_s_full: float
    slot_bound_below_mib_s: float  # per-client speed under which slots reach their target before CPU does


def task_capacity(cpu: int, transport: Transport) -> TaskCapacity:
    vcpu = cpu / 1024
    target = CPU_TARGET_PERCENT / 100
    usable_for_requests = min(vcpu, WORKERS)  # one interpreter lock per worker
    gib_s_at_target = vcpu * target / transport.cpu_s_per_gib
    per_request_s = transport.cpu_ms_per_request / 1000
    return TaskCapacity(
        cpu=cpu,
        gib_s_at_target=gib_s_at_target,
        gib_s_full=vcpu / transport.cpu_s_per_gib,
        requests_s_at_target=min(vcpu * target, usable_for_requests) / per_request_s,
        requests_s_full=usable_for_requests / per_request_s,
        slot_bound_below_mib_s=gib_s_at_target * 1024 / (SLOTS_PER_TASK * SLOT_UTILIZATION_TARGET / 100),
    )


def requests_per_target(cpu: int = TasksConfig.cpu) -> int:
    """ALB requests per target per minute at which small requests alone hold a task of `cpu` at the CPU target,
    rounded down to a multiple of 100. Per request, the costliest transport's median: on a kept-alive connection the
    transports differ by less than one transport's spread between repetitions, so the largest is the safe one."""
    per_minute = 60 * task_capacity(cpu, _costliest_request()).requests_s_at_target
    return max(100, math.floor(per_minute / 100) * 100)


def _costliest_request() -> Transport:
    return max(MEASURED.values(), key=lambda transport: transport.cpu_ms_per_request)


def markdown() -> str:
    """The capacity table of docs/performance.md: one row per offered task size."""
    target = f"{CPU_TARGET_PERCENT} %"
    lines = [
        f"| task cpu | GiB/s at {target} CPU (at 100 %), {PRODUCTION} | the same, s3-https client-http "
        f"| requests/s at {target} (at 100 %) | slots fill before CPU when clients are slower than |",
        "| --- | --- | --- | --- | --- |",
    ]
    for cpu in FARGATE_MEMORY_MIB:
        production = task_capacity(cpu, MEASURED[PRODUCTION])
        plain = task_capacity(cpu, MEASURED["s3-https client-http"])
        requests = task_capacity(cpu, _costliest_request())
        lines.append(
            f"| {cpu} | {production.gib_s_at_target:.2f} ({production.gib_s_full:.2f}) "
            f"| {plain.gib_s_at_target:.2f} ({plain.gib_s_full:.2f}) "
            f"| {requests.requests_s_at_target:.0f} ({requests.requests_s_full:.0f}) "
            f"| {production.slot_bound_below_mib_s:.1f} MiB/s ({plain.slot_bound_below_mib_s:.1f} without TLS) |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The capacity model (stages/capacity.py) from its measured inputs.")
    parser.add_argument("--markdown", action="store_true", help="print docs/performance.md's table only")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown())
        return 0
    print(f"inputs: {MEASURED_IN}")
    for name, transport in MEASURED.items():
        print(f"  {name} ({MEASURED_SHAPE[name]}): {transport}")
    print(f"  TLS handshake: {TLS_HANDSHAKE_MS} ms per connection")
    print(markdown())
    print(f"requests_per_target (cpu {TasksConfig.cpu}): {requests_per_target()} per minute")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
