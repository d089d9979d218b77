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
 *
 * Every mapping is user-accessible (U bit), so that run_user() can run
 * the image's own code and data at CPL 3.  Nothing above 4 GiB is
 * mapped: a test that wants a #PF touches 4 GiB or more.
 */

#define MB_MAGIC    0x1badb002
#define MB_FLAGS    0x0

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

    .section .data
    .align 4096
pml4:
    .quad pdpt + 0x7                /* present, writable, user */
    .fill 511, 8, 0
pdpt:
    .quad pd + 0x0000 + 0x7
    .quad pd + 0x1000 + 0x7
    .quad pd + 0x2000 + 0x7
    .quad pd + 0x3000 + 0x7
    .fill 508, 8, 0
pd:
    .set addr, 0
    .rept 2048
    .quad addr + 0x87               /* present, writable, user, 2 MiB */
    .set addr, addr + 0x200000
    .endr

    .align 16
gdt:
    .quad 0                         /* null */
    .quad 0x00af9b000000ffff        /* 0x08: 64-bit code */
    .quad 0x00cf93000000ffff        /* 0x10: data */
    .quad 0x00cf9b000000ffff        /* 0x18: 32-bit code, for APs */
    /*
     * Ring 3 (libguest.h's USER_DS, USER_CS).  Data below code, in the
     * order SYSRET would want them too (STAR[63:48] = 0x18).
     */
    .quad 0x00cff3000000ffff        /* 0x20: data, DPL 3 */
    .quad 0x00affb000000ffff        /* 0x28: 64-bit code, DPL 3 */
    /*
     * 0x30: one 16-byte TSS descriptor per CPU (MAX_CPUS = 8), which
     * libguest.c fills in before each CPU's LTR.
     */
    .fill 2 * 8, 8, 0
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

/*
 * Ring 3.  void run_user_asm(void (*fn)(void), void *user_stack_top,
 *                            void *tss_rsp0)
 *
 * Saves the callee-saved registers and RFLAGS on this stack and points
 * the TSS's RSP0 just below them, so that every interrupt or exception
 * taken in ring 3 runs on this stack, under what we saved.  Then IRETQ
 * to @fn at CPL 3, with RFLAGS as the caller had them (IF included) and
 * a return address to user_return on the user stack.
 */
#define USER_DS         0x23
#define USER_CS         0x2b
#define MSR_GS_BASE     0xc0000101

    .globl run_user_asm, user_return, bp_entry
run_user_asm:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    pushfq                          /* 7 pushes: RSP is 16-aligned */
    mov %rsp, (%rdx)                /* TSS.RSP0 */
    /*
     * IRETQ to ring 3 nulls DS, ES, FS and GS while they hold ring 0's
     * selector, and a null GS may lose its base (the per-CPU area):
     * load the user data selector, then put GS's base back.
     */
    mov $MSR_GS_BASE, %ecx
    rdmsr
    mov $USER_DS, %r8d
    mov %r8d, %ds
    mov %r8d, %es
    mov %r8d, %fs
    mov %r8d, %gs
    wrmsr
    and $-16, %rsi                  /* the ABI's alignment at a call */
    movq $user_return, -8(%rsi)
    sub $8, %rsi
    pushq $USER_DS
    push %rsi
    pushfq
    pushq $USER_CS
    push %rdi
    iretq

/*
 * Ring 3's way out: where @fn returns to, and where user_exit() jumps.
 * Not SYSCALL or INT n: on the KVM PVM hosts we run on, SYSCALL from
 * ring 3 stays in ring 3 and INT imm8 raises #UD, where INT3 and
 * exceptions are delivered as on hardware.
 */
user_return:
    int3
user_return_end:
    ud2

/*
 * The #BP gate (DPL 3).  user_return's INT3, from ring 3, goes back to
 * run_user_asm's caller: the CPU took RSP0 and pushed its 5-word frame
 * there, so our saved registers lie just above it.  SS is null after
 * the ring change: give ring 0 its own back.  Any other #BP goes on to
 * libguest's handlers.
 */
bp_entry:
    testb $3, 8(%rsp)               /* the CS it came from */
    jz vec3
    cmpq $user_return_end, (%rsp)   /* INT3 is a trap: RIP is after it */
    jne vec3
    add $40, %rsp
    mov $0x10, %eax
    mov %eax, %ss
    popfq
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret

    .section .note.GNU-stack, "", @progbits
