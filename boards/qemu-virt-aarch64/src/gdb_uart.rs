//! The GDB wire: QEMU `virt`'s second PL011, polled (feature `gdb`).
//!
//! QEMU 10.0's `virt` machine creates a second non-secure PL011 at
//! 0x0904_0000 (device tree alias `serial1`) when it is given two `-serial`
//! options and no secure firmware; the first (0x0900_0000) stays the
//! console. The `aarch64-gdb` variant connects the second one to a TCP
//! socket GDB attaches to.

use gdbstub::conn::{Connection, ConnectionExt};

const UART_BASE: usize = 0x0904_0000;
/// Data register: bits 7:0 the byte, 11:8 the receive error flags.
const DR: usize = 0x00;
/// Flag register.
const FR: usize = 0x18;
/// FR.RXFE: receive FIFO empty.
const FR_RXFE: u32 = 1 << 4;
/// FR.TXFF: transmit FIFO full.
const FR_TXFF: u32 = 1 << 5;
/// FR.BUSY: still transmitting.
const FR_BUSY: u32 = 1 << 3;
/// Control: UARTEN (bit 0), TXE (bit 8), RXE (bit 9).
const CR: usize = 0x30;
const CR_ENABLE: u32 = 1 | (1 << 8) | (1 << 9);
/// Interrupt mask: all off (polled).
const IMSC: usize = 0x38;

fn read_reg(offset: usize) -> u32 {
    // SAFETY: a PL011 register at a fixed physical address on QEMU virt,
    // device memory with the MMU off; only this module touches this UART.
    unsafe { core::ptr::read_volatile((UART_BASE + offset) as *const u32) }
}

fn write_reg(offset: usize, value: u32) {
    // SAFETY: as in `read_reg`.
    unsafe { core::ptr::write_volatile((UART_BASE + offset) as *mut u32, value) }
}

/// The polled connection GDB talks through. Holds one byte of look-ahead
/// for `peek` (the PL011 cannot peek at its FIFO).
pub struct GdbUart {
    peeked: Option<u8>,
}

impl GdbUart {
    /// Sets the UART up (no interrupts, enabled) and returns the
    /// connection. QEMU ignores the baud rate and line format. The FIFOs
    /// stay as reset left them (off: a one-byte holding register): QEMU
    /// empties the receive FIFO when LCR_H.FEN changes, which could drop
    /// the first bytes GDB sent before the kernel got here, and a full
    /// holding register only makes QEMU hold back the socket's next byte.
    pub fn open() -> Self {
        write_reg(IMSC, 0);
        write_reg(CR, CR_ENABLE);
        Self { peeked: None }
    }

    fn try_read(&mut self) -> Option<u8> {
        if let Some(b) = self.peeked.take() {
            return Some(b);
        }
        if read_reg(FR) & FR_RXFE != 0 {
            return None;
        }
        // The error flags (bits 11:8) cannot happen on QEMU's socket
        // backend; the byte is what GDB sent.
        Some((read_reg(DR) & 0xff) as u8)
    }
}

/// The wire never fails: polling a memory-mapped UART has no error.
#[derive(Debug)]
pub enum Never {}

impl Connection for GdbUart {
    type Error = Never;

    fn write(&mut self, byte: u8) -> Result<(), Never> {
        while read_reg(FR) & FR_TXFF != 0 {}
        write_reg(DR, u32::from(byte));
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Never> {
        while read_reg(FR) & FR_BUSY != 0 {}
        Ok(())
    }
}

impl ConnectionExt for GdbUart {
    /// Waits for the next byte (the CPU stays in the stub until GDB says
    /// something).
    fn read(&mut self) -> Result<u8, Never> {
        loop {
            if let Some(b) = self.try_read() {
                return Ok(b);
            }
            core::hint::spin_loop();
        }
    }

    fn peek(&mut self) -> Result<Option<u8>, Never> {
        if self.peeked.is_none() {
            self.peeked = self.try_read();
        }
        Ok(self.peeked)
    }
}
