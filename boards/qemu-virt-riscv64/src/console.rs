//! The console. Normally the NS16550A UART at 0x1000_0000 (QEMU `virt`),
//! polled output only; it is reachable from S-mode too (OpenSBI leaves it
//! to the kernel), so both modes print the same way.
//!
//! The `gdb` build gives that UART, the machine's only one, to the GDB
//! stub and prints through QEMU semihosting instead (`SYS_WRITEC`, QEMU
//! `-semihosting-config`): no device to drive, allowed from S-mode and
//! M-mode alike, and QEMU sends it to a chardev of the variant's choosing
//! (stdio). The SBI debug console would not do: OpenSBI prints it on the
//! same UART.

use core::fmt;

#[cfg(not(feature = "gdb"))]
const UART_BASE: usize = 0x1000_0000;
/// Transmit holding register.
#[cfg(not(feature = "gdb"))]
const THR: usize = 0;
/// Line status register; bit 5 = transmit holding register empty.
#[cfg(not(feature = "gdb"))]
const LSR: usize = 5;
#[cfg(not(feature = "gdb"))]
const LSR_THRE: u8 = 1 << 5;

/// Writes one byte, waiting until the transmitter can take it.
#[cfg(not(feature = "gdb"))]
fn put(b: u8) {
    // SAFETY: the 16550 registers are at this fixed physical address on
    // QEMU virt (paging off); only this module touches them.
    unsafe {
        while core::ptr::read_volatile((UART_BASE + LSR) as *const u8) & LSR_THRE == 0 {}
        core::ptr::write_volatile((UART_BASE + THR) as *mut u8, b);
    }
}

/// Semihosting operation: write the byte `a1` points to.
#[cfg(feature = "gdb")]
const SYS_WRITEC: usize = 0x03;

// The RISC-V semihosting call: `ebreak` between `slli zero, zero, 0x1f` and
// `srai zero, zero, 7`, all three uncompressed and on one page (QEMU checks
// both), with the operation in a0 and its argument in a1. Aligned to 16
// bytes, the 12-byte sequence cannot cross a page.
#[cfg(feature = "gdb")]
core::arch::global_asm!(
    ".section .text.semihosting, \"ax\"",
    ".balign 16",
    ".globl hwbreak_semihosting_call",
    "hwbreak_semihosting_call:",
    ".option push",
    ".option norvc",
    "slli zero, zero, 0x1f",
    ".globl hwbreak_semihosting_ebreak",
    "hwbreak_semihosting_ebreak:",
    "ebreak",
    "srai zero, zero, 7",
    ".option pop",
    "ret",
);

#[cfg(feature = "gdb")]
extern "C" {
    fn hwbreak_semihosting_call(op: usize, arg: usize) -> usize;
    /// The `ebreak` of [`hwbreak_semihosting_call`]: a trap there means
    /// QEMU was started without semihosting.
    static hwbreak_semihosting_ebreak: u8;
}

/// Whether `pc` is the semihosting call's `ebreak` (which traps only when
/// QEMU runs without semihosting, and must not print then).
#[cfg(feature = "gdb")]
pub fn is_semihosting_ebreak(pc: u64) -> bool {
    pc == &raw const hwbreak_semihosting_ebreak as u64
}

/// Writes one byte through semihosting.
#[cfg(feature = "gdb")]
fn put(b: u8) {
    // SAFETY: QEMU reads the byte `a1` points to (alive across the call)
    // and returns; the call clobbers only what the C ABI allows.
    unsafe { hwbreak_semihosting_call(SYS_WRITEC, &raw const b as usize) };
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
