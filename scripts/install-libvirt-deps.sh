#!/bin/sh
# Install the Debian packages the libvirt test needs, when they are missing.
#
# tests/libvirt/vpmu-libvirt-test.py runs its own libvirtd (make check,
# make check-libvirt); it needs the daemon with its QEMU driver and virsh,
# nothing else.  These three packages, without their recommendations (a
# distribution QEMU, lvm2, ...), pull in libvirt0 and a few libraries.  We
# do not install libvirt-daemon-system: it adds users, a default network
# and init scripts that start a system daemon, none of which the test uses.
# Debian 12's own libvirt (9.0) is used, not bookworm-backports'.
set -eu

PKGS="libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
[ -n "$missing" ] || exit 0

if [ "$(id -u)" != 0 ]; then
    echo "qemu-vpmu: the libvirt test needs:$missing" >&2
    echo "qemu-vpmu: run 'sudo $0' once" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
