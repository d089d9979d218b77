/*
 * qemu-vpmu test guests: what boot.S and guest.ld define for libguest.c
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef GUEST_BOOT_H
#define GUEST_BOOT_H

#include <stdint.h>

/* The multiboot information's address, saved by boot.S's _start. */
extern uint64_t multiboot_info;

/* The AP start-up code (copied below 1 MiB) and its stack pointer. */
extern char ap_trampoline[], ap_trampoline_end[];
extern uint64_t ap_boot_stack;
/* libguest.c's, which boot.S's ap_start64 calls on the AP's own stack. */
void ap_start(void);

/* ASM_TRY's table (guest.ld): faulting instruction, where to resume. */
struct ex_entry {
    uint64_t insn, fixup;
};
extern struct ex_entry __ex_table_start[], __ex_table_end[];

/* boot.S's interrupt entry stubs, one per vector libguest.c sets up. */
#define BOOT_VECTOR(n) void vec##n(void)
BOOT_VECTOR(0); BOOT_VECTOR(1); BOOT_VECTOR(2); BOOT_VECTOR(3);
BOOT_VECTOR(4); BOOT_VECTOR(5); BOOT_VECTOR(6); BOOT_VECTOR(7);
BOOT_VECTOR(8); BOOT_VECTOR(10); BOOT_VECTOR(11); BOOT_VECTOR(12);
BOOT_VECTOR(13); BOOT_VECTOR(14); BOOT_VECTOR(16); BOOT_VECTOR(17);
BOOT_VECTOR(18); BOOT_VECTOR(19); BOOT_VECTOR(32); BOOT_VECTOR(33);
#undef BOOT_VECTOR

#endif
