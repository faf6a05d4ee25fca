"""The local stack: a real S3 (SeaweedFS) with one bucket, and the production gunicorn command serving from it.

One recipe for `make run`, `make load`, `make bench` and the integration, smoke, container and log-metric tests:

    with LocalStack("my-bucket") as stack:
        stack.client().put_object(Bucket=stack.bucket, Key="a.txt", Body=b"a")
        with stack.server(LOG_LEVEL="warning") as server:   # a GunicornServer, started on a free loopback port
            ...

`service_env(**extra)` is the service's whole configuration for this S3 (for a container's `--env` too); every
server started here gets it. Servers still running when the stack stops are killed, then SeaweedFS is stopped.
`LocalStack(bucket, https=True)` serves S3 over TLS as well: `client(https=True)` and `server(s3_https=True)` use
it, verifying SeaweedFS's certificate against the stack's own CA (AWS_CA_BUNDLE for the service).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import boto3

from devtools.gunicorn_server import GunicornServer
from devtools.seaweed import SeaweedS3

#: The one set of credentials every local S3 client and server uses. Not secrets: SeaweedFS runs without auth on
#: loopback (devtools/seaweed.py) and accepts any signature; boto3 only needs something to sign with.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class LocalStack:
    """SeaweedFS serving `bucket`, plus GunicornServers configured for it. Files live under `root` (a temporary
    folder, removed at stop, unless given): SeaweedFS's data in `root/seaweed`, each server's logs in `root/server-N`.
    `service_defaults` are environment variables every server of this stack gets (e.g. APP_VERSION)."""

    def __init__(
        self, bucket: str, root: str | Path | None = None, *, https: bool = False, **service_defaults: str
    ) -> None:
        self.bucket = bucket
        self._own_root = root is None
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="local-stack-"))
        credentials = (DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"], DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
        self.s3 = SeaweedS3(
            bucket, data_dir=self.root / "seaweed", https=https, credentials=credentials if https else None
        )
        self._defaults = service_defaults
        self._servers: list[GunicornServer] = []

    @property
    def endpoint_url(self) -> str:
        return self.s3.endpoint_url

    def client(self, *, https: bool = False, **client_args):
        """A boto3 S3 client of this SeaweedFS (extra arguments, e.g. `config=`, go to boto3.client); over TLS with
        `https=True`, verifying the server against the stack's CA."""
        if https:
            client_args = {"verify": self.s3.tls.ca_file, **client_args}
        return boto3.client(
            "s3",
            endpoint_url=self.s3.https_endpoint_url if https else self.endpoint_url,
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=DUMMY_CREDENTIALS["AWS_DEFAULT_REGION"],
            **client_args,
        )

    def service_env(self, *, s3_https: bool = False, **extra: str) -> dict[str, str]:
        """The service's environment for this S3; `extra` overrides (e.g. AWS_ENDPOINT_URL_S3 through a proxy).
        `s3_https=True`: S3 over TLS, botocore verifying it against the stack's CA (AWS_CA_BUNDLE)."""
        tls = {"AWS_CA_BUNDLE": self.s3.tls.ca_file} if s3_https else {}
        return {
            **DUMMY_CREDENTIALS,
            "AWS_EC2_METADATA_DISABLED": "true",  # never ask an instance metadata service for credentials
            "FILES_BUCKET": self.bucket,
            "AWS_ENDPOINT_URL_S3": self.s3.https_endpoint_url if s3_https else self.endpoint_url,
            **tls,
            **self._defaults,
            **extra,
        }

    def server(
        self, *, port: int | None = None, capture: bool = True, s3_https: bool = False, **extra: str
    ) -> GunicornServer:
        """A GunicornServer (not started yet: `with` or start()) with service_env(s3_https, **extra); see
        GunicornServer."""
        log_dir = self.root / f"server-{len(self._servers)}"
        env = self.service_env(s3_https=s3_https, **extra)
        server = GunicornServer(env, log_dir=log_dir, port=port, capture=capture)
        self._servers.append(server)
        return server

    def start(self) -> LocalStack:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self.s3.start()
        except BaseException:
            self.stop()  # `with` does not call __exit__ when __enter__ raises: clean up the folder here
            raise
        return self

    def stop(self) -> None:
        try:
            for server in self._servers:
                server.kill()
        finally:
            self.s3.stop()
            if self._own_root:
                shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
