"""`make pin-base`: ask the registry which digest the Dockerfile's base tag points at now, and pin that.

    python -m devtools.pin_base [--dockerfile Dockerfile] [--check]

The Dockerfile names its base on one literal line (the form Dependabot also reads and updates):

    FROM public.ecr.aws/docker/library/python:3.12-slim@sha256:<64 hex> AS pinned-base

The tag's current digest comes from whichever registry client is installed: `crane digest`, `skopeo inspect --raw`
(the digest of a manifest is the sha256 of its exact bytes) or `docker buildx imagetools inspect`. All of them need
the registry, which the dev/CI machines here cannot reach: run it where public.ecr.aws answers. For a multi-platform
tag each returns the index digest, so every platform keeps building from the same pin. `--check` changes nothing and
exits 1 when the pin is stale (a scheduled job can run it).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parent.parent / "Dockerfile"
STAGE = "pinned-base"
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_PIN = re.compile(
    rf"^(?P<head>FROM\s+(?P<ref>\S+:[\w][\w.-]*))@(?P<digest>sha256:[0-9a-f]{{64}})(?P<tail>\s+AS\s+{STAGE})[ \t]*$",
    re.MULTILINE | re.IGNORECASE,
)


class PinError(RuntimeError):
    """The Dockerfile or the registry answer is not what a pin needs; the message says which."""


@dataclass(frozen=True)
class Pin:
    ref: str  # registry/repository:tag
    digest: str


def read_pin(text: str) -> Pin:
    """The one `FROM <ref>:<tag>@sha256:… AS pinned-base` line; zero or several are errors, not guesses."""
    found = list(_PIN.finditer(text))
    if len(found) != 1:
        raise PinError(f"expected exactly one `FROM <image>:<tag>@sha256:<digest> AS {STAGE}` line, found {len(found)}")
    return Pin(ref=found[0]["ref"], digest=found[0]["digest"])


def rewrite(text: str, digest: str) -> str:
    """`text` with the pinned line's digest replaced by `digest`; nothing else changes."""
    if not DIGEST.fullmatch(digest):
        raise PinError(f"not a sha256 digest: {digest!r}")
    read_pin(text)  # exactly one line to rewrite
    return _PIN.sub(lambda m: f"{m['head']}@{digest}{m['tail']}", text)


# --- the registry clients -------------------------------------------------------------------------------------------

Run = Callable[[list[str]], bytes]


def _run(argv: list[str]) -> bytes:
    return subprocess.run(argv, capture_output=True, check=True, timeout=120).stdout


@dataclass(frozen=True)
class Client:
    tool: str
    argv: Callable[[str], list[str]]
    digest: Callable[[bytes], str]


def _text(out: bytes) -> str:
    return out.decode().strip()


def _sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


CLIENTS = (
    Client("crane", lambda ref: ["crane", "digest", ref], _text),
    # --raw prints the manifest exactly as the registry serves it, and a digest is the sha256 of those bytes.
    Client("skopeo", lambda ref: ["skopeo", "inspect", "--raw", f"docker://{ref}"], _sha256),
    Client(
        "docker",
        lambda ref: ["docker", "buildx", "imagetools", "inspect", ref, "--format", "{{.Manifest.Digest}}"],
        _text,
    ),
)


def resolve(ref: str, *, which: Callable[[str], str | None] = shutil.which, run: Run = _run) -> tuple[str, str]:
    """(tool, digest) from the first installed client; its answer must be a digest, or nothing is rewritten."""
    for client in CLIENTS:
        if which(client.tool):
            try:
                digest = client.digest(run(client.argv(ref)))
            except subprocess.CalledProcessError as error:
                lines = (error.stderr or b"").decode(errors="replace").splitlines()
                detail = " / ".join(line.strip() for line in lines if line.strip())
                raise PinError(f"{client.tool} could not resolve {ref}: {detail[:300] or 'no output'}") from None
            if not DIGEST.fullmatch(digest):
                raise PinError(f"{client.tool} answered {digest[:80]!r} for {ref}, not a sha256 digest")
            return client.tool, digest
    raise PinError(f"no registry client: install one of {', '.join(c.tool for c in CLIENTS)}")


def main(argv: list[str] | None = None, *, resolver=resolve) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.pin_base", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dockerfile", type=Path, default=DOCKERFILE)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if the pin is stale")
    args = parser.parse_args(argv)
    try:
        text = args.dockerfile.read_text(encoding="utf-8")
        pin = read_pin(text)
        tool, current = resolver(pin.ref)
    except PinError as error:
        print(f"pin-base: {error}", file=sys.stderr)
        return 2
    if current == pin.digest:
        print(f"pin-base: {pin.ref} is pinned to its current digest {current} ({tool})")
        return 0
    if args.check:
        print(f"pin-base: STALE {pin.ref}: pinned {pin.digest}, the registry serves {current} ({tool})")
        return 1
    args.dockerfile.write_text(rewrite(text, current), encoding="utf-8")
    print(f"pin-base: {pin.ref}: {pin.digest} -> {current} ({tool}); review and commit {args.dockerfile.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
