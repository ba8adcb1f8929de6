//! The GDB wire: a second spapr-vty, polled through the hypervisor's
//! terminal calls (feature `gdb`).
//!
//! QEMU `pseries` gives every `-device spapr-vty` a virtual terminal whose
//! number is its VIO unit address (`reg`). The console is the vty QEMU
//! creates for the serial port, at the first unit address (0x7100_0000),
//! which terminal number 0 also selects (QEMU's "lowest vty" rule for
//! early consoles); the `ppc64-gdb` variant adds a second one at
//! [`GDB_VTY`], backed by the TCP socket GDB connects to. H_GET_TERM_CHAR
//! returns up to 16 received bytes a call and H_PUT_TERM_CHAR sends up to
//! 16, so both directions are buffered 16 bytes at a time.

use core::fmt::Write;

use gdbstub::conn::{Connection, ConnectionExt};

use crate::firmware;

/// The unit address of the GDB vty, as board.toml's `-device
/// spapr-vty,reg=...` fixes it. Above the console's, so terminal 0 stays
/// the console.
pub const GDB_VTY: u64 = 0x7100_0010;

/// A terminal call failed: the hypervisor's status (`H_PARAMETER`, -4:
/// there is no vty at [`GDB_VTY`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct VtyError(pub i64);

/// The polled connection GDB talks through.
pub struct GdbVty {
    rx: [u8; 16],
    /// `rx[next..len]` is what H_GET_TERM_CHAR returned and gdbstub has
    /// not read yet.
    next: usize,
    len: usize,
    tx: [u8; 16],
    tx_len: usize,
}

impl GdbVty {
    /// The connection; nothing is sent or received yet.
    pub fn open() -> Self {
        Self {
            rx: [0; 16],
            next: 0,
            len: 0,
            tx: [0; 16],
            tx_len: 0,
        }
    }

    /// The next received byte, if one has arrived.
    fn try_read(&mut self) -> Result<Option<u8>, VtyError> {
        if self.next == self.len {
            let (bytes, n) =
                firmware::get_term_chars(GDB_VTY).map_err(|s| failed("H_GET_TERM_CHAR", s))?;
            self.rx = bytes;
            self.next = 0;
            self.len = n;
        }
        if self.next == self.len {
            return Ok(None);
        }
        let b = self.rx[self.next];
        self.next += 1;
        Ok(Some(b))
    }

    fn send(&mut self) -> Result<(), VtyError> {
        if self.tx_len > 0 {
            firmware::put_term_chars(GDB_VTY, &self.tx[..self.tx_len])
                .map_err(|s| failed("H_PUT_TERM_CHAR", s))?;
            self.tx_len = 0;
        }
        Ok(())
    }
}

/// Says on the console why the wire failed (GDB hears nothing more: the
/// session ends) and returns the error.
fn failed(call: &str, status: i64) -> VtyError {
    let _ = writeln!(
        firmware::Console,
        "gdb: {call} on vty {GDB_VTY:#x} failed with status {status}"
    );
    VtyError(status)
}

impl Connection for GdbVty {
    type Error = VtyError;

    fn write(&mut self, byte: u8) -> Result<(), VtyError> {
        if self.tx_len == self.tx.len() {
            self.send()?;
        }
        self.tx[self.tx_len] = byte;
        self.tx_len += 1;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), VtyError> {
        self.send()
    }
}

impl ConnectionExt for GdbVty {
    /// Waits for the next byte (the CPU stays in the stub until GDB says
    /// something).
    fn read(&mut self) -> Result<u8, VtyError> {
        loop {
            if let Some(b) = self.try_read()? {
                return Ok(b);
            }
            core::hint::spin_loop();
        }
    }

    fn peek(&mut self) -> Result<Option<u8>, VtyError> {
        let b = self.try_read()?;
        if b.is_some() {
            // Give it back: `try_read` only advanced past a buffered byte.
            self.next -= 1;
        }
        Ok(b)
    }
}
