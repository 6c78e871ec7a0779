#!/usr/bin/env bash
# Installs Debian's Docker engine (no daemon is started) for the container tests.
set -euo pipefail
if ! command -v dockerd >/dev/null 2>&1 || ! command -v busybox >/dev/null 2>&1; then
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io busybox-static >/dev/null
fi
