//! PL011 UART at 0x0900_0000 (QEMU `virt`), polled output only.

use core::fmt;

const UART_BASE: usize = 0x0900_0000;
/// Data register.
const DR: usize = 0x00;
/// Flag register; bit 5 = transmit FIFO full.
const FR: usize = 0x18;
const FR_TXFF: u32 = 1 << 5;

/// Writes one byte, waiting while the transmit FIFO is full.
fn put(b: u8) {
    // SAFETY: the PL011 registers are at this fixed physical address on QEMU
    // virt, mapped (MMU off) as device memory; only this module touches them.
    unsafe {
        while core::ptr::read_volatile((UART_BASE + FR) as *const u32) & FR_TXFF != 0 {}
        core::ptr::write_volatile((UART_BASE + DR) as *mut u32, u32::from(b));
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
