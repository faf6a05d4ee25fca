#!/usr/bin/env bash
# The machine's own prerequisites of `make test` (the one list; `make system-deps`, run by `make test` and .ci/run):
#   podman buildah debootstrap runc slirp4netns  tests/container build and run the image with podman (they fail,
#       never skip, without an engine); runc because crun 1.8 starts nothing on the dev/CI VMs
#       (devtools/containers.conf), slirp4netns for the tests' network mode (podman only recommends it);
#   nodejs npm  npm installs the pinned Node.js LTS and CDK CLI (package.json); jsii runs that node, not this one.
#   nginx  the real shared cache (proxy_cache) tests/integration/test_shared_cache.py runs on loopback in front of the
#       service, configured like the CDN (devtools/shared_cache.py); where an init system runs, Debian's package also
#       starts its own nginx on port 80, which no test uses.
# Missing ones are installed with apt-get as root or with passwordless sudo; otherwise this prints ONE line naming
# what to install and exits 1, before any test runs. Nothing missing: silent, exit 0.
set -euo pipefail

# tool (what must be runnable) = package (what provides it)
declare -A package_of=(
  [podman]=podman [buildah]=buildah [debootstrap]=debootstrap [runc]=runc [slirp4netns]=slirp4netns
  [node]=nodejs [npm]=npm
  [nginx]=nginx
)

missing_packages() {
  local tool
  for tool in podman buildah debootstrap runc slirp4netns node npm nginx; do
    # sbin is often not on a non-root user's PATH (Debian): a tool there is installed all the same
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || [ -x "/sbin/$tool" ] || printf '%s ' "${package_of[$tool]}"
  done
}

missing=$(missing_packages)
[ -z "$missing" ] && exit 0
missing=${missing% }

say() { echo "make system-deps: $*" >&2; }
if [ "$EUID" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo)
else
  say "missing $missing: install them as root (apt-get install -y $missing), or run again as root or with passwordless sudo"
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  say "missing $missing: install them with this system's package manager (only apt-get is automated here)"
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086  # $missing is a list of package names
"${as_root[@]}" apt-get update -qq && "${as_root[@]}" apt-get install -y -qq $missing >/dev/null
still=$(missing_packages)
if [ -n "$still" ]; then
  say "apt-get installed ${missing}, yet ${still% } still cannot be found on PATH"
  exit 1
fi
