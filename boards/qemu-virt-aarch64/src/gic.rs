//! The GICv2 of QEMU `virt` (its default interrupt controller): distributor
//! at 0x0800_0000, CPU interface at 0x0801_0000 (banked per CPU). Only
//! software-generated interrupts (SGIs) are used, for cross-CPU calls.
//!
//! QEMU's `virt` GICv2 has no security extensions (no `secure=on`), so every
//! interrupt is in group 0 and, with GICC_CTLR.FIQEn clear, is signalled
//! as IRQ. An SGI is sent by writing GICD_SGIR with a target list of CPU
//! interface numbers, which on QEMU are the CPU numbers (MPIDR Aff0 here).

const GICD: usize = 0x0800_0000;
const GICC: usize = 0x0801_0000;

/// GICD_CTLR: bit 0 forwards group 0, bit 1 group 1.
const GICD_CTLR: usize = 0x000;
/// GICD_ISENABLER0: set-enable bits of interrupts 0-31 (banked per CPU).
const GICD_ISENABLER0: usize = 0x100;
/// GICD_IPRIORITYR: one priority byte per interrupt (0-31 banked per CPU).
const GICD_IPRIORITYR: usize = 0x400;
/// GICD_SGIR: bits 23:16 target list, 25:24 filter (0: the list), 3:0 id.
const GICD_SGIR: usize = 0xf00;

/// GICC_CTLR: bit 0 enables group 0 signalling, bit 1 group 1.
const GICC_CTLR: usize = 0x000;
/// GICC_PMR: interrupts with a priority value below it are signalled.
const GICC_PMR: usize = 0x004;
/// GICC_IAR: reading acknowledges; bits 9:0 id, 12:10 source CPU of an SGI.
const GICC_IAR: usize = 0x00c;
/// GICC_EOIR: writing the IAR value ends the interrupt.
const GICC_EOIR: usize = 0x010;

/// The SGI every cross-CPU request is sent with: "look at your mailboxes".
pub const SGI_MAILBOX: u32 = 0;
/// Interrupt ids from 1020 up are special; 1023: nothing pending.
pub const SPECIAL_IDS: u32 = 1020;

fn write(base: usize, offset: usize, value: u32) {
    // SAFETY: a GIC register at QEMU virt's fixed physical address, device
    // memory with the MMU off; only this module touches the GIC.
    unsafe { core::ptr::write_volatile((base + offset) as *mut u32, value) }
}

fn read(base: usize, offset: usize) -> u32 {
    // SAFETY: as in `write`.
    unsafe { core::ptr::read_volatile((base + offset) as *const u32) }
}

/// Enables the distributor. Once, on the boot CPU.
pub fn init_distributor() {
    write(GICD, GICD_CTLR, 0b11);
}

/// Enables the current CPU's interface and its mailbox SGI: highest
/// priority (0), every priority let through. On each CPU at bring-up.
pub fn init_cpu() {
    let word = GICD_IPRIORITYR + (SGI_MAILBOX as usize & !3);
    let shift = (SGI_MAILBOX % 4) * 8;
    write(GICD, word, read(GICD, word) & !(0xff << shift));
    write(GICD, GICD_ISENABLER0, 1 << SGI_MAILBOX);
    write(GICC, GICC_PMR, 0xff);
    write(GICC, GICC_CTLR, 0b11);
}

/// Stops the current CPU's interface from signalling (before it powers
/// off).
pub fn disable_cpu() {
    write(GICC, GICC_CTLR, 0);
}

/// Sends the mailbox SGI to the CPUs in `targets` (bit n: CPU n). The
/// `dsb` orders the mailbox writes before it.
pub fn send_mailbox_sgi(targets: u32) {
    if targets == 0 {
        return;
    }
    // SAFETY: a barrier only: the mailbox stores complete before the SGI.
    unsafe { core::arch::asm!("dsb ish", options(nostack, preserves_flags)) };
    write(GICD, GICD_SGIR, ((targets & 0xff) << 16) | SGI_MAILBOX);
}

/// Acknowledges the highest-priority pending interrupt: the raw IAR value
/// (pass it to [`end`]) and the interrupt id.
pub fn acknowledge() -> (u32, u32) {
    let iar = read(GICC, GICC_IAR);
    (iar, iar & 0x3ff)
}

/// Ends the interrupt `iar` came from.
pub fn end(iar: u32) {
    write(GICC, GICC_EOIR, iar);
}

/// Acknowledges and ends every interrupt pending at this CPU (interrupts
/// masked): the wake-up SGI a caller of a cross-CPU call did not sleep for.
pub fn drain() {
    loop {
        let (iar, id) = acknowledge();
        if id >= SPECIAL_IDS {
            return;
        }
        end(iar);
    }
}
