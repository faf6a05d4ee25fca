"""`make run`: the service on localhost, backed by an embedded SeaweedFS seeded with `samples/`.

No AWS account needed: SeaweedFS speaks S3 on loopback and the service reaches it through AWS_ENDPOINT_URL_S3,
exactly as boto3 would reach S3 (devtools/local_stack.py). Ctrl-C stops both.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import signal
import sys
import urllib.parse
from pathlib import Path

from devtools.local_stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
BUCKET = "local-files"
#: Generated rather than committed: a multi-MiB object to try Range and streaming with, same bytes every run.
BIG_KEY, BIG_SIZE = "big/random-8MiB.bin", 8 * 1024 * 1024


def big_sample() -> bytes:
    return random.Random(42).randbytes(BIG_SIZE)  # noqa: S311 - sample data, not security


def seed(stack: LocalStack) -> list[str]:
    """Upload samples/ (keys relative to it) and the generated big file; return the keys."""
    s3 = stack.client()
    keys = []
    for path in sorted(p for p in SAMPLES.rglob("*") if p.is_file()):
        key = path.relative_to(SAMPLES).as_posix()
        s3.upload_file(str(path), stack.bucket, key)
        keys.append(key)
    s3.put_object(Bucket=stack.bucket, Key=BIG_KEY, Body=big_sample())
    keys.append(BIG_KEY)
    return keys


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()

    root = ROOT / ".local"
    shutil.rmtree(root / "seaweed", ignore_errors=True)  # a fresh bucket every run; kept afterwards to inspect
    try:
        with LocalStack(BUCKET, root=root) as stack:
            keys = seed(stack)
            # The server's JSON lines go to this terminal, as with `make serve`.
            with stack.server(port=args.port, capture=False) as server:
                # TLS=self-signed (`make run TLS=self-signed`): HTTPS with the certificate made at start, hence -k.
                base = f"{'https' if server.tls else 'http'}://localhost:{args.port}"
                curl = "curl -k" if server.tls else "curl"
                print(f"\nSeaweedFS S3 on {stack.endpoint_url} (bucket {BUCKET!r}, data in {stack.s3.data_dir})")
                print(f"Service on {base} - try:")
                print(f"  {curl} -i {base}/health")
                for key in keys:
                    print(f"  {curl} -OJ {base}/files/{urllib.parse.quote(key)}")
                print(f"  {curl} -i -H 'Range: bytes=0-99' {base}/files/{BIG_KEY}")
                print(f"  {curl} -i {base}/files/no/such/file.txt     # 404 JSON")
                print(f"  sha256 of {BIG_KEY}: {hashlib.sha256(big_sample()).hexdigest()}")
                print("Ctrl-C stops both.\n", flush=True)
                return server.wait(timeout=None)
    except KeyboardInterrupt:
        return 0  # leaving the `with` blocks stopped gunicorn gracefully (SIGTERM), then SeaweedFS
    except RuntimeError as error:  # a server that did not start (e.g. the port is taken): its output is above
        print(f"make run: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
