#!/bin/sh
# Fetch and unpack QEMU 10.0.x from Debian's trixie source package.
#
# usage: fetch-qemu.sh CACHE_DIR
# Prints the path of the unpacked, pristine source tree on stdout.  The
# download and the unpacked tree stay in CACHE_DIR and are reused: apt is
# asked only when the cache holds no 10.0.x tree yet (the point release N
# moves, so we fetch by suite and keep whichever we got).
set -eu
cache=$1
suite=${QEMU_SUITE:-trixie}
mkdir -p "$cache"
cd "$cache"

latest_tree() {
    ls -d qemu-10.0.*/ 2>/dev/null | sed 's,/$,,' | sort -V | tail -n 1
}

tree=$(latest_tree)
if [ -z "$tree" ] || [ ! -f "$tree/.unpacked" ]; then
    # showsrc lists every suite's qemu; bookworm's is 7.2.
    ver=$(apt-cache showsrc qemu 2>/dev/null | sed -n 's/^Version: //p' |
          grep -E '^([0-9]+:)?10\.0\.' | sort -V | tail -n 1)
    case "$ver" in
    *:10.0.*|10.0.*) ;;
    *)
        echo "qemu-vpmu: apt has no QEMU 10.0.x source for $suite (got" \
             "'${ver:-nothing}'); run scripts/install-deps.sh as root" >&2
        exit 1 ;;
    esac
    echo "qemu-vpmu: fetching QEMU $ver source ($suite) into $cache" >&2
    # apt's sandbox user cannot write into root's home; we do not need it.
    apt-get -q -o APT::Sandbox::User=root source --download-only \
        "qemu=$ver" >&2
    upstream=${ver#*:}
    upstream=${upstream%%+*}
    upstream=${upstream%%-*}
    rm -rf "qemu-$upstream"
    # dpkg-source applies Debian's series, which the +ds tarball needs
    # (skip-unpack-edk2-blobs, disable-pycotap).
    dpkg-source --no-check -x "qemu_${ver#*:}.dsc" "qemu-$upstream" >&2
    touch "qemu-$upstream/.unpacked"
    tree=qemu-$upstream
fi
echo "$cache/$tree"
