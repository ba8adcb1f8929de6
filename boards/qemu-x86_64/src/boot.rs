//! PVH entry: QEMU jumps to `pvh_start` in 32-bit protected mode with paging
//! off (ebx = start_info). We zero .bss, identity-map the first 1 GiB with
//! 2 MiB pages, enable PAE + long mode + paging, load a GDT with a 64-bit
//! code segment and jump to `kmain` on the boot stack.

use core::arch::global_asm;

/// Size of the boot (normal kernel) stack.
pub const BOOT_STACK: usize = 64 * 1024;

global_asm!(
    r#"
    .section .note.pvh, "a", @note
    .p2align 2
    .long 4                      /* name size ("Xen\0") */
    .long 4                      /* descriptor size */
    .long 18                     /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .p2align 2
    .long pvh_start

    .section .text.boot, "ax"
    .code32
    .global pvh_start
pvh_start:
    cli
    cld
    /* Zero .bss (page tables and stacks live there). */
    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb
    mov $boot_stack_top, %esp

    /* PML4[0] -> PDPT, PDPT[0] -> PD, PD[i] = i * 2 MiB | PS | RW | P. */
    mov $boot_pdpt, %eax
    or $3, %eax
    mov %eax, boot_pml4
    mov $boot_pd, %eax
    or $3, %eax
    mov %eax, boot_pdpt
    mov $boot_pd, %edi
    mov $0x83, %eax
    mov $512, %ecx
1:
    mov %eax, (%edi)
    movl $0, 4(%edi)
    add $0x200000, %eax
    add $8, %edi
    loop 1b

    /* CR4.PAE (bit 5). */
    mov %cr4, %eax
    or $(1 << 5), %eax
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    /* EFER.LME (MSR 0xC0000080, bit 8). */
    mov $0xC0000080, %ecx
    rdmsr
    or $(1 << 8), %eax
    wrmsr
    /* CR0.PG (31) | WP (16) | PE (0). */
    mov %cr0, %eax
    or $((1 << 31) | (1 << 16) | 1), %eax
    mov %eax, %cr0

    lgdt gdt_pointer
    ljmp $0x08, $long_mode

    .code64
long_mode:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    mov $boot_stack_top, %rsp
    xor %ebp, %ebp
    call kmain
2:
    cli
    hlt
    jmp 2b

    .section .data.gdt, "aw"
    .p2align 4
    .global gdt
gdt:
    .quad 0                      /* null */
    .quad 0x00af9a000000ffff     /* 0x08: 64-bit code, DPL 0 */
    .quad 0x00cf92000000ffff     /* 0x10: data, DPL 0 */
    .quad 0                      /* 0x18: TSS (low), filled in by kmain */
    .quad 0                      /* 0x20: TSS (high) */
gdt_end:
    .p2align 4
gdt_pointer:
    .word gdt_end - gdt - 1
    .quad gdt

    .section .bss.boot, "aw", @nobits
    .p2align 12
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4096
    .p2align 4
boot_stack:
    .skip {stack}
boot_stack_top:
    "#,
    stack = const BOOT_STACK,
    options(att_syntax)
);
