//! Entry and trap vector.
//!
//! `_start` runs on hart 0 with paging off (QEMU `virt` boots one hart
//! here: `-smp` is left at 1). In S-mode OpenSBI enters it with a0 = hart
//! id and a1 = the device tree; with `-bios none` QEMU's reset code enters
//! it in M-mode. It sets up the stack, clears `.bss`, points `xtvec` at
//! `trap_entry` and `xscratch` at the top of the trap stack, and calls
//! `hwbreak_board_main`. Hart 0 is the only one started; other harts would
//! be started with SBI HSM `hart_start` (S-mode) or an IPI (M-mode) and
//! given their own stacks and `xscratch`.
//!
//! `trap_entry` swaps `sp` with `xscratch` (the kernel never runs in U-mode,
//! so every trap comes from the kernel), saves x1-x31, `xepc`, `xcause`,
//! `xtval` and `xstatus` in a [`Frame`](crate::trap::Frame) on the trap
//! stack, calls `trap_handler(&mut Frame)`, and returns with `xret` to the
//! (possibly changed) `xepc`. Floating-point registers are not saved: the
//! handler path does no floating-point arithmetic.

/// The boot and trap assembly for one privilege mode: `$x` is the CSR
/// prefix (`s` or `m`).
macro_rules! boot_asm {
    ($x:literal) => {
        core::arch::global_asm!(concat!(
            r#"
    .section .text.boot, "ax"
    .globl _start
_start:
    .option push
    .option norelax
    la sp, __stack_top
    .option pop
    la t0, __bss_start
    la t1, __bss_end
1:  bgeu t0, t1, 2f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 1b
2:  la t0, trap_entry
    csrw "#,
            $x,
            r#"tvec, t0
    la t0, __trap_stack_top
    csrw "#,
            $x,
            r#"scratch, t0
    call hwbreak_board_main
3:  wfi
    j 3b

    .section .text.trap, "ax"
    .balign 4
    .globl trap_entry
trap_entry:
    csrrw sp, "#,
            $x,
            r#"scratch, sp
    addi sp, sp, -288
    sd x1, 8(sp)
    sd x3, 24(sp)
    sd x4, 32(sp)
    sd x5, 40(sp)
    sd x6, 48(sp)
    sd x7, 56(sp)
    sd x8, 64(sp)
    sd x9, 72(sp)
    sd x10, 80(sp)
    sd x11, 88(sp)
    sd x12, 96(sp)
    sd x13, 104(sp)
    sd x14, 112(sp)
    sd x15, 120(sp)
    sd x16, 128(sp)
    sd x17, 136(sp)
    sd x18, 144(sp)
    sd x19, 152(sp)
    sd x20, 160(sp)
    sd x21, 168(sp)
    sd x22, 176(sp)
    sd x23, 184(sp)
    sd x24, 192(sp)
    sd x25, 200(sp)
    sd x26, 208(sp)
    sd x27, 216(sp)
    sd x28, 224(sp)
    sd x29, 232(sp)
    sd x30, 240(sp)
    sd x31, 248(sp)
    csrr t0, "#,
            $x,
            r#"scratch
    sd t0, 16(sp)
    sd zero, 0(sp)
    csrr t0, "#,
            $x,
            r#"epc
    sd t0, 256(sp)
    csrr t0, "#,
            $x,
            r#"cause
    sd t0, 264(sp)
    csrr t0, "#,
            $x,
            r#"tval
    sd t0, 272(sp)
    csrr t0, "#,
            $x,
            r#"status
    sd t0, 280(sp)
    mv a0, sp
    call trap_handler
    ld t0, 256(sp)
    csrw "#,
            $x,
            r#"epc, t0
    addi t0, sp, 288
    csrw "#,
            $x,
            r#"scratch, t0
    ld x1, 8(sp)
    ld x3, 24(sp)
    ld x4, 32(sp)
    ld x5, 40(sp)
    ld x6, 48(sp)
    ld x7, 56(sp)
    ld x8, 64(sp)
    ld x9, 72(sp)
    ld x10, 80(sp)
    ld x11, 88(sp)
    ld x12, 96(sp)
    ld x13, 104(sp)
    ld x14, 112(sp)
    ld x15, 120(sp)
    ld x16, 128(sp)
    ld x17, 136(sp)
    ld x18, 144(sp)
    ld x19, 152(sp)
    ld x20, 160(sp)
    ld x21, 168(sp)
    ld x22, 176(sp)
    ld x23, 184(sp)
    ld x24, 192(sp)
    ld x25, 200(sp)
    ld x26, 208(sp)
    ld x27, 216(sp)
    ld x28, 224(sp)
    ld x29, 232(sp)
    ld x30, 240(sp)
    ld x31, 248(sp)
    ld sp, 16(sp)
    "#,
            $x,
            r#"ret
"#
        ));
    };
}

#[cfg(feature = "machine")]
boot_asm!("m");
#[cfg(not(feature = "machine"))]
boot_asm!("s");
