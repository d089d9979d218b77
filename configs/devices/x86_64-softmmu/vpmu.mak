# Devices of the minimal KVM-only x86_64 emulator that qemu-vpmu builds:
# the pc and q35 machines, a serial port for guest output, and
# isa-debug-exit so test guests can end QEMU with a status.
CONFIG_I440FX=y
CONFIG_Q35=y
CONFIG_ISA_DEBUG=y
CONFIG_SERIAL_ISA=y
