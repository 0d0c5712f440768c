#!/usr/bin/env bash
# Installs the system libraries ckpt builds against (Debian 12). Idempotent; needs root or sudo.
set -euo pipefail
packages=(pkg-config libzstd-dev libxxhash-dev libsqlite3-dev libopenblas-dev libkissfft-dev
          ocl-icd-opencl-dev opencl-headers pocl-opencl-icd libclblast-dev
          # the browser test of `ckpt report` (StatsVerbTests): a headless browser and a font
          chromium fonts-dejavu-core)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v swift >/dev/null || { echo "swift not found: install the Swift 6 toolchain (swift.org) first" >&2; exit 1; }
