"""Test-wide setup: dummy AWS credentials so nothing can ever reach a real account; the pinned Node.js first."""

import os
from pathlib import Path

for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
    os.environ.pop(_name, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)

# What make puts first on PATH (the Makefile's `node`): jsii runs the Node.js LTS package.json pins, also when
# pytest is started directly.
_NODE_BIN = Path(__file__).resolve().parent.parent / "node_modules" / ".bin"
if _NODE_BIN.is_dir() and str(_NODE_BIN) not in os.environ["PATH"].split(os.pathsep):
    os.environ["PATH"] = f"{_NODE_BIN}{os.pathsep}{os.environ['PATH']}"
