//! PVH entry: QEMU jumps to `pvh_start` in 32-bit protected mode with paging
//! off (ebx = start_info). We zero .bss, identity-map the first 1 GiB with
//! 2 MiB pages, enable PAE + long mode + paging, load a GDT with a 64-bit
//! code segment and jump to `kmain` on the boot stack.
//!
//! Secondary CPUs start in real mode at the startup IPI's page: the
//! trampoline (`ap_trampoline_start..ap_trampoline_end`, copied to
//! [`TRAMPOLINE`] by `smp`) loads its own small GDT, enters protected mode,
//! turns on PAE, long mode and paging with the boot CPU's page tables
//! (`boot_pml4`, the same identity map), and jumps to `ap_long_mode` in
//! the kernel, which takes its stack and CPU number from [`ApBoot`] and
//! calls `ap_rust`.

use core::arch::global_asm;

/// Size of the boot (normal kernel) stack.
pub const BOOT_STACK: usize = 64 * 1024;

/// Physical (= virtual) address the trampoline is copied to: below 1 MiB,
/// page-aligned (a startup IPI names a 4 KiB page), in conventional memory
/// nothing else uses once the kernel runs.
pub const TRAMPOLINE: u64 = 0x8000;

/// What `ap_long_mode` reads: the stack top and the CPU number of the
/// CPU being started (one at a time, under `smp`'s start lock).
#[repr(C)]
pub struct ApBoot {
    /// Initial stack pointer.
    pub stack_top: core::sync::atomic::AtomicU64,
    /// The CPU number passed to `ap_rust`.
    pub cpu: core::sync::atomic::AtomicU64,
}

/// The start parameters of the CPU being brought up.
#[no_mangle]
pub static AP_BOOT: ApBoot = ApBoot {
    stack_top: core::sync::atomic::AtomicU64::new(0),
    cpu: core::sync::atomic::AtomicU64::new(0),
};

extern "C" {
    static ap_trampoline_start: u8;
    static ap_trampoline_end: u8;
}

/// The trampoline's code as linked into the kernel image (to be copied to
/// [`TRAMPOLINE`]).
pub fn trampoline_image() -> &'static [u8] {
    let start = core::ptr::addr_of!(ap_trampoline_start);
    let end = core::ptr::addr_of!(ap_trampoline_end) as usize;
    // SAFETY: both symbols delimit the trampoline in .rodata (below).
    unsafe { core::slice::from_raw_parts(start, end - start as usize) }
}

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

    /* Secondary CPUs: long mode reached from the trampoline with its
       GDT (selector 0x18 = 64-bit code); `cpu::init_cpu` loads the CPU's
       own GDT. */
    .code64
ap_long_mode:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    mov AP_BOOT, %rsp
    mov AP_BOOT + 8, %rdi
    xor %ebp, %ebp
    call ap_rust
4:
    cli
    hlt
    jmp 4b

    /* The real-mode trampoline, position-dependent on TRAMPOLINE: every
       address inside it is TRAMPOLINE + (label - ap_trampoline_start). A
       startup IPI to page TRAMPOLINE / 4096 enters it with CS =
       TRAMPOLINE / 16, IP = 0. */
    .section .rodata.ap_trampoline, "a"
    .code16
    .global ap_trampoline_start
ap_trampoline_start:
    cli
    cld
    xor %ax, %ax
    mov %ax, %ds
    lgdtl {tramp} + (ap_gdt_pointer - ap_trampoline_start)
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, ${tramp} + (ap_protected - ap_trampoline_start)

    .code32
ap_protected:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    /* The boot CPU's steps, with its page tables. */
    mov %cr4, %eax
    or $(1 << 5), %eax
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx
    rdmsr
    or $(1 << 8), %eax
    wrmsr
    mov %cr0, %eax
    or $((1 << 31) | (1 << 16) | 1), %eax
    mov %eax, %cr0
    ljmp $0x18, $ap_long_mode

    .p2align 3
ap_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff     /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff     /* 0x10: data */
    .quad 0x00af9a000000ffff     /* 0x18: 64-bit code */
ap_gdt_pointer:
    .word ap_gdt_pointer - ap_gdt - 1
    .long {tramp} + (ap_gdt - ap_trampoline_start)
    .global ap_trampoline_end
ap_trampoline_end:

    .section .data.gdt, "aw"
    .p2align 4
    .global gdt
gdt:
    .quad 0                      /* null */
    .quad 0x00af9a000000ffff     /* 0x08: 64-bit code, DPL 0 */
    .quad 0x00cf92000000ffff     /* 0x10: data, DPL 0 */
gdt_end:
    .p2align 4
gdt_pointer:
    .word gdt_end - gdt - 1
    .quad gdt

    .section .bss.boot, "aw", @nobits
    .p2align 12
    .global boot_pml4
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
    tramp = const TRAMPOLINE,
    options(att_syntax)
);
