//! hwbreak test kernel for QEMU `pseries` (64-bit PowerPC, big-endian).
//!
//! Boot: VOF enters the image in 32-bit real mode; `entry` switches to
//! 64-bit mode, sets a stack and the TOC and calls [`hwb_rust_start`], which
//! finds RTAS through the Open Firmware client interface, installs the
//! exception vectors and runs the scenarios. Exit: RTAS `power-off` (QEMU
//! status 0) when everything passed, `ibm,os-term` (status 1 with
//! `-action panic=exit-failure`) otherwise.
#![no_std]
#![no_main]

mod entry;
mod firmware;
mod platform;
mod rt;
mod smoke;
mod trap;

use core::fmt::Write;

/// Prints to the hypervisor console.
#[macro_export]
macro_rules! println {
    ($($t:tt)*) => {{
        let _ = writeln!($crate::firmware::Console, $($t)*);
    }};
}

#[repr(C, align(4096))]
struct RtasArea([u8; 0x10000]);

/// Where RTAS is instantiated.
static mut RTAS_AREA: RtasArea = RtasArea([0; 0x10000]);

/// Rust entry, from `_start` with the client-interface entry in r3.
#[no_mangle]
pub extern "C" fn hwb_rust_start(client_interface: u64) -> ! {
    println!("hwbreak: qemu pseries ({})", smoke::FAMILY_NAME);
    // SAFETY: r5 at entry, vectors not yet installed.
    let of = unsafe { firmware::Of::new(client_interface) };
    let base = core::ptr::addr_of!(RTAS_AREA) as u64;
    match of.rtas(base) {
        Some(rtas) => rtas.publish(),
        None => {
            println!("hwbreak: no RTAS in the device tree; cannot exit");
            loop {
                core::hint::spin_loop();
            }
        }
    }
    // SAFETY: the client interface is no longer used.
    unsafe { entry::install_vectors() };
    let summary = smoke::run();
    if summary.failed == 0 && summary.passed > 0 {
        firmware::power_off()
    } else {
        firmware::os_term(c"hwbreak: scenarios failed")
    }
}
