"""`make system-deps` (devtools/system-deps.sh) decides between installing and one line saying what to install, and
the Makefile picks podman for the CDK CLI's image builds where docker is absent. Each runs in a subprocess with a
PATH of stub tools, so nothing is installed and the machine's own tools do not count."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "devtools" / "system-deps.sh"
TOOLS = ("podman", "buildah", "debootstrap", "runc", "slirp4netns", "node", "npm", "nginx")
PACKAGES = {"podman", "buildah", "debootstrap", "runc", "slirp4netns", "nodejs", "npm", "nginx"}
NOBODY = 65534
#: A stub apt-get: logs its arguments, and `install` puts an executable for each package on PATH (nodejs -> node).
APT_GET = """#!/bin/sh
echo "$*" >> "${0%/*}/apt-get.log"
[ "$1" = install ] || exit 0
for package in "$@"; do
  case "$package" in -*|install) continue ;; nodejs) package=node ;; esac
  printf '#!/bin/sh\\n' > "${0%/*}/$package" && /bin/chmod +x "${0%/*}/$package"
done
"""
#: `sudo -n true` succeeds: passwordless.
SUDO = """#!/bin/sh
[ "$1" = -n ] && shift
"$@"
"""


@pytest.fixture
def stubs() -> Iterator[Path]:
    """An empty directory to be the whole PATH; owned by the user the script runs as (nobody, when tests run as
    root, so that the script sees a user without root)."""
    with tempfile.TemporaryDirectory(prefix="system-deps-") as folder:
        Path(folder).chmod(0o755)  # the copy of the script lives here, beside the PATH folder
        path = Path(folder) / "bin"
        path.mkdir(mode=0o755)
        if os.geteuid() == 0:
            os.chown(path, NOBODY, NOBODY)
        yield path


def stub(folder: Path, name: str, text: str = "#!/bin/sh\n") -> None:
    (folder / name).write_text(text)
    (folder / name).chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)


def run_script(path: Path) -> subprocess.CompletedProcess:
    """The script as nobody (when tests run as root), from a copy beside the stubs: the checkout itself may sit
    under a directory nobody cannot enter (a clone in root's home, mode 0700)."""
    as_user = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if os.geteuid() == 0 else {}
    script = path.parent / f"{path.name}.sh"
    shutil.copyfile(SCRIPT, script)
    script.chmod(0o755)
    return subprocess.run(
        ["/bin/bash", str(script)],
        env={"PATH": str(path), "HOME": str(path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **as_user,
    )


def test_nothing_missing_is_silent(stubs):
    for tool in TOOLS:
        stub(stubs, tool)
    stub(stubs, "apt-get", APT_GET)
    done = run_script(stubs)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert not (stubs / "apt-get.log").exists()


def test_missing_tools_without_root_or_sudo_stop_with_one_line_naming_them(stubs):
    stub(stubs, "apt-get", APT_GET)  # present, but a user without root must not try it
    done = run_script(stubs)
    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("make system-deps: missing ")
    named = set(line.removeprefix("make system-deps: missing ").split(":")[0].split())
    # podman and node are never in sbin, where the script also looks (a user's PATH often lacks it); nginx is
    # (Debian's /usr/sbin/nginx), so on a machine that has it, it is not named
    assert {"podman", "nodejs"} <= named <= PACKAGES
    assert ("nginx" in named) is not (Path("/usr/sbin/nginx").exists() or Path("/sbin/nginx").exists())
    assert "apt-get install -y podman" in line
    assert not (stubs / "apt-get.log").exists()


def test_missing_tools_with_passwordless_sudo_are_installed_with_apt_get(stubs):
    stub(stubs, "apt-get", APT_GET)
    stub(stubs, "sudo", SUDO)
    done = run_script(stubs)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    update, install = (stubs / "apt-get.log").read_text().splitlines()
    assert update == "update -qq"
    assert install.startswith("install -y -qq ")
    installed = set(install.removeprefix("install -y -qq ").split())
    assert {"podman", "nodejs"} <= installed <= PACKAGES
    assert ("nginx" in installed) is not (Path("/usr/sbin/nginx").exists() or Path("/sbin/nginx").exists())


def make_variable(path: Path, name: str, **env: str) -> str:
    """The value `make` gives `name` after reading the Makefile, with PATH = `path` (make itself by full path)."""
    done = subprocess.run(
        [shutil.which("make"), "-s", "-C", str(REPO), "--eval", f"show: ; @echo '[$({name})]'", "show"],
        env={"PATH": str(path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("engines", "env", "expected"),
    [
        (("podman",), {}, "[podman]"),  # podman only: the CDK CLI must use it
        (("docker", "podman"), {}, "[]"),  # a docker whose engine answers: the CDK default
        (("docker-without-engine", "podman"), {}, "[podman]"),  # a docker CLI alone cannot build
        ((), {}, "[]"),  # neither: the CDK CLI says docker is missing
        (("podman",), {"CDK_DOCKER": "nerdctl"}, "[nerdctl]"),  # the caller's choice wins
    ],
)
def test_cdk_docker_is_podman_only_where_docker_cannot_build(stubs, engines, env, expected):
    for engine in engines:
        if engine == "docker-without-engine":
            stub(stubs, "docker", "#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
        else:
            stub(stubs, engine)
    assert make_variable(stubs, "CDK_DOCKER", **env) == expected
