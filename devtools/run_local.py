"""`make run`: the service on localhost, backed by an embedded SeaweedFS seeded with `samples/`.

No AWS account needed: SeaweedFS speaks S3 on loopback and the service reaches it through AWS_ENDPOINT_URL_S3,
exactly as boto3 would reach S3. Ctrl-C stops both.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import urllib.parse
from pathlib import Path

import boto3

from devtools.seaweed import SeaweedS3

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
BUCKET = "local-files"
#: Generated rather than committed: a multi-MiB object to try Range and streaming with, same bytes every run.
BIG_KEY, BIG_SIZE = "big/random-8MiB.bin", 8 * 1024 * 1024
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local-secret",  # not a secret: SeaweedFS runs without auth on loopback
    "AWS_DEFAULT_REGION": "us-east-1",
}


def big_sample() -> bytes:
    return random.Random(42).randbytes(BIG_SIZE)  # noqa: S311 - sample data, not security


def seed(endpoint_url: str) -> list[str]:
    """Upload samples/ (keys relative to it) and the generated big file; return the keys."""
    s3 = boto3.client("s3", endpoint_url=endpoint_url, **_boto_credentials())
    keys = []
    for path in sorted(p for p in SAMPLES.rglob("*") if p.is_file()):
        key = path.relative_to(SAMPLES).as_posix()
        s3.upload_file(str(path), BUCKET, key)
        keys.append(key)
    s3.put_object(Bucket=BUCKET, Key=BIG_KEY, Body=big_sample())
    keys.append(BIG_KEY)
    return keys


def _boto_credentials() -> dict:
    return {
        "aws_access_key_id": DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "region_name": DUMMY_CREDENTIALS["AWS_DEFAULT_REGION"],
    }


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()

    data_dir = ROOT / ".local" / "seaweed"
    shutil.rmtree(data_dir, ignore_errors=True)
    with SeaweedS3(BUCKET, data_dir=data_dir) as s3:
        keys = seed(s3.endpoint_url)
        env = {
            **os.environ,
            **DUMMY_CREDENTIALS,
            "FILES_BUCKET": BUCKET,
            "AWS_ENDPOINT_URL_S3": s3.endpoint_url,
            "HOST": "127.0.0.1",
            "PORT": str(args.port),
        }
        base = f"http://localhost:{args.port}"
        print(f"\nSeaweedFS S3 on {s3.endpoint_url} (bucket {BUCKET!r}, data in {data_dir})")
        print(f"Service on {base} - try:")
        print(f"  curl -i {base}/health")
        for key in keys:
            print(f"  curl -OJ {base}/files/{urllib.parse.quote(key)}")
        print(f"  curl -i -H 'Range: bytes=0-99' {base}/files/{BIG_KEY}")
        print(f"  curl -i {base}/files/no/such/file.txt     # 404 JSON")
        print(f"  sha256 of {BIG_KEY}: {hashlib.sha256(big_sample()).hexdigest()}")
        print("Ctrl-C stops both.\n", flush=True)
        server = subprocess.Popen(["make", "--no-print-directory", "serve"], cwd=ROOT, env=env)
        try:
            return server.wait()
        except KeyboardInterrupt:
            server.send_signal(signal.SIGTERM)  # make passes SIGTERM on to gunicorn: a graceful stop
            server.wait(timeout=60)
            return 0


if __name__ == "__main__":
    sys.exit(main())
