#!/bin/sh
# Install the Debian packages the build needs, when they are missing.
#
# Runs as root on Debian 12 (bookworm).  meson >= 1.5 and python3-pycotap
# come from bookworm-backports; the QEMU source comes from trixie's deb-src.
# Without root we only say what is missing, so a developer can install it.
set -eu

PKGS="gcc make patch dpkg-dev pkg-config ninja-build flex bison
      python3 python3-venv libglib2.0-dev libpixman-1-dev libfdt-dev
      libpfm4-dev seabios qemu-system-data clang libclang-rt-14-dev
      binutils libcapstone-dev"
BPO_PKGS="meson python3-pycotap"
SRCLIST=/etc/apt/sources.list.d/qemu-vpmu.sources

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
bpo_missing=""
for p in $BPO_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        bpo_missing="$bpo_missing $p"
done
# bookworm's own meson is 1.0; QEMU 10 needs >= 1.5.
if ! dpkg --compare-versions \
        "$(dpkg-query -W -f='${Version}' meson 2>/dev/null || echo 0)" ge 1.5; then
    case "$bpo_missing" in *meson*) ;; *) bpo_missing="$bpo_missing meson" ;; esac
fi
need_sources=0
[ -f "$SRCLIST" ] || need_sources=1

if [ -z "$missing$bpo_missing" ] && [ $need_sources = 0 ]; then
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "qemu-vpmu: missing build dependencies:$missing$bpo_missing" >&2
    [ $need_sources = 0 ] || echo "qemu-vpmu: and the apt source list $SRCLIST" >&2
    echo "qemu-vpmu: run 'sudo $0' (or 'sudo make deps') once" >&2
    exit 1
fi

if [ $need_sources = 1 ]; then
    cat > "$SRCLIST" <<SRC
# Added by qemu-vpmu's scripts/install-deps.sh
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

# QEMU 10.0.x source for the overlay build (apt-get source qemu/trixie)
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
if [ -n "$missing" ]; then
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi
if [ -n "$bpo_missing" ]; then
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends -t bookworm-backports $bpo_missing
fi
