//! Entry point and exception vectors.
//!
//! Each CPU runs the kernel at EL1 on SP_EL0 (its own stack); exceptions
//! switch to SP_EL1, its own exception stack (the exception stacks of all
//! CPUs are one no-breakpoint zone). The boot CPU enters at `_start`;
//! secondaries at `_secondary_start`, where PSCI `CPU_ON` sends them (see
//! `smp.rs`), with their CPU number as context id.
//!
//! Every vector saves the general registers, ELR/SPSR/ESR/FAR and the FP/SIMD
//! state (q0-q31, FPCR, FPSR: `aarch64-unknown-none` lets Rust code, handlers
//! included, use them) into a [`Frame`](crate::exceptions::Frame) and calls
//! `hwbreak_board_exception(frame, kind)`; the frame's ELR, SPSR and SP_EL0
//! are written back before `eret`, so the handler can change them (single
//! step; the GDB stub's register writes).

core::arch::global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
    // Call frame information for the two entry points, in .debug_frame
    // (the linker script drops .eh_frame): their return address is
    // undefined, so debuggers end backtraces there instead of unwinding
    // garbage.
    .cfi_sections .debug_frame
_start:
    .cfi_startproc
    .cfi_undefined x30
    // Only the boot CPU enters here (QEMU keeps the others powered off
    // until PSCI CPU_ON starts them at `_secondary_start`).
    mrs     x0, mpidr_el1
    and     x0, x0, #0xff
    cbnz    x0, 9f
    bl      hwbreak_cpu_setup
    // Zero .bss.
    ldr     x0, =__bss_start
    ldr     x1, =__bss_end
0:  cmp     x0, x1
    b.hs    1f
    stp     xzr, xzr, [x0], #16
    b       0b
1:  bl      hwbreak_board_main
9:  wfe
    b       9b
    .cfi_endproc

    // A secondary CPU started by PSCI CPU_ON: EL1, MMU off, out of reset,
    // x0 = the context id the starter passed, its CPU number.
    .global _secondary_start
_secondary_start:
    .cfi_startproc
    .cfi_undefined x30
    mov     x19, x0
    bl      hwbreak_cpu_setup
    mov     x0, x19
    bl      hwbreak_secondary_main
8:  wfe
    b       8b
    .cfi_endproc

    // Per-CPU setup of CPU x0, before any Rust code runs on it: FP/SIMD
    // on, CPU x0's exception stack on SP_EL1 and kernel stack on SP_EL0,
    // the vectors. Uses x0-x2 only, no stack.
hwbreak_cpu_setup:
    // FP/SIMD usable at EL1 and EL0: CPACR_EL1.FPEN (bits 21:20) = 0b11.
    mov     x1, #(3 << 20)
    msr     cpacr_el1, x1
    isb
    add     x0, x0, #1
    msr     spsel, #1
    ldr     x1, =__cpu_exception_stack_size
    ldr     x2, =__exception_stack_bottom
    madd    x2, x0, x1, x2
    mov     sp, x2
    ldr     x1, =__cpu_stack_size
    ldr     x2, =__stacks_bottom
    madd    x2, x0, x1, x2
    msr     sp_el0, x2
    msr     spsel, #0
    ldr     x1, =__vectors_start
    msr     vbar_el1, x1
    isb
    ret

    .macro VECTOR kind
    .balign 0x80
    sub     sp, sp, #816
    stp     x0, x1, [sp, #0]
    mov     x1, #\kind
    b       hwbreak_exception_common
    .endm

    .section .text.vectors, "ax"
    .balign 2048
    .global hwbreak_vectors
hwbreak_vectors:
    VECTOR 0
    VECTOR 1
    VECTOR 2
    VECTOR 3
    VECTOR 4
    VECTOR 5
    VECTOR 6
    VECTOR 7
    VECTOR 8
    VECTOR 9
    VECTOR 10
    VECTOR 11
    VECTOR 12
    VECTOR 13
    VECTOR 14
    VECTOR 15

hwbreak_exception_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    mrs     x2, elr_el1
    stp     x30, x2, [sp, #240]
    mrs     x2, spsr_el1
    mrs     x3, esr_el1
    stp     x2, x3, [sp, #256]
    mrs     x2, far_el1
    mrs     x3, fpcr
    stp     x2, x3, [sp, #272]
    mrs     x2, fpsr
    mrs     x3, sp_el0
    stp     x2, x3, [sp, #288]
    add     x2, sp, #304
    stp     q0, q1, [x2, #0]
    stp     q2, q3, [x2, #32]
    stp     q4, q5, [x2, #64]
    stp     q6, q7, [x2, #96]
    stp     q8, q9, [x2, #128]
    stp     q10, q11, [x2, #160]
    stp     q12, q13, [x2, #192]
    stp     q14, q15, [x2, #224]
    stp     q16, q17, [x2, #256]
    stp     q18, q19, [x2, #288]
    stp     q20, q21, [x2, #320]
    stp     q22, q23, [x2, #352]
    stp     q24, q25, [x2, #384]
    stp     q26, q27, [x2, #416]
    stp     q28, q29, [x2, #448]
    stp     q30, q31, [x2, #480]
    mov     x0, sp
    bl      hwbreak_board_exception
    add     x2, sp, #304
    ldp     q0, q1, [x2, #0]
    ldp     q2, q3, [x2, #32]
    ldp     q4, q5, [x2, #64]
    ldp     q6, q7, [x2, #96]
    ldp     q8, q9, [x2, #128]
    ldp     q10, q11, [x2, #160]
    ldp     q12, q13, [x2, #192]
    ldp     q14, q15, [x2, #224]
    ldp     q16, q17, [x2, #256]
    ldp     q18, q19, [x2, #288]
    ldp     q20, q21, [x2, #320]
    ldp     q22, q23, [x2, #352]
    ldp     q24, q25, [x2, #384]
    ldp     q26, q27, [x2, #416]
    ldp     q28, q29, [x2, #448]
    ldp     q30, q31, [x2, #480]
    ldp     x2, x3, [sp, #288]
    msr     fpsr, x2
    msr     sp_el0, x3
    ldp     x2, x3, [sp, #272]
    msr     fpcr, x3
    ldp     x2, x3, [sp, #256]
    msr     spsr_el1, x2
    ldp     x30, x2, [sp, #240]
    msr     elr_el1, x2
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    add     sp, sp, #816
    eret
"#
);
