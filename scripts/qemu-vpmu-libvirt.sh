#!/bin/sh
# qemu-vpmu under libvirt: add vPMU accelerator properties to -accel kvm.
#
# libvirt passes "-accel kvm" itself, and QEMU uses the first -accel that
# works, so an "-accel kvm,vpmu-..." given through <qemu:commandline> is
# silently ignored (and -global does not reach accelerators).  Point the
# domain's <emulator> at this script and set the properties in the domain
# XML with
#
#   <qemu:commandline>
#     <qemu:env name='QEMU_VPMU_ACCEL' value='vpmu-release-ms=500'/>
#   </qemu:commandline>
#
# It runs QEMU_VPMU_BINARY, by default the emulator this tree builds
# (build/qemu-system-x86_64 next to this scripts/ directory), with
# "-accel kvm" rewritten to "-accel kvm,$QEMU_VPMU_ACCEL".  Every other
# argument is passed through unchanged.
set -eu

here=$(dirname "$(readlink -f "$0")")
qemu=${QEMU_VPMU_BINARY:-$here/../build/qemu-system-x86_64}
accel=${QEMU_VPMU_ACCEL:-}

if [ -n "$accel" ]; then
    prev=
    for arg; do
        shift
        if [ "$prev" = -accel ] && [ "$arg" = kvm ]; then
            arg="kvm,$accel"
        fi
        set -- "$@" "$arg"
        prev=$arg
    done
fi
exec "$qemu" "$@"
