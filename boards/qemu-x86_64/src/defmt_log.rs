//! Feature `defmt-log`: the console as defmt frames on COM1.
//!
//! Everything the kernel prints goes through [`Serial`]: the suite's
//! `Board::print`, the banner, the fault and panic reports. With this
//! feature each `write_str` is one `defmt::println!("{=str}", s)` frame.
//! `cargo xtask qemu x86_64-defmt` decodes the frames with the kernel ELF's
//! `.defmt` table, joins these console fragments and splits them into lines
//! again; a frame of any other format (the log macros, `info!` below) is a
//! line of its own. Frames are rzcobs-encoded (defmt's default), each ended
//! by a zero byte, and written raw with polled port I/O.
//!
//! One CPU: a frame is written with interrupts off (the board's
//! critical-section). Exceptions are not masked by that, but nothing prints
//! from #DB (the registry's dispatch, the suite's handlers and the smoke
//! handler only record), so #DB never re-enters the logger. A fault or a
//! panic in the middle of a frame does, and never returns: the logger then
//! ends the interrupted frame with a zero byte (the host reports it as a
//! frame that failed to decode, which fails the run) and writes its own
//! frame after it, instead of panicking as defmt's loggers usually do
//! (which would recurse here: the panic report goes through defmt too).

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, Ordering};

use critical_section::RestoreState;
use hwbreak::Request;

use crate::serial::{self, Serial};

/// The logger's state; see the module documentation.
struct LoggerState {
    /// Frames open: 0 idle, 1 writing, more when a fault or panic re-entered.
    depth: AtomicU32,
    /// Interrupt state before the outermost frame.
    restore: UnsafeCell<RestoreState>,
    /// rzcobs state of the frame being written.
    encoder: UnsafeCell<defmt::Encoder>,
}

// SAFETY: `restore` and `encoder` are only touched between `acquire` and
// `release`, inside the board's critical section (other CPUs excluded,
// interrupts off), by the innermost context.
unsafe impl Sync for LoggerState {}

static LOGGER: LoggerState = LoggerState {
    depth: AtomicU32::new(0),
    restore: UnsafeCell::new(RestoreState::invalid()),
    encoder: UnsafeCell::new(defmt::Encoder::new()),
};

/// Writes encoded bytes to COM1 as they are (no newline translation).
fn put_bytes(bytes: &[u8]) {
    bytes.iter().for_each(|&b| serial::put(b));
}

#[defmt::global_logger]
struct Logger;

// SAFETY: every frame is written between `acquire` and `release`, inside
// the board's critical section (other CPUs wait, interrupts off); a
// re-entering context on the same CPU (a fault or a panic, which never
// return; the critical section nests) ends the interrupted frame before it
// starts its own.
unsafe impl defmt::Logger for Logger {
    fn acquire() {
        // SAFETY: released by the matching `release` of the outermost frame;
        // a re-entering context runs with interrupts already off.
        let restore = unsafe { critical_section::acquire() };
        let depth = LOGGER.depth.fetch_add(1, Ordering::Relaxed);
        // SAFETY: interrupts are off and this is the innermost context.
        let encoder = unsafe { &mut *LOGGER.encoder.get() };
        if depth == 0 {
            // SAFETY: as above.
            unsafe { *LOGGER.restore.get() = restore };
        } else {
            // The interrupted frame is abandoned. A new encoder starts with a
            // zero byte, as defmt's first frame does: it ends the abandoned
            // frame, which the host reports as failing to decode (never a
            // silent loss), and this frame starts clean.
            *encoder = defmt::Encoder::new();
        }
        encoder.start_frame(put_bytes);
    }

    unsafe fn flush() {
        // Polled: every byte is in the UART when `write` returns.
    }

    unsafe fn release() {
        // SAFETY: acquired (the caller's contract); interrupts are off.
        unsafe { (*LOGGER.encoder.get()).end_frame(put_bytes) };
        if LOGGER.depth.fetch_sub(1, Ordering::Relaxed) == 1 {
            // SAFETY: the state saved by the outermost `acquire`.
            unsafe { critical_section::release(*LOGGER.restore.get()) };
        }
    }

    unsafe fn write(bytes: &[u8]) {
        // SAFETY: acquired (the caller's contract); interrupts are off.
        unsafe { (*LOGGER.encoder.get()).write(bytes, put_bytes) };
    }
}

/// The console: one defmt frame per `write_str`; the host makes lines.
impl core::fmt::Write for Serial {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        if !s.is_empty() {
            defmt::println!("{=str}", s);
        }
        Ok(())
    }
}

/// `defmt::panic!` and friends (the message is already logged).
#[defmt::panic_handler]
fn defmt_panic() -> ! {
    crate::exit(false)
}

/// A word to watch, only for [`structured`].
static PROBE: u64 = 0;

/// Logs a few of the library's values with their `defmt::Format` impls, so
/// the host decodes real derived formats: a request, the registry's refusal
/// of it, then a registration and its removal. Changes nothing: the refused
/// request changes nothing, the accepted one is unregistered at once.
pub fn structured() {
    let addr = core::ptr::addr_of!(PROBE) as u64;
    // x86 has no read-only watch: refused with `UnsupportedKind`.
    let read = Request::read(addr, 8);
    defmt::info!("defmt: request {}", read);
    match crate::REG.register(&read) {
        Ok(h) => {
            defmt::warn!("defmt: a read-only watch was accepted as {}", h);
            let _ = crate::REG.unregister(h);
        }
        Err(e) => defmt::info!("defmt: refused {}: {}", read.kind, e),
    }
    let write = Request::write(addr, 8);
    match crate::REG.register(&write) {
        Ok(h) => {
            defmt::info!("defmt: registered {} as {}", write.kind, h);
            let r = crate::REG.unregister(h);
            defmt::info!("defmt: unregistered: {}", r);
        }
        Err(e) => defmt::warn!("defmt: refused {}: {}", write.kind, e),
    }
}
