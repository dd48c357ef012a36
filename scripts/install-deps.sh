#!/bin/sh
# Installs the Debian packages basalt needs to build and test, only those missing.
set -eu
PKGS="build-essential cmake pkg-config clang-14 clang-format libclang-rt-14-dev \
libevent-dev libssl-dev libxxhash-dev libcmocka-dev \
libmemcached-dev libmemcached-tools memcached python3 python3-pymemcache nutcracker cppcheck openssl"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# The memjs test installs memjs with npm. Debian's nodejs and npm packages provide
# both; a machine with node from elsewhere (NodeSource bundles npm) needs neither.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    missing="$missing nodejs npm"
fi
if [ -z "$missing" ]; then
    exit 0
fi
echo "install-deps: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
