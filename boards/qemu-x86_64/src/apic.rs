//! The local APIC in x2APIC mode (SDM Vol. 3A §11.12): every register is
//! an MSR, so no MMIO window has to be mapped, and an IPI is one `wrmsr`
//! to the ICR with the destination's APIC id in its upper half.
//!
//! `-cpu max` has x2APIC (CPUID.1:ECX bit 21); [`enable`] refuses a CPU
//! without it.

use core::arch::asm;
use core::arch::x86_64::__cpuid;

/// IA32_APIC_BASE: EN (bit 11) and EXTD (bit 10, x2APIC mode).
const IA32_APIC_BASE: u32 = 0x1b;
const APIC_BASE_EN: u64 = 1 << 11;
const APIC_BASE_EXTD: u64 = 1 << 10;

/// x2APIC registers (MSR 0x800 + the xAPIC offset / 16).
const X2APIC_ID: u32 = 0x802;
const X2APIC_TPR: u32 = 0x808;
const X2APIC_EOI: u32 = 0x80b;
const X2APIC_SVR: u32 = 0x80f;
const X2APIC_ICR: u32 = 0x830;
const X2APIC_LVT_TIMER: u32 = 0x832;
const X2APIC_LVT_LINT0: u32 = 0x835;
const X2APIC_LVT_LINT1: u32 = 0x836;
const X2APIC_LVT_ERROR: u32 = 0x837;

/// LVT mask bit.
const LVT_MASKED: u64 = 1 << 16;
/// SVR: APIC software enable (bit 8).
const SVR_ENABLE: u64 = 1 << 8;

/// ICR fields: delivery mode (bits 10:8), level assert (bit 14).
const ICR_FIXED: u64 = 0b000 << 8;
const ICR_INIT: u64 = 0b101 << 8;
const ICR_STARTUP: u64 = 0b110 << 8;
const ICR_ASSERT: u64 = 1 << 14;

/// The vector of spurious interrupts (SVR bits 7:0); its gate only
/// returns (no EOI for a spurious interrupt).
pub const SPURIOUS_VECTOR: u8 = 0xff;

/// # Safety
/// Ring 0; `msr` exists on this CPU.
unsafe fn rdmsr(msr: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: forwarded to the caller.
    unsafe {
        asm!("rdmsr", in("ecx") msr, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags))
    };
    (u64::from(hi) << 32) | u64::from(lo)
}

/// # Safety
/// Ring 0; `msr` exists and `value` is valid for it.
unsafe fn wrmsr(msr: u32, value: u64) {
    // SAFETY: forwarded to the caller.
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") value as u32, in("edx") (value >> 32) as u32,
             options(nostack, preserves_flags))
    };
}

/// Whether this CPU has x2APIC (CPUID.1:ECX bit 21).
pub fn has_x2apic() -> bool {
    // SAFETY: CPUID leaf 1 exists on every x86_64 CPU.
    #[allow(unused_unsafe)]
    let leaf1 = unsafe { __cpuid(1) };
    leaf1.ecx & (1 << 21) != 0
}

/// Puts the calling CPU's local APIC in x2APIC mode, software-enabled,
/// accepting every priority, with its local interrupt sources (timer,
/// LINT0/LINT1 where firmware may have wired the 8259 and NMI, error)
/// masked: the only interrupts the kernel takes are IPIs.
///
/// # Safety
/// Ring 0, on the CPU being brought up, interrupts disabled, after
/// [`has_x2apic`] said yes.
pub unsafe fn enable() {
    // SAFETY: ring 0 (caller); IA32_APIC_BASE exists on every x86_64 CPU.
    let base = unsafe { rdmsr(IA32_APIC_BASE) };
    if base & APIC_BASE_EXTD == 0 {
        // Disabled or xAPIC: enable xAPIC first, then x2APIC (the
        // transitions SDM Vol. 3A §11.12.5 allows).
        // SAFETY: as above; setting EN keeps the base address.
        unsafe {
            wrmsr(IA32_APIC_BASE, base | APIC_BASE_EN);
            wrmsr(IA32_APIC_BASE, base | APIC_BASE_EN | APIC_BASE_EXTD);
        }
    }
    // SAFETY: x2APIC mode is on, so these MSRs exist; masking LVT entries
    // and enabling the APIC with the spurious vector has no other effect.
    unsafe {
        wrmsr(X2APIC_LVT_TIMER, LVT_MASKED);
        wrmsr(X2APIC_LVT_LINT0, LVT_MASKED);
        wrmsr(X2APIC_LVT_LINT1, LVT_MASKED);
        wrmsr(X2APIC_LVT_ERROR, LVT_MASKED);
        wrmsr(X2APIC_TPR, 0);
        wrmsr(X2APIC_SVR, SVR_ENABLE | u64::from(SPURIOUS_VECTOR));
    }
}

/// The calling CPU's x2APIC id.
///
/// # Safety
/// Ring 0, after [`enable`] on this CPU.
pub unsafe fn id() -> u32 {
    // SAFETY: forwarded to the caller (x2APIC mode is on).
    unsafe { rdmsr(X2APIC_ID) as u32 }
}

/// Signals the end of the interrupt being served.
///
/// # Safety
/// Ring 0, in an interrupt handler of a fixed-vector interrupt, after
/// [`enable`].
pub unsafe fn eoi() {
    // SAFETY: forwarded to the caller; any value written means EOI.
    unsafe { wrmsr(X2APIC_EOI, 0) };
}

/// # Safety
/// Ring 0, after [`enable`]; `icr` is a valid ICR command for `apic_id`.
unsafe fn send(apic_id: u32, icr: u64) {
    // SAFETY: forwarded to the caller. The fence orders every store made
    // before the IPI (the mailbox it announces) ahead of it: a write to
    // the x2APIC ICR is not serializing (SDM Vol. 3A §11.12.3).
    unsafe {
        asm!("mfence", "lfence", options(nostack, preserves_flags));
        wrmsr(X2APIC_ICR, (u64::from(apic_id) << 32) | icr);
    }
}

/// Sends the fixed-vector interrupt `vector` to `apic_id`.
///
/// # Safety
/// Ring 0, after [`enable`]; every CPU's IDT has a gate for `vector`.
pub unsafe fn send_fixed(apic_id: u32, vector: u8) {
    // SAFETY: forwarded to the caller.
    unsafe { send(apic_id, ICR_FIXED | ICR_ASSERT | u64::from(vector)) };
}

/// Sends INIT to `apic_id`: the CPU resets (DR0-DR3 = 0, DR6 =
/// 0xffff0ff0, DR7 = 0x400, SDM Vol. 3A Table 10-1) and waits for a
/// startup IPI.
///
/// # Safety
/// Ring 0, after [`enable`]; `apic_id` is not the caller and nothing the
/// target was doing may be needed any more.
pub unsafe fn send_init(apic_id: u32) {
    // SAFETY: forwarded to the caller.
    unsafe { send(apic_id, ICR_INIT | ICR_ASSERT) };
}

/// Sends a startup IPI to `apic_id`: a CPU waiting after INIT starts in
/// real mode at `page * 4096` (CS = `page << 8`, IP = 0).
///
/// # Safety
/// Ring 0, after [`enable`]; real-mode start code is at `page * 4096`.
pub unsafe fn send_startup(apic_id: u32, page: u8) {
    // SAFETY: forwarded to the caller.
    unsafe { send(apic_id, ICR_STARTUP | ICR_ASSERT | u64::from(page)) };
}
