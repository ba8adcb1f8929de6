//! The GDB wire: QEMU `virt`'s one NS16550A at 0x1000_0000, polled
//! (feature `gdb`).
//!
//! The `riscv64-gdb` variant connects this UART to the TCP socket GDB
//! attaches to (`-serial chardev:gdb0`); the kernel's console moves to
//! semihosting (see `console.rs`), so only the stub touches the UART.
//! OpenSBI (S-mode variant) picks semihosting for its own console too when
//! QEMU offers it (seen with OpenSBI 1.5: `Platform Console Device :
//! semihosting`), so its banner does not reach GDB's socket either.

use gdbstub::conn::{Connection, ConnectionExt};

const UART_BASE: usize = 0x1000_0000;
/// Receive buffer (read) and transmit holding (write) register.
const RBR_THR: usize = 0;
/// Interrupt enable register.
const IER: usize = 1;
/// Line status register.
const LSR: usize = 5;
/// LSR.DR: a received byte is waiting.
const LSR_DR: u8 = 1 << 0;
/// LSR.THRE: the transmit holding register is empty.
const LSR_THRE: u8 = 1 << 5;
/// LSR.TEMT: the transmitter is idle.
const LSR_TEMT: u8 = 1 << 6;

fn read_reg(offset: usize) -> u8 {
    // SAFETY: a 16550 register at a fixed physical address on QEMU virt
    // (paging off); in the `gdb` build only this module touches the UART.
    unsafe { core::ptr::read_volatile((UART_BASE + offset) as *const u8) }
}

fn write_reg(offset: usize, value: u8) {
    // SAFETY: as in `read_reg`.
    unsafe { core::ptr::write_volatile((UART_BASE + offset) as *mut u8, value) }
}

/// The polled connection GDB talks through. Holds one byte of look-ahead
/// for `peek` (reading RBR consumes the byte).
pub struct GdbUart {
    peeked: Option<u8>,
}

impl GdbUart {
    /// Turns the UART's interrupts off (the stub polls) and returns the
    /// connection. QEMU ignores the baud rate and line format, and the
    /// FIFO setting is left alone: changing it empties the receive FIFO,
    /// which could drop bytes GDB sent before the kernel got here.
    pub fn open() -> Self {
        write_reg(IER, 0);
        Self { peeked: None }
    }

    fn try_read(&mut self) -> Option<u8> {
        if let Some(b) = self.peeked.take() {
            return Some(b);
        }
        if read_reg(LSR) & LSR_DR == 0 {
            return None;
        }
        Some(read_reg(RBR_THR))
    }
}

/// The wire never fails: polling a memory-mapped UART has no error.
#[derive(Debug)]
pub enum Never {}

impl Connection for GdbUart {
    type Error = Never;

    fn write(&mut self, byte: u8) -> Result<(), Never> {
        while read_reg(LSR) & LSR_THRE == 0 {}
        write_reg(RBR_THR, byte);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Never> {
        while read_reg(LSR) & LSR_TEMT == 0 {}
        Ok(())
    }
}

impl ConnectionExt for GdbUart {
    /// Waits for the next byte (the hart stays in the stub until GDB says
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
