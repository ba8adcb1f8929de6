//! Boot entry, exception vector stubs and the common exception path.
//!
//! QEMU pseries (VOF firmware) enters the image's first byte in 32-bit real
//! mode with r5 = the Open Firmware client-interface entry; secondary
//! threads enter `hwb_secondary_entry` from RTAS `start-cpu`. Interrupts
//! land at physical `vector` in real mode with MSR\[SF\] = 1 and
//! MSR\[EE, SE, FP\] = 0, and run on the CPU's own exception stack (SPRG0
//! points at its [`ExceptionArea`]).

core::arch::global_asm!(
    r#"
    .section .text.entry, "ax", @progbits
    .globl _start
_start:
    # Run in 64-bit mode: set MSR[SF] (ISA bit 0, the most significant).
    mfmsr 11
    li 12, 1
    rldicr 12, 12, 63, 0
    or 11, 11, 12
    mtmsrd 11
    isync
    mr 31, 5
    lis 1, __stack_top@ha
    addi 1, 1, __stack_top@l
    li 0, 0
    stdu 0, -128(1)
    # Zero .bss (both ends are 16-byte aligned).
    lis 3, __bss_start@ha
    addi 3, 3, __bss_start@l
    lis 4, __bss_end@ha
    addi 4, 4, __bss_end@l
1:  cmpld 3, 4
    bge 2f
    std 0, 0(3)
    addi 3, 3, 8
    b 1b
2:  mr 3, 31
    # ELFv1: the symbol names a function descriptor (entry, TOC, environment).
    lis 12, hwb_rust_start@ha
    addi 12, 12, hwb_rust_start@l
    ld 2, 8(12)
    ld 12, 0(12)
    mtctr 12
    bctrl
3:  b 3b

    # Copied to each vector by `install_vectors`, which patches the
    # vector number into the `li`.
    .section .text, "ax", @progbits
    .globl hwb_vec_template
    .globl hwb_vec_template_end
    .p2align 4
hwb_vec_template:
    mtspr 273, 13
    li 13, 0
    ba hwb_exc_common
hwb_vec_template_end:

    # Frame: 288-byte protected zone below the interrupted r1, a 112-byte
    # ELFv1 minimum frame, then `Frame` (336 bytes) at r1 + 112.
    .globl hwb_exc_common
    .p2align 4
hwb_exc_common:
    # Pick the stack: SPRG0 holds this CPU's `ExceptionArea`. An interrupt
    # taken on the exception stack (one nested in a handler) goes below
    # the interrupted frame; any other starts at the top. r12, CR and the
    # vector are parked in the area meanwhile (SPRG1 holds r13, SPRG2 r1).
    mtspr 274, 1
    mfspr 1, 272
    std 12, 16(1)
    mfcr 12
    std 12, 24(1)
    std 13, 32(1)
    mfspr 12, 274
    ld 13, 8(1)
    cmpld 12, 13
    blt 1f
    ld 13, 0(1)
    cmpld 12, 13
    bge 1f
    mr 13, 12
    b 2f
1:  ld 13, 0(1)
2:  mtspr 275, 13
    ld 12, 24(1)
    mtcr 12
    ld 12, 16(1)
    ld 13, 32(1)
    mfspr 1, 275
    addi 1, 1, -752
    clrrdi 1, 1, 4
    std 0, 112(1)
    std 2, 128(1)
    .irp n, 3,4,5,6,7,8,9,10,11,12,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    std \n, 112+\n*8(1)
    .endr
    mfspr 0, 273
    std 0, 112+13*8(1)
    mfspr 0, 274
    std 0, 120(1)
    std 0, 0(1)
    std 13, 112+304(1)
    mfcr 0
    std 0, 112+256(1)
    mflr 0
    std 0, 112+264(1)
    mfctr 0
    std 0, 112+272(1)
    mfxer 0
    std 0, 112+280(1)
    mfsrr0 0
    std 0, 112+288(1)
    mfsrr1 0
    std 0, 112+296(1)
    mfspr 0, 19
    std 0, 112+312(1)
    mfspr 0, 18
    std 0, 112+320(1)
    # Rust code may use FPRs (never VRs/VSRs: built without them).
    mfmsr 0
    ori 0, 0, 0x2000
    mtmsrd 0
    isync
    addi 3, 1, 112
    lis 12, hwb_exception@ha
    addi 12, 12, hwb_exception@l
    ld 2, 8(12)
    ld 12, 0(12)
    mtctr 12
    bctrl
    ld 0, 112+288(1)
    mtsrr0 0
    ld 0, 112+296(1)
    mtsrr1 0
    ld 0, 112+256(1)
    mtcr 0
    ld 0, 112+264(1)
    mtlr 0
    ld 0, 112+272(1)
    mtctr 0
    ld 0, 112+280(1)
    mtxer 0
    ld 0, 112(1)
    ld 2, 128(1)
    .irp n, 3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    ld \n, 112+\n*8(1)
    .endr
    ld 1, 120(1)
    rfid
    .globl hwb_exc_common_end
hwb_exc_common_end:

    # Secondary threads start here (RTAS start-cpu): 64-bit real mode,
    # MSR[SF, ME] only, r3 = the CPU index. Enable FP (Rust code may use
    # FPRs), take this CPU's stack top from `hwb_cpu_stack_tops` and call
    # `hwb_secondary_start(index)`.
    .globl hwb_secondary_entry
    .p2align 4
hwb_secondary_entry:
    mfmsr 11
    ori 11, 11, 0x2000
    mtmsrd 11
    isync
    lis 4, hwb_cpu_stack_tops@ha
    addi 4, 4, hwb_cpu_stack_tops@l
    sldi 5, 3, 3
    ldx 1, 4, 5
    li 0, 0
    stdu 0, -128(1)
    lis 12, hwb_secondary_start@ha
    addi 12, 12, hwb_secondary_start@l
    ld 2, 8(12)
    ld 12, 0(12)
    mtctr 12
    bctrl
3:  b 3b
"#
);

/// What the common exception path reads through SPRG0 to find its stack,
/// one per CPU (offsets are those of the assembly above).
#[repr(C)]
pub struct ExceptionArea {
    /// One past the top of this CPU's exception stack.
    top: u64,
    /// Lowest byte of it.
    bottom: u64,
    /// r12, CR and the vector while the stack is being chosen.
    scratch: [u64; 3],
}

const _: () = assert!(core::mem::size_of::<ExceptionArea>() == 40);

impl ExceptionArea {
    /// An area for the stack `[bottom, top)`.
    pub const fn new(bottom: u64, top: u64) -> Self {
        Self {
            top,
            bottom,
            scratch: [0; 3],
        }
    }
}

/// Points this CPU's exception entry at `area` (SPRG0).
///
/// # Safety
/// `area` stays valid and is used by this CPU only; its stack range is
/// memory nothing else uses.
pub unsafe fn set_exception_area(area: *mut ExceptionArea) {
    // SAFETY: SPRG0 is a supervisor scratch register only the exception
    // entry reads.
    unsafe { core::arch::asm!("mtspr 272, {0}", in(reg) area as u64, options(nostack)) };
}

/// `[start, end)` of the common exception path's code: no instruction
/// breakpoint may stop it before it has saved the interrupted state.
pub fn exception_code() -> (u64, u64) {
    extern "C" {
        static hwb_exc_common: u32;
        static hwb_exc_common_end: u32;
    }
    (
        core::ptr::addr_of!(hwb_exc_common) as u64,
        core::ptr::addr_of!(hwb_exc_common_end) as u64,
    )
}

/// The real address secondary threads start at.
pub fn secondary_entry() -> u64 {
    extern "C" {
        static hwb_secondary_entry: u32;
    }
    core::ptr::addr_of!(hwb_secondary_entry) as u64
}

/// The registers saved by the common exception path.
#[repr(C)]
#[derive(Debug)]
pub struct Frame {
    /// r0-r31 as interrupted.
    pub gpr: [u64; 32],
    /// CR.
    pub cr: u64,
    /// LR.
    pub lr: u64,
    /// CTR.
    pub ctr: u64,
    /// XER.
    pub xer: u64,
    /// SRR0: where `rfid` returns.
    pub srr0: u64,
    /// SRR1: the MSR `rfid` restores.
    pub srr1: u64,
    /// The interrupt vector.
    pub vector: u64,
    /// DAR at entry.
    pub dar: u64,
    /// DSISR at entry.
    pub dsisr: u64,
    _pad: u64,
}

const _: () = assert!(core::mem::size_of::<Frame>() == 336);

extern "C" {
    static hwb_vec_template: [u32; 3];
    static hwb_vec_template_end: u32;
}

/// Vectors given a stub: every architected Book III-S vector up to 0xF80.
const VECTORS: [u64; 21] = [
    0x100, 0x200, 0x300, 0x380, 0x400, 0x480, 0x500, 0x600, 0x700, 0x800, 0x900, 0x980, 0xa00,
    0xb00, 0xc00, 0xd00, 0xe00, 0xe20, 0xe40, 0xe60, 0xf00,
];

/// Copies a stub to each vector.
///
/// # Safety
/// Once, after the firmware's client interface is no longer needed (the
/// stubs overwrite firmware memory at 0x100..0x1000).
pub unsafe fn install_vectors() {
    let (start, end) = (
        core::ptr::addr_of!(hwb_vec_template) as *const u32,
        core::ptr::addr_of!(hwb_vec_template_end),
    );
    // SAFETY: both point into the same text section.
    let words = unsafe { end.offset_from(start) } as usize;
    for &v in VECTORS.iter() {
        let dst = v as usize as *mut u32;
        for i in 0..words {
            // SAFETY: real-mode physical memory below 0x1000 belongs to us
            // once the firmware is done; `start` is our code.
            unsafe {
                let mut w = start.add(i).read_volatile();
                if i == 1 {
                    w |= v as u32; // li r13, vector
                }
                dst.add(i).write_volatile(w);
            }
        }
        // Make the new instructions visible to instruction fetch.
        // SAFETY: cache maintenance on memory we just wrote.
        unsafe {
            core::arch::asm!(
                "dcbst 0, {0}", "sync", "icbi 0, {0}", "sync", "isync",
                in(reg) dst, options(nostack)
            )
        };
    }
}
