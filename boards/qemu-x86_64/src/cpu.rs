//! Descriptor tables and exception entry: per CPU a GDT with its own TSS
//! and IST stacks, one IDT shared by every CPU, the #DB entry (all general
//! registers saved, RFLAGS.RF settable in the saved frame), the cross-CPU
//! doorbell's entry and fatal-exception reporting.

use core::arch::{asm, global_asm};
use core::cell::UnsafeCell;

use crate::smp::MAX_CPUS;

/// Size of each CPU's #DB and #DF IST stacks.
pub const IST_STACK: usize = 16 * 1024;

/// One stack per CPU, `N` bytes each, 16-byte aligned, contiguous (one
/// no-breakpoint zone covers them all).
#[repr(C, align(16))]
pub struct Stacks<const N: usize>(UnsafeCell<[[u8; N]; MAX_CPUS]>);
// SAFETY: each CPU uses only its own stack, and only as a stack.
unsafe impl<const N: usize> Sync for Stacks<N> {}

impl<const N: usize> Stacks<N> {
    /// Zeroed stacks.
    pub const fn new() -> Self {
        Self(UnsafeCell::new([[0; N]; MAX_CPUS]))
    }

    /// `[start, end)` of every CPU's stack together.
    pub fn range(&self) -> (u64, u64) {
        let start = self.0.get() as u64;
        (start, start + (N * MAX_CPUS) as u64)
    }

    /// The initial stack pointer of `cpu`'s stack (its end).
    pub fn top(&self, cpu: usize) -> u64 {
        assert!(cpu < MAX_CPUS);
        self.range().0 + ((cpu + 1) * N) as u64
    }
}

/// The #DB (and #BP) stacks (IST1), one per CPU.
pub static DB_STACKS: Stacks<IST_STACK> = Stacks::new();
/// The #DF stacks (IST2), one per CPU.
pub static DF_STACKS: Stacks<IST_STACK> = Stacks::new();

/// The 64-bit task-state segment (SDM Vol. 3A §8.7, figure 8-11).
#[repr(C, packed(4))]
pub struct Tss {
    _reserved0: u32,
    rsp: [u64; 3],
    _reserved1: u64,
    ist: [u64; 7],
    _reserved2: u64,
    _reserved3: u16,
    iomap_base: u16,
}

/// Interior-mutable static written at a CPU's bring-up.
#[repr(C, align(16))]
pub struct BootCell<T>(UnsafeCell<T>);
// SAFETY: the IDT is written once on the boot CPU before any other CPU
// starts; each CPU's GDT and TSS entries are written only by that CPU's
// bring-up (`init_cpu`), which never runs on two CPUs for one index.
unsafe impl<T> Sync for BootCell<T> {}

impl<T> BootCell<T> {
    /// The contents' address.
    pub fn get(&self) -> *mut T {
        self.0.get()
    }
}

const TSS_INIT: Tss = Tss {
    _reserved0: 0,
    rsp: [0; 3],
    _reserved1: 0,
    ist: [0; 7],
    _reserved2: 0,
    _reserved3: 0,
    iomap_base: core::mem::size_of::<Tss>() as u16,
};

/// One TSS per CPU (a TSS descriptor is marked busy by `ltr`, so CPUs
/// cannot share one).
pub static TSSS: BootCell<[Tss; MAX_CPUS]> = BootCell(UnsafeCell::new([TSS_INIT; MAX_CPUS]));

/// GDT entries of each CPU: null, 0x08 64-bit code, 0x10 data, 0x18-0x20
/// the CPU's own TSS.
const GDT_ENTRIES: usize = 5;
/// Selector of the TSS descriptor.
const TSS_SELECTOR: u16 = 0x18;
/// One GDT per CPU.
pub static GDTS: BootCell<[[u64; GDT_ENTRIES]; MAX_CPUS]> =
    BootCell(UnsafeCell::new([[0; GDT_ENTRIES]; MAX_CPUS]));

/// One 16-byte IDT gate.
#[derive(Copy, Clone)]
#[repr(C)]
pub struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    attributes: u8,
    offset_mid: u16,
    offset_high: u32,
    _reserved: u32,
}

impl Gate {
    const EMPTY: Self = Self {
        offset_low: 0,
        selector: 0,
        ist: 0,
        attributes: 0,
        offset_mid: 0,
        offset_high: 0,
        _reserved: 0,
    };

    /// A present, DPL 0, 64-bit interrupt gate (type 0xE) to `handler`.
    fn interrupt(handler: u64, ist: u8) -> Self {
        Self {
            offset_low: handler as u16,
            selector: 0x08,
            ist,
            attributes: 0x8e,
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            _reserved: 0,
        }
    }
}

/// IDT entries: every vector, so an IPI vector and the APIC's spurious
/// vector have gates; vectors without one fault (#NP, reported fatally).
const VECTORS: usize = 256;

/// The IDT, shared by every CPU: exceptions 0-31, the cross-CPU doorbell
/// and the spurious vector.
pub static IDT: BootCell<[Gate; VECTORS]> = BootCell(UnsafeCell::new([Gate::EMPTY; VECTORS]));

/// The register frame the #DB and #BP entries build on the IST stack (and
/// the doorbell entry on the interrupted stack).
#[repr(C)]
#[derive(Debug)]
pub struct Frame {
    /// Alignment pad.
    pub _pad: u64,
    /// DR7 as it was when the exception was taken (the entry then cleared
    /// it); 0 in a doorbell's frame, whose entry leaves DR7 alone.
    pub dr7: u64,
    /// General registers, in the order the entry pushed them (r15 last).
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    /// Saved instruction pointer (the next instruction for data hits, the
    /// faulting one for execute hits).
    pub rip: u64,
    /// Saved code segment.
    pub cs: u64,
    /// Saved RFLAGS (set RF, bit 16, here to skip an execute breakpoint).
    pub rflags: u64,
    /// Saved stack pointer.
    pub rsp: u64,
    /// Saved stack segment.
    pub ss: u64,
}

/// RFLAGS.RF.
pub const RFLAGS_RF: u64 = 1 << 16;

/// The frame of a fatal exception.
#[repr(C)]
pub struct FaultFrame {
    regs: [u64; 15],
    vector: u64,
    error: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
}

global_asm!(
    r#"
    .section .text.entry, "ax"
    .code64
    .macro PUSH_GPRS
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    .endm
    .macro POP_GPRS
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    .endm

    /* #DB and #BP: IST1 (16-byte aligned). The CPU pushed 5 words; we
       push the 15 general registers, DR7 as found, and a pad word, so rsp
       is 16-byte aligned at the call. DR7 is cleared before any Rust code
       runs: nothing the handler touches can trap again on this stack
       (the registry, the smoke handler or the GDB stub writes DR7
       back). The two never nest: #DB cannot fire with DR7 clear and TF
       is cleared on entry. */
    .macro DEBUG_ENTRY name, handler
    .global \name
    .p2align 4
\name:
    PUSH_GPRS
    mov %dr7, %rax
    push %rax
    mov $0x400, %eax
    mov %rax, %dr7
    sub $8, %rsp
    mov %rsp, %rdi
    cld
    call \handler
    add $16, %rsp
    POP_GPRS
    iretq
    .endm

    DEBUG_ENTRY db_entry, db_rust
    DEBUG_ENTRY bp_entry, bp_rust

    /* The cross-CPU doorbell (`smp::DOORBELL_VECTOR`), on the interrupted
       stack: no privilege change, the kernel has no red zone. The same
       frame as the debug entries (a round-up shows it to GDB), with DR7
       left alone and 0 in its place; the CPU aligned rsp to 16 and pushed
       5 words, 17 more keep it aligned at the call. `doorbell_rust` sends
       the EOI. */
    .global doorbell_entry
    .p2align 4
doorbell_entry:
    PUSH_GPRS
    push $0
    sub $8, %rsp
    mov %rsp, %rdi
    cld
    call doorbell_rust
    add $16, %rsp
    POP_GPRS
    iretq

    /* The APIC's spurious vector: no EOI, nothing to do. */
    .global spurious_entry
    .p2align 4
spurious_entry:
    iretq

    .macro FAULT vec, err
    .p2align 4
fault_\vec:
    .if \err == 0
    push $0
    .endif
    push $\vec
    jmp fault_common
    .endm

    FAULT 0, 0
    FAULT 1, 0
    FAULT 2, 0
    FAULT 3, 0
    FAULT 4, 0
    FAULT 5, 0
    FAULT 6, 0
    FAULT 7, 0
    FAULT 8, 1
    FAULT 9, 0
    FAULT 10, 1
    FAULT 11, 1
    FAULT 12, 1
    FAULT 13, 1
    FAULT 14, 1
    FAULT 15, 0
    FAULT 16, 0
    FAULT 17, 1
    FAULT 18, 0
    FAULT 19, 0
    FAULT 20, 0
    FAULT 21, 1
    FAULT 22, 0
    FAULT 23, 0
    FAULT 24, 0
    FAULT 25, 0
    FAULT 26, 0
    FAULT 27, 0
    FAULT 28, 0
    FAULT 29, 1
    FAULT 30, 1
    FAULT 31, 0

fault_common:
    PUSH_GPRS
    mov %rsp, %rdi
    and $-16, %rsp
    cld
    call fault_rust
3:
    cli
    hlt
    jmp 3b

    .section .rodata.fault_table, "a"
    .p2align 3
    .global fault_table
fault_table:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad fault_\v
    .endr
    "#,
    options(att_syntax)
);

extern "C" {
    static fault_table: [u64; 32];
    fn db_entry();
    fn bp_entry();
    fn doorbell_entry();
    fn spurious_entry();
    static __entry_start: u8;
    static __entry_end: u8;
}

/// `[start, end)` of the exception entry code.
pub fn entry_code() -> (u64, u64) {
    // Linker symbols: only their addresses are taken.
    (
        core::ptr::addr_of!(__entry_start) as u64,
        core::ptr::addr_of!(__entry_end) as u64,
    )
}

/// `[start, end)` of every CPU's GDT.
pub fn gdt_range() -> (u64, u64) {
    let start = GDTS.get() as u64;
    (
        start,
        start + core::mem::size_of::<[[u64; GDT_ENTRIES]; MAX_CPUS]>() as u64,
    )
}

/// `[start, end)` of the IDT.
pub fn idt_range() -> (u64, u64) {
    let start = IDT.get() as u64;
    (
        start,
        start + core::mem::size_of::<[Gate; VECTORS]>() as u64,
    )
}

/// `[start, end)` of every CPU's TSS.
pub fn tss_range() -> (u64, u64) {
    let start = TSSS.get() as u64;
    (
        start,
        start + core::mem::size_of::<[Tss; MAX_CPUS]>() as u64,
    )
}

/// Fills the shared IDT: the fault reporters, #DB and #BP on IST1, #DF on
/// IST2, the doorbell and the spurious vector.
///
/// # Safety
/// Once, on the boot CPU, before any CPU loads the IDT.
pub unsafe fn init_idt() {
    let idt = IDT.get();
    // SAFETY: no CPU has loaded the IDT yet; the fault table is valid.
    unsafe {
        for (v, gate) in (*idt).iter_mut().take(32).enumerate() {
            // #DF runs on its own stack (IST2).
            let ist = if v == 8 { 2 } else { 0 };
            *gate = Gate::interrupt(fault_table[v], ist);
        }
        (*idt)[1] = Gate::interrupt(db_entry as *const () as u64, 1);
        (*idt)[3] = Gate::interrupt(bp_entry as *const () as u64, 1);
        (*idt)[usize::from(crate::smp::DOORBELL_VECTOR)] =
            Gate::interrupt(doorbell_entry as *const () as u64, 0);
        (*idt)[usize::from(crate::apic::SPURIOUS_VECTOR)] =
            Gate::interrupt(spurious_entry as *const () as u64, 0);
    }
}

/// Loads `cpu`'s own GDT (with its TSS: IST1 = its #DB stack, IST2 = its
/// #DF stack), reloads the segment registers and the task register, and
/// loads the shared IDT.
///
/// # Safety
/// On CPU `cpu` itself, once per bring-up, interrupts disabled, after
/// [`init_idt`].
pub unsafe fn init_cpu(cpu: usize) {
    assert!(cpu < MAX_CPUS);
    // SAFETY: only CPU `cpu` touches entry `cpu`, and it is not using it
    // (the task register is loaded below).
    let tss = unsafe {
        let tss = &mut (*TSSS.get())[cpu];
        tss.ist[0] = DB_STACKS.top(cpu);
        tss.ist[1] = DF_STACKS.top(cpu);
        core::ptr::from_mut(tss)
    };
    let base = tss as u64;
    let limit = (core::mem::size_of::<Tss>() - 1) as u64;
    // 64-bit TSS descriptor (SDM Vol. 3A §8.2.3): limit 15:0, base 23:0,
    // type 0x9 (available 64-bit TSS), P, limit 19:16, base 31:24, then
    // base 63:32 in the second quadword. A new bring-up after INIT finds
    // it busy from the last `ltr`, so it is rewritten whole.
    let low = (limit & 0xffff)
        | ((base & 0xff_ffff) << 16)
        | (0x89 << 40)
        | (((limit >> 16) & 0xf) << 48)
        | (((base >> 24) & 0xff) << 56);
    let high = base >> 32;
    // SAFETY: as above, entry `cpu` is this CPU's alone.
    let gdt = unsafe { &mut (*GDTS.get())[cpu] };
    *gdt = [
        0,
        0x00af_9a00_0000_ffff, // 0x08: 64-bit code, DPL 0
        0x00cf_9200_0000_ffff, // 0x10: data, DPL 0
        low,
        high,
    ];
    let gdt_ptr = DescriptorPointer {
        limit: (GDT_ENTRIES * 8 - 1) as u16,
        base: gdt.as_ptr() as u64,
    };
    let idt_ptr = DescriptorPointer {
        limit: (VECTORS * 16 - 1) as u16,
        base: IDT.get() as u64,
    };
    // SAFETY: the GDT holds the code and data descriptors the kernel runs
    // with (same selectors as the boot GDT), so reloading CS (far return)
    // and the data segments keeps everything valid; the TSS descriptor is
    // available; the IDT is filled.
    unsafe {
        asm!(
            "lgdt ({gdt})",
            "pushq $0x08",
            "lea 2f(%rip), {tmp}",
            "push {tmp}",
            "lretq",
            "2:",
            "mov $0x10, {tmp:e}",
            "mov {tmp:x}, %ds",
            "mov {tmp:x}, %es",
            "mov {tmp:x}, %ss",
            "ltr {tss:x}",
            "lidt ({idt})",
            gdt = in(reg) &gdt_ptr,
            idt = in(reg) &idt_ptr,
            tss = in(reg) TSS_SELECTOR,
            tmp = out(reg) _,
            options(att_syntax, preserves_flags)
        );
    }
}

/// The operand of `lgdt` / `lidt`.
#[repr(C, packed)]
struct DescriptorPointer {
    limit: u16,
    base: u64,
}

#[no_mangle]
extern "C" fn fault_rust(f: &FaultFrame) -> ! {
    use core::fmt::Write;
    let mut s = crate::serial::Serial;
    let _ = writeln!(
        s,
        "\nFATAL: exception {} error {:#x} at rip {:#x} (rflags {:#x}, rsp {:#x}, cs {:#x}, rax {:#x})",
        f.vector, f.error, f.rip, f.rflags, f.rsp, f.cs, f.regs[14]
    );
    if f.vector == 14 {
        let cr2: u64;
        // SAFETY: ring 0; reading CR2 has no side effect.
        unsafe { asm!("mov {}, cr2", out(reg) cr2, options(nomem, nostack)) };
        let _ = writeln!(s, "       cr2 {cr2:#x}");
    }
    crate::exit(false)
}
