/*
 * qemu-vpmu test guests: multiboot entry, then 64-bit long mode
 *
 * Copyright (c) 2026 The qemu-vpmu authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * QEMU's multiboot loader enters in 32-bit protected mode with paging off.
 * We identity-map the low 4 GiB with 2 MiB pages (static tables, no code
 * to get wrong), enable PAE and long mode, and call guest_start() in C.
 * Long mode matters on these hosts: a 32-bit paging-off guest died with a
 * KVM emulation failure on IRET (see shared NOTES.md).
 */

#define MB_MAGIC    0x1badb002
#define MB_FLAGS    0x0

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

    .section .data
    .align 4096
pml4:
    .quad pdpt + 0x3                /* present, writable */
    .fill 511, 8, 0
pdpt:
    .quad pd + 0x0000 + 0x3
    .quad pd + 0x1000 + 0x3
    .quad pd + 0x2000 + 0x3
    .quad pd + 0x3000 + 0x3
    .fill 508, 8, 0
pd:
    .set addr, 0
    .rept 2048
    .quad addr + 0x83               /* present, writable, 2 MiB page */
    .set addr, addr + 0x200000
    .endr

    .align 16
gdt:
    .quad 0                         /* null */
    .quad 0x00af9b000000ffff        /* 0x08: 64-bit code */
    .quad 0x00cf93000000ffff        /* 0x10: data */
    .quad 0x00cf9b000000ffff        /* 0x18: 32-bit code, for APs */
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .quad gdt

    .globl multiboot_info
multiboot_info:
    .quad 0

    /* The stack of the AP being started: set by smp_start_cpu(). */
    .globl ap_boot_stack
ap_boot_stack:
    .quad 0

    .section .bss
    .align 4096
stack_bottom:
    .skip 65536
stack_top:

    .section .text
    .code32
    .globl _start
_start:
    mov $stack_top, %esp
    mov %ebx, multiboot_info        /* physical = virtual: identity map */
    call enter_long_mode
    lgdt gdt_desc
    ljmp $0x08, $start64

/* Paging (the static identity map), PAE and long mode; still 32-bit code. */
enter_long_mode:
    mov $pml4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $0x20, %eax                  /* CR4.PAE */
    mov %eax, %cr4
    mov $0xc0000080, %ecx           /* EFER */
    rdmsr
    or $0x100, %eax                 /* EFER.LME */
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax            /* CR0.PG | CR0.PE */
    mov %eax, %cr0
    ret

    .code64
start64:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov $stack_top, %rsp
    call guest_start
1:  hlt
    jmp 1b

/*
 * Application processors.  A STARTUP IPI starts an AP in real mode at
 * vector << 12, so libguest copies ap_trampoline..ap_trampoline_end to
 * AP_TRAMPOLINE_BASE, below 1 MiB.  The copy only switches to protected
 * mode with the BSP's GDT (its 32-bit code segment 0x18) and jumps to
 * ap_start32 here, at its link address: everything after that is
 * shared with the BSP (page tables, GDT, then the IDT in C).
 */
#define AP_TRAMPOLINE_BASE 0x8000
#define TRAMP(sym) (sym - ap_trampoline + AP_TRAMPOLINE_BASE)

    .code16
    .globl ap_trampoline, ap_trampoline_end
ap_trampoline:
    cli
    xor %ax, %ax
    mov %ax, %ds
    lgdtl TRAMP(ap_gdt_desc)
    mov %cr0, %eax
    or $1, %eax                     /* CR0.PE */
    mov %eax, %cr0
    ljmpl $0x18, $ap_start32
    .align 4
ap_gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt
ap_trampoline_end:

    .code32
ap_start32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov ap_boot_stack, %esp         /* below 4 GiB: .bss of this image */
    call enter_long_mode
    ljmp $0x08, $ap_start64

    .code64
ap_start64:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov ap_boot_stack(%rip), %rsp
    call ap_start
1:  cli
    hlt
    jmp 1b

/*
 * Exception entry: push a dummy error code where the CPU pushes none, then
 * the vector, save the scratch registers and call exception_handler(frame).
 */
.macro VEC n, has_err
    .globl vec\n
vec\n:
    .if !\has_err
    push $0
    .endif
    push $\n
    jmp vec_common
.endm

    VEC 0, 0
    VEC 1, 0
    VEC 2, 0
    VEC 3, 0
    VEC 4, 0
    VEC 5, 0
    VEC 6, 0
    VEC 7, 0
    VEC 8, 1
    VEC 10, 1
    VEC 11, 1
    VEC 12, 1
    VEC 13, 1
    VEC 14, 1
    VEC 16, 0
    VEC 17, 1
    VEC 18, 0
    VEC 19, 0
    VEC 32, 0
    VEC 33, 0

vec_common:
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    mov %rsp, %rdi
    call exception_handler
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
    add $16, %rsp                   /* vector and error code */
    iretq

    .section .note.GNU-stack, "", @progbits
