#!/usr/bin/env bash
# make setup: create .venv, install pinned Python packages, and the Debian toolchain.
# Idempotent: a second run checks two stamps and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
DEB_PACKAGES="gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm mosquitto"
STAMP=.venv/.snn-installed
WANT=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)

toolchain_missing() {
  ! command -v arm-none-eabi-gcc >/dev/null || ! command -v qemu-system-arm >/dev/null \
    || [ ! -d /usr/lib/arm-none-eabi/newlib ] || [ ! -x /usr/sbin/mosquitto ]
}

if toolchain_missing; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing $DEB_PACKAGES"
    apt-get install -y -q $DEB_PACKAGES >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q $DEB_PACKAGES >/dev/null; }
  else
    echo "setup: missing the ARM toolchain, QEMU or mosquitto; run: sudo apt-get install -y $DEB_PACKAGES" >&2
    exit 2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "setup: installing pinned Python packages (requirements.lock)"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.lock
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
  echo "$WANT" > "$STAMP"
fi
