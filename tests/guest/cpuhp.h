/*
 * qemu-vpmu test guests: QEMU's ACPI CPU hotplug registers
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The guests play OSPM on them (docs/specs/acpi_cpu_hotplug.rst in QEMU).
 * The block is at 0xaf00 on PIIX4 PM (pc), 0x0cd8 on ICH9 LPC (q35).
 */
#ifndef GUEST_CPUHP_H
#define GUEST_CPUHP_H

#define CPUHP_SELECTOR  0x0     /* write, dword */
#define CPUHP_FLAGS     0x4     /* read: status; write: control (byte) */
#define CPUHP_CMD       0x5     /* write, byte */
#define CPUHP_DATA      0x8     /* dword */
#define CPUHP_ENABLED   (1u << 0)
#define CPUHP_INSERT    (1u << 1)
#define CPUHP_REMOVE    (1u << 2)
#define CPUHP_CLEAR_INSERT (1u << 1)
#define CPUHP_CLEAR_REMOVE (1u << 2)
#define CPUHP_EJECT     (1u << 3)
#define CPUHP_CMD_GET_NEXT   0
#define CPUHP_CMD_GET_CPU_ID 3

#endif
