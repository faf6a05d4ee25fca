"""`make pin-base` (devtools/pin_base.py): finding the pin, rewriting only its digest, and asking whichever registry
client is installed. No registry is contacted: the clients are fakes answering as the real ones do."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest

from devtools import pin_base

OLD = "sha256:" + "1" * 64
NEW = "sha256:" + "2" * 64
REF = "public.ecr.aws/docker/library/python:3.12-slim"
DOCKERFILE = f"""# a comment naming {OLD} stays as it is
ARG BASE_IMAGE
FROM {REF}@{OLD} AS pinned-base

FROM ${{BASE_IMAGE:-pinned-base}} AS builder
RUN true
FROM ${{BASE_IMAGE:-pinned-base}}
"""


def test_the_pin_is_the_one_literal_from_line():
    assert pin_base.read_pin(DOCKERFILE) == pin_base.Pin(ref=REF, digest=OLD)


@pytest.mark.parametrize(
    "text",
    [
        DOCKERFILE.replace(f"@{OLD}", ""),  # a tag alone is not a pin
        DOCKERFILE + f"FROM {REF}@{NEW} AS pinned-base\n",  # two pins: which one?
        DOCKERFILE.replace("AS pinned-base", "AS base"),
    ],
    ids=["no-digest", "two-pins", "other-stage-name"],
)
def test_anything_but_exactly_one_pin_is_an_error(text):
    with pytest.raises(pin_base.PinError, match="exactly one"):
        pin_base.read_pin(text)


def test_rewrite_changes_the_digest_of_the_pin_line_only():
    rewritten = pin_base.rewrite(DOCKERFILE, NEW)
    assert pin_base.read_pin(rewritten) == pin_base.Pin(ref=REF, digest=NEW)
    assert rewritten.replace(f"{REF}@{NEW}", f"{REF}@{OLD}") == DOCKERFILE  # nothing else moved, comment included


def test_rewrite_refuses_what_is_not_a_digest():
    with pytest.raises(pin_base.PinError, match="not a sha256 digest"):
        pin_base.rewrite(DOCKERFILE, "sha256:abc")


def test_the_repository_dockerfile_builds_both_stages_on_the_pin():
    text = pin_base.DOCKERFILE.read_text()
    pin = pin_base.read_pin(text)
    assert pin.ref == REF
    stages = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert stages == [f"{REF}@{pin.digest}", "${BASE_IMAGE:-pinned-base}", "${BASE_IMAGE:-pinned-base}"]
    assert "ARG BASE_IMAGE\n" in text  # declared before the first FROM, without a default: the override


class FakeClients:
    """`which` and `run` for a machine with the given tools; records the command lines it ran."""

    def __init__(self, installed: set[str], outputs: dict[str, bytes]) -> None:
        self.installed, self.outputs, self.ran = installed, outputs, []

    def which(self, tool: str) -> str | None:
        return f"/usr/bin/{tool}" if tool in self.installed else None

    def run(self, argv: list[str]) -> bytes:
        self.ran.append(argv)
        return self.outputs[argv[0]]


def test_crane_is_asked_first_when_installed():
    fake = FakeClients({"crane", "docker"}, {"crane": f"{NEW}\n".encode()})
    assert pin_base.resolve(REF, which=fake.which, run=fake.run) == ("crane", NEW)
    assert fake.ran == [["crane", "digest", REF]]


def test_skopeo_digest_is_the_sha256_of_the_raw_manifest():
    manifest = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
    fake = FakeClients({"skopeo"}, {"skopeo": manifest})
    assert pin_base.resolve(REF, which=fake.which, run=fake.run) == (
        "skopeo",
        f"sha256:{hashlib.sha256(manifest).hexdigest()}",
    )
    assert fake.ran == [["skopeo", "inspect", "--raw", f"docker://{REF}"]]


def test_docker_buildx_is_the_last_resort():
    fake = FakeClients({"docker"}, {"docker": f"{NEW}\n".encode()})
    assert pin_base.resolve(REF, which=fake.which, run=fake.run) == ("docker", NEW)
    assert fake.ran[0][:4] == ["docker", "buildx", "imagetools", "inspect"]


def test_no_client_or_a_strange_answer_rewrites_nothing():
    with pytest.raises(pin_base.PinError, match="install one of crane, skopeo, docker"):
        pin_base.resolve(REF, which=lambda tool: None)
    fake = FakeClients({"crane"}, {"crane": b"UNAUTHORIZED: authentication required\n"})
    with pytest.raises(pin_base.PinError, match="not a sha256 digest"):
        pin_base.resolve(REF, which=fake.which, run=fake.run)


def test_a_failing_client_is_reported_with_its_message():
    def refuse(argv):
        raise subprocess.CalledProcessError(1, argv, stderr=b"Error: manifest unknown\n\nrequested tag not found\n")

    with pytest.raises(pin_base.PinError, match=r"crane could not resolve .*: Error: manifest unknown / requested tag"):
        pin_base.resolve(REF, which=lambda tool: tool, run=refuse)


@pytest.mark.parametrize("registry", [OLD, NEW], ids=["current", "moved"])
def test_main_pins_what_the_registry_serves(tmp_path: Path, capsys, registry):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(DOCKERFILE)
    assert pin_base.main(["--dockerfile", str(dockerfile)], resolver=lambda ref: ("crane", registry)) == 0
    assert dockerfile.read_text() == pin_base.rewrite(DOCKERFILE, registry)
    assert REF in capsys.readouterr().out


def test_check_reports_a_stale_pin_without_touching_the_file(tmp_path: Path, capsys):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(DOCKERFILE)
    assert pin_base.main(["--dockerfile", str(dockerfile), "--check"], resolver=lambda ref: ("crane", NEW)) == 1
    assert dockerfile.read_text() == DOCKERFILE
    assert f"STALE {REF}: pinned {OLD}, the registry serves {NEW}" in capsys.readouterr().out
