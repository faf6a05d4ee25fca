"""Build the service image on a machine without a Docker engine or registry access (`make image`, tests/container).

The product is the repository's `Dockerfile`; this module only gets it built and run here:

* Engine: docker when a daemon answers, else podman (rootful, with `containers.conf` beside this file: runc,
  explicit ulimits; builds use `--isolation chroot`). No engine at all -> `NoEngineError` saying what to install.
* Base image: public registries are unreachable from the dev/CI machines, so a stand-in for
  `python:3.12-slim` is built once with debootstrap (Debian bookworm minbase + python3 + python3-venv, the host
  CA bundle copied in because outbound TLS is intercepted) and imported as `BASE_TAG`; it is reused while its
  recipe label matches. Caveat: its python is Debian's 3.11, the product base has 3.12 (the lock is universal
  for 3.11+). Set `CONTAINER_BASE_IMAGE` to build on another base instead (e.g. the real one, where reachable).

CLI (`make image`):  python -m devtools.images [--tag TAG] [--rebuild-base]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CONTAINERS_CONF = HERE / "containers.conf"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEBIAN_MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
BASE_TAG = "localhost/download-service-base:bookworm"
IMAGE_TAG = "localhost/download-service:test"
INSTALL_HINT = "run `make system-deps` (it installs podman and its helpers), or start a Docker engine"

# Everything that shapes the stand-in base; its hash is stored as a label so a changed recipe rebuilds it.
_PACKAGES = ("python3", "python3-venv", "ca-certificates")
_PRUNE = ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/info")
_CHANGES = ("ENV LANG=C.UTF-8", 'CMD ["python3"]')
_RECIPE = hashlib.sha256(repr(("bookworm", "minbase", _PACKAGES, _PRUNE, _CHANGES)).encode()).hexdigest()[:12]
RECIPE_LABEL = "org.example.download-service.base-recipe"


class NoEngineError(RuntimeError):
    """No usable container engine on this machine."""


@dataclass(frozen=True)
class Engine:
    name: str  # "podman" or "docker"
    binary: str

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.name == "podman":
            env["CONTAINERS_CONF"] = str(CONTAINERS_CONF)
        return env

    def cmd(self, *args: str) -> list[str]:
        return [self.binary, *args]

    def run(self, *args: str, timeout: float, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.cmd(*args), env=self.env, timeout=timeout, check=check, text=True, capture_output=True, **kwargs
        )

    def image_label(self, image: str, label: str) -> str | None:
        """The label's value, or None when the image (or the label) is absent."""
        result = self.run(
            "image", "inspect", "--format", f'{{{{index .Config.Labels "{label}"}}}}', image, timeout=60, check=False
        )
        if result.returncode != 0:
            return None
        value = result.stdout.strip()
        return None if value in ("", "<no value>") else value

    def build_args(self) -> list[str]:
        return ["--isolation", "chroot"] if self.name == "podman" else []


def _installed(tool: str) -> bool:
    return bool(shutil.which(tool)) or any(Path(d, tool).exists() for d in ("/usr/sbin", "/usr/bin", "/sbin"))


def find_engine() -> Engine:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "info"], capture_output=True, timeout=30, check=False).returncode == 0:
        return Engine("docker", docker)
    podman = shutil.which("podman")
    if podman:
        # podman alone is not enough here: containers.conf selects runc, the tests' network is slirp4netns.
        lacking = [tool for tool in ("runc", "slirp4netns") if not _installed(tool)]
        if lacking:
            raise NoEngineError(f"podman is installed but {' and '.join(lacking)} not; {INSTALL_HINT}")
        return Engine("podman", podman)
    reason = "a docker CLI is present but no daemon answers; " if docker else ""
    raise NoEngineError(f"no container engine: {reason}{INSTALL_HINT}")


def ensure_base_image(engine: Engine, *, rebuild: bool = False, log=print) -> str:
    """The base image to build on: CONTAINER_BASE_IMAGE if set, else the cached (or freshly built) stand-in."""
    override = os.environ.get("CONTAINER_BASE_IMAGE")
    if override:
        return override
    if not rebuild and engine.image_label(BASE_TAG, RECIPE_LABEL) == _RECIPE:
        return BASE_TAG
    if not shutil.which("debootstrap"):
        raise NoEngineError(f"debootstrap is needed to build the stand-in base image; {INSTALL_HINT}")
    if os.geteuid() != 0:
        raise NoEngineError("building the stand-in base image needs root (debootstrap), or set CONTAINER_BASE_IMAGE")
    started = time.monotonic()
    # A private directory of its own (mkdtemp); under /var/tmp, which is disk-backed, because /tmp may be a small
    # tmpfs and the root filesystem is a few hundred MiB.
    with tempfile.TemporaryDirectory(prefix="base-rootfs-", dir="/var/tmp") as tmp:  # nosec B108
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(_PACKAGES)}",
                "bookworm",
                str(rootfs),
                DEBIAN_MIRROR,
            ],
            check=True,
            capture_output=True,
            timeout=900,
        )
        for path in _PRUNE:
            shutil.rmtree(rootfs / path, ignore_errors=True)
        # Outbound TLS is intercepted here: Debian's pip and python trust /etc/ssl/certs/ca-certificates.crt,
        # so the host's bundle (which includes the intercepting CA) goes there. Nothing host-specific enters
        # the product Dockerfile.
        shutil.copyfile(HOST_CA_BUNDLE, rootfs / "etc/ssl/certs/ca-certificates.crt")
        changes = [arg for change in (*_CHANGES, f"LABEL {RECIPE_LABEL}={_RECIPE}") for arg in ("--change", change)]
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
        try:
            subprocess.run(
                engine.cmd("import", *changes, "-", BASE_TAG),
                stdin=tar.stdout,
                env=engine.env,
                check=True,
                capture_output=True,
                timeout=600,
            )
        finally:
            tar.stdout.close()
            tar.wait(timeout=60)
    log(f"built stand-in base {BASE_TAG} in {time.monotonic() - started:.0f} s")
    return BASE_TAG


def build_image(
    engine: Engine, *, tag: str = IMAGE_TAG, version: str = "test", rebuild_base: bool = False, log=print
) -> str:
    """Build the repository's Dockerfile as `tag`; returns the tag."""
    base = ensure_base_image(engine, rebuild=rebuild_base, log=log)
    started = time.monotonic()
    engine.run(
        "build",
        *engine.build_args(),
        "--build-arg",
        f"BASE_IMAGE={base}",
        "--build-arg",
        f"APP_VERSION={version}",
        "--tag",
        tag,
        "--file",
        str(REPO / "Dockerfile"),
        str(REPO),
        timeout=1200,
    )
    log(f"built {tag} on {base} in {time.monotonic() - started:.0f} s")
    return tag


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tag", default=IMAGE_TAG)
    parser.add_argument("--version", default=os.environ.get("APP_VERSION", "dev"))
    parser.add_argument("--rebuild-base", action="store_true", help="rebuild the stand-in base even if cached")
    args = parser.parse_args(argv)
    try:
        engine = find_engine()
        build_image(engine, tag=args.tag, version=args.version, rebuild_base=args.rebuild_base)
    except NoEngineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(f"error: {' '.join(error.cmd)} failed:\n{error.stdout or ''}{error.stderr or ''}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
