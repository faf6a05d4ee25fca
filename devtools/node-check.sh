#!/usr/bin/env bash
# `make node`: the node that make runs (node_modules/.bin/node first on its PATH: package.json pins a Node.js LTS
# for Linux x64 and arm64) must be Node.js MIN or newer. Otherwise ONE line on stderr, exit 1. Usage: node-check.sh MIN
set -uo pipefail
min=${1:?usage: node-check.sh MIN_MAJOR}
version=$(node --version 2>/dev/null)
major=${version#v}
major=${major%%.*}
if ! [[ $major =~ ^[0-9]+$ ]] || ((major < min)); then
  echo "make: needs Node.js $min LTS or newer, found ${version:-none} ($(command -v node || echo 'no node on PATH')):" \
    "npm ci installs the pinned one on Linux x64/arm64 (make cdk-deps); elsewhere install Node.js $min+ first" >&2
  exit 1
fi
