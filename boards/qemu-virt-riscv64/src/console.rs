//! The NS16550A UART at 0x1000_0000 (QEMU `virt`), polled output only. It
//! is reachable from S-mode too (OpenSBI leaves it to the kernel), so both
//! variants print the same way.

use core::fmt;

const UART_BASE: usize = 0x1000_0000;
/// Transmit holding register.
const THR: usize = 0;
/// Line status register; bit 5 = transmit holding register empty.
const LSR: usize = 5;
const LSR_THRE: u8 = 1 << 5;

/// Writes one byte, waiting until the transmitter can take it.
fn put(b: u8) {
    // SAFETY: the 16550 registers are at this fixed physical address on
    // QEMU virt (paging off); only this module touches them.
    unsafe {
        while core::ptr::read_volatile((UART_BASE + LSR) as *const u8) & LSR_THRE == 0 {}
        core::ptr::write_volatile((UART_BASE + THR) as *mut u8, b);
    }
}

/// Writes `s`, turning `\n` into `\r\n`.
pub fn print(s: &str) {
    for b in s.bytes() {
        if b == b'\n' {
            put(b'\r');
        }
        put(b);
    }
}

/// A `fmt::Write` sink for the console.
pub struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        print(s);
        Ok(())
    }
}

/// `print!` to the console.
#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => {{
        let _ = core::fmt::Write::write_fmt(&mut $crate::console::Console, format_args!($($arg)*));
    }};
}

/// `println!` to the console.
#[macro_export]
macro_rules! kprintln {
    ($($arg:tt)*) => {{
        $crate::kprint!($($arg)*);
        $crate::console::print("\n");
    }};
}
