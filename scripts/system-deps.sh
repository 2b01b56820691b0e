#!/usr/bin/env bash
# Installs the system packages the tests use: Debian's PostgreSQL server binaries.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null || command -v initdb > /dev/null; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "PostgreSQL server binaries are missing; install Debian's postgresql package (apt-get install -y postgresql)" >&2
  exit 1
fi
echo "installing Debian's postgresql package for the PostgreSQL tests" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql > /dev/null
