"""`make profile`: where a worker's CPU goes on each transport, while curl downloads an object through the
production gunicorn config (benchmarks/harness.py: SeaweedFS on loopback, plain and HTTPS; the service with
TLS=self-signed or without). Two samplers run at once on the workers:

- py-spy (native frames included; it pauses a worker for each sample, 100 a second): which Python code the CPU is
  spent under. py-spy samples sleeping threads too, so stacks whose innermost frame is a wait (IDLE) are dropped;
  `self` counts the samples in which a function was the innermost frame, `total` those in which it was anywhere on
  the stack.
- `perf record -e cpu-clock` (only where `perf` is installed): what was on the CPU, kernel included, by symbol.
  System calls show there as the kernel's copy and TCP functions that py-spy can only name `recv` or `write`.

    python -m benchmarks.profile --py-spy .local/tools/py-spy/bin/py-spy [--shape single-part] [--size-mib 512]
        [--downloads 2] [--transport "s3-https client-tls"] [--top 15] [--out reports/profile] [--env NAME=VALUE]

Prints, per transport, the workers' CPU per GiB while profiled (schedstat) and both samplers' top entries; the raw
samples go to --out (py-spy's collapsed stacks, perf.data) for flame graphs.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from download_service import contract

from .clients import curl_download
from .harness import MULTIPART, SINGLE_PART, MiB, bench_environment, worker_cpu
from .transports import TRANSPORTS, warm

GiB = 2**30
#: py-spy needs a moment to attach to every process before the downloads start.
ATTACH_S = 1.5
_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")


#: Innermost frames of a thread that waits (py-spy samples those too): gthread's poller, sleeps, lock and socket
#: waits. A sample ending in one of them is no CPU spent.
IDLE = frozenset(
    {"epoll_wait", "clock_nanosleep", "poll", "select", "pthread_cond_wait", "pthread_cond_timedwait", "sem_wait"}
)
_UNRESOLVED = re.compile(r"^0x[0-9a-f]+ \((?P<library>[^)]*)\)$")


def frame_name(frame: str) -> str:
    """`recv_into (socket.py:712)` -> `recv_into (socket.py)`: one entry per function, not per line; an address
    without a symbol counts for its library (`libcrypto.so.3, no symbol`)."""
    unresolved = _UNRESOLVED.match(frame)
    if unresolved:
        return f"{unresolved['library']}, no symbol"
    return re.sub(r":\d+\)$", ")", frame)


def top_frames(raw: str, top: int) -> tuple[int, list[tuple[str, int, int]]]:
    """(samples, [(function, self samples, total samples)]) from py-spy's raw (collapsed) output, the `top`
    functions by self samples. The process and thread frames py-spy puts at the root are skipped."""
    own: collections.Counter[str] = collections.Counter()
    anywhere: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        count = int(match["count"])
        frames = [frame_name(f) for f in match["stack"].split(";") if not f.startswith(("process ", "thread "))]
        if not frames or frames[-1].split(" (")[0] in IDLE:
            continue
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            anywhere[frame] += count
    return samples, [(name, own[name], anywhere[name]) for name, _ in own.most_common(top)]


def perf_top(data: Path, top: int) -> list[str]:
    """perf's top symbols (self time, every thread of the workers), as `perf report` prints them."""
    report = subprocess.run(
        ["perf", "report", "-i", str(data), "--no-children", "--sort", "dso,sym", "--stdio", "--percent-limit", "0.5"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.strip() for line in report.splitlines() if line.strip() and not line.startswith("#")][:top]


def profile(server, py_spy: str, key: str, size: int, downloads: int, output: Path) -> float:
    """Record the server's workers while curl downloads `key` `downloads` times into `output`.txt (py-spy) and
    `output`.perf (perf, where installed); returns the workers' CPU-s per GiB meanwhile."""
    pids = [str(worker.pid) for worker in server.workers()]
    samplers = [[py_spy, "record", "--pid", str(server.process.pid), "--subprocesses", "--native"]]
    samplers[0] += ["--rate", "100", "--format", "raw", "--output", f"{output}.txt"]
    if shutil.which("perf"):
        samplers.append(
            ["perf", "record", "-e", "cpu-clock", "-F", "999", "-p", ",".join(pids), "-o", f"{output}.perf"]
        )
    running = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for c in samplers]
    try:
        time.sleep(ATTACH_S)
        before = worker_cpu(server)
        curl_download(server.url, f"/files/{key}", size, downloads)
        spent = worker_cpu(server) - before
    finally:
        for sampler in running:
            sampler.send_signal(signal.SIGINT)  # both write their output on SIGINT
        errors = [sampler.communicate(timeout=60)[1] for sampler in running]
    if not Path(f"{output}.txt").exists():
        raise RuntimeError(f"py-spy wrote nothing: {errors[0].strip()}")
    return spent / (size * downloads / GiB)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--py-spy", required=True, help="the py-spy executable (make py-spy-tool)")
    parser.add_argument("--shape", choices=(SINGLE_PART, MULTIPART), default=SINGLE_PART)
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--downloads", type=int, default=4)
    parser.add_argument("--transport", choices=list(TRANSPORTS), action="append", help="default: every one")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--out", default="reports/profile")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the service, repeatable")
    args = parser.parse_args(argv)
    if not Path(args.py_spy).exists():
        parser.error(f"--py-spy: {args.py_spy} does not exist (make py-spy-tool installs it)")
    env = dict(item.split("=", 1) for item in args.env)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    size, key = args.size_mib * MiB, f"profile/{args.shape}.bin"
    with bench_environment() as bench:
        bench.put(key, size, args.shape)
        for name in args.transport or list(TRANSPORTS):
            s3_https, client_tls = TRANSPORTS[name]
            tls = {"TLS": contract.TLS_SELF_SIGNED} if client_tls else {}
            with contextlib.ExitStack() as stack:
                server = stack.enter_context(bench.service(s3_https=s3_https, **tls, **env))
                warm(server, key, size)
                output = out / f"{name.replace(' ', '_')}.{args.shape}"
                cpu = profile(server, args.py_spy, key, size, args.downloads, output)
            samples, rows = top_frames(Path(f"{output}.txt").read_text(), args.top)
            print(
                f"\n{name}, {args.shape} {args.size_mib} MiB x {args.downloads}, curl: worker CPU {cpu:.3f} s/GiB "
                f"while profiled; py-spy: {samples} samples on CPU ({output}.txt)"
            )
            print(f"  {'self':>6} {'total':>6}  function")
            for function, own, total in rows:
                print(f"  {own / samples:6.1%} {total / samples:6.1%}  {function}")
            if Path(f"{output}.perf").exists():
                print(f"  perf, self time by symbol ({output}.perf):")
                print("\n".join(f"    {line}" for line in perf_top(Path(f"{output}.perf"), args.top)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
