//! COM1 (16550 UART at I/O port 0x3f8), polled output only.

use core::arch::asm;

const COM1: u16 = 0x3f8;

/// Writes a byte to an I/O port.
///
/// # Safety
/// Ring 0; the port must be one whose write has no harmful side effect.
pub unsafe fn outb(port: u16, value: u8) {
    // SAFETY: forwarded to the caller.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags))
    };
}

/// Reads a byte from an I/O port.
///
/// # Safety
/// Ring 0; the port's read must have no harmful side effect.
pub unsafe fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: forwarded to the caller.
    unsafe {
        asm!("in al, dx", out("al") v, in("dx") port, options(nomem, nostack, preserves_flags))
    };
    v
}

/// Initialises COM1: 115200 baud, 8N1, FIFO on, interrupts off.
pub fn init() {
    init_uart(COM1);
}

/// Programs the 16550 at I/O port `base`: 115200 baud, 8N1, FIFO on,
/// interrupts off. Shared by the console (COM1) and the GDB stub's wire
/// (COM2).
pub fn init_uart(base: u16) {
    // SAFETY: callers pass a 16550's base port (COM1, COM2); the standard
    // 16550 programming sequence.
    unsafe {
        outb(base + 1, 0x00); // IER: no interrupts
        outb(base + 3, 0x80); // LCR: DLAB
        outb(base, 0x01); // divisor 1 = 115200 baud
        outb(base + 1, 0x00);
        outb(base + 3, 0x03); // 8N1
        outb(base + 2, 0xc7); // FIFO on, cleared
        outb(base + 4, 0x03); // DTR | RTS
    }
}

pub(crate) fn put(b: u8) {
    // SAFETY: COM1 line status (0x3fd) and data (0x3f8) registers.
    unsafe {
        let mut spins = 0u32;
        while inb(COM1 + 5) & 0x20 == 0 && spins < 100_000 {
            spins += 1;
        }
        outb(COM1, b);
    }
}

/// The console, as a `core::fmt::Write` sink (defmt frames instead with
/// the `defmt-log` feature: see `defmt_log.rs`).
pub struct Serial;

#[cfg(not(feature = "defmt-log"))]
impl core::fmt::Write for Serial {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                put(b'\r');
            }
            put(b);
        }
        Ok(())
    }
}
