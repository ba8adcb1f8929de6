//! hwbreak test kernel for QEMU `pseries` (64-bit PowerPC, big-endian).
//!
//! Boot: VOF enters the image in 32-bit real mode; `entry` switches to
//! 64-bit mode, sets a stack and the TOC and calls [`hwb_rust_start`], which
//! finds RTAS and the CPUs through the Open Firmware client interface,
//! installs the exception vectors, runs the single-CPU smoke checks, starts
//! the registry and the secondary threads ([`smp`]) and runs the scenarios
//! on CPU 0 with every CPU up. Exit: RTAS `power-off` (QEMU
//! status 0) when everything passed, `ibm,os-term` (status 1 with
//! `-action panic=exit-failure`) otherwise.
//!
//! Built with feature `gdb` (variant `ppc64-gdb`) it runs no checks: with
//! the registry and every CPU up it stops for GDB, connected to a second
//! spapr-vty (see `gdb.rs`), runs `hwbreak_suite::gdb::debuggee` on CPU 1,
//! reports its exit to GDB and powers off.
#![no_std]
#![no_main]

mod entry;
mod firmware;
#[cfg(feature = "gdb")]
mod gdb;
#[cfg(feature = "gdb")]
mod gdb_vty;
mod platform;
mod rt;
#[cfg(not(feature = "gdb"))]
mod smoke;
mod smp;
mod trap;

use core::fmt::Write;
use core::sync::atomic::{AtomicU32, Ordering};

use hwbreak::native::{Family, Ppc64, Trap};
use hwbreak::{Arch, PoolId, Registry, Resume};
#[cfg(not(feature = "gdb"))]
use hwbreak_suite::{Board, Caps};
use platform::Pseries;

/// Printable name of the register family this build selected.
pub const FAMILY_NAME: &str = match Family::NATIVE {
    Family::Dabr => "dabr: DABR",
    Family::Dawr => "dawr: DAWR0 + CIABR",
    Family::Dawr2 => "dawr2: DAWR0 + DAWR1 + CIABR",
};

/// The registry: 64 breakpoints, 4 CPUs, 8 debug contexts, per-CPU tables
/// of the backend's real slot count.
pub static REGISTRY: Registry<
    Ppc64,
    Pseries,
    64,
    { firmware::MAX_CPUS },
    8,
    { hwbreak::native::SLOTS },
> = Registry::new(Ppc64::native(), Pseries::new());

static SPURIOUS: AtomicU32 = AtomicU32::new(0);

/// Every slot, as a [`slot_mask`].
const ALL_SLOTS: [u64; 2] = [u64::MAX; 2];

/// The slots of this CPU the registry's table arms (stepped-over slots
/// excluded), one bit per slot and pool. Outside the registry's own
/// reloads these are exactly the slots armed in this CPU's registers: the
/// registry writes its table, and this board disarms only what the table
/// excludes.
fn slot_mask() -> [u64; 2] {
    let counts = REGISTRY.arch().slot_counts();
    let mut mask = [0u64; 2];
    for (p, pool) in [PoolId::FIRST, PoolId::SECOND].into_iter().enumerate() {
        for i in 0..counts.get(pool) {
            if let Ok(Some(_)) = REGISTRY.armed_slot(pool, i) {
                mask[p] |= 1 << i;
            }
        }
    }
    mask
}

/// Writes the slots of this CPU in `which` (a [`slot_mask`]): from the
/// registry's table, or disarmed. Each write is a hypervisor call, so the
/// debug path writes only the slots that are armed.
fn reload(which: [u64; 2], from_table: bool) {
    let arch = REGISTRY.arch();
    let counts = arch.slot_counts();
    for (p, pool) in [PoolId::FIRST, PoolId::SECOND].into_iter().enumerate() {
        for i in (0..counts.get(pool)).filter(|&i| which[p] & (1 << i) != 0) {
            let image = if from_table {
                REGISTRY.armed_slot(pool, i).ok().flatten()
            } else {
                None
            };
            // SAFETY: this CPU; images come from the registry's table.
            unsafe { arch.write_slot(pool, i, image) };
        }
    }
}

/// Debug interrupts go to the registry. POWER has no switch that stops
/// every watch at once, and the backend's `suspend` cannot know the images
/// to restore, so the board suspends: every armed slot is disarmed while
/// the registry runs handlers (a handler touching watched data must not
/// nest) and the slots the table arms afterwards are rewritten from it
/// (slots being stepped over stay off: the table excludes them). A DSI and
/// the trace interrupt of its step-over cost one slot write each instead
/// of one per slot and direction.
fn registry_debug(trap: &Trap) -> Option<Resume> {
    let ours = trap.vector == hwbreak::native::VECTOR_TRACE
        || hwbreak::native::Dsisr(trap.dsisr).watchpoint_match();
    if !ours {
        return None;
    }
    reload(slot_mask(), false);
    let out = REGISTRY.on_debug_exception(trap);
    // A trap the registry cannot attribute may come from a slot written
    // behind its back (its table says empty): rewrite every slot then, so
    // it cannot trap again.
    reload(if out.spurious { ALL_SLOTS } else { slot_mask() }, true);
    if out.spurious {
        SPURIOUS.fetch_add(1, Ordering::Relaxed);
    }
    Some(out.resume)
}

/// This board, for the suite.
#[cfg(not(feature = "gdb"))]
pub struct PseriesBoard;

#[cfg(not(feature = "gdb"))]
impl Board for PseriesBoard {
    fn print(&self, s: &str) {
        firmware::put_bytes(s.as_bytes());
    }

    fn caps(&self) -> Caps {
        // Seen under QEMU 10 TCG (smoke scenarios and docs/qemu-deviations.md):
        // DAWR0 and CIABR trap on POWER8-10, DAWR1 on POWER10 only; DABR
        // never traps. DAWRX's MRD is misread, so only 8 bytes are watched.
        let family = REGISTRY.arch().family();
        let dawr = family != Family::Dabr;
        Caps {
            data_traps: dawr,
            exec_traps: dawr,
            data_slots: if dawr { family.data_slots() } else { 0 },
            exec_slots: family.code_slots(),
            exact_wide_ranges: false,
        }
    }

    unsafe fn clear_debug_registers(&self) {
        reload(ALL_SLOTS, false);
    }

    fn debug_stack(&self) -> (u64, u64) {
        REGISTRY.platform().debug_stack()
    }

    fn code_addr(&self, f: usize) -> u64 {
        // SAFETY: ELFv1 function pointers point at a descriptor whose first
        // doubleword is the code address.
        unsafe { (f as *const u64).read_volatile() }
    }

    fn spurious_count(&self) -> u32 {
        SPURIOUS.load(Ordering::Relaxed)
    }

    fn smp(&self) -> Option<&dyn hwbreak_suite::Smp> {
        Some(&smp::PseriesSmp)
    }
}

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
    println!("hwbreak: qemu pseries ({FAMILY_NAME})");
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
    let cpus = of.cpus().unwrap_or_else(|e| {
        println!("hwbreak: CPUs: {e}");
        firmware::os_term(c"hwbreak: cannot list the CPUs")
    });
    // SAFETY: once, on the boot CPU, vectors not yet installed.
    if let Err(e) = unsafe { smp::init(&cpus) } {
        println!("hwbreak: CPUs: {e}");
        firmware::os_term(c"hwbreak: cannot identify the boot CPU");
    }
    // SAFETY: the client interface is no longer used.
    unsafe { entry::install_vectors() };
    #[cfg(not(feature = "gdb"))]
    let summary = smoke::run(&PseriesBoard);
    // SAFETY: once, before the registry is initialised.
    unsafe { REGISTRY.platform().init_zones() };
    if let Err(e) = REGISTRY.init().and_then(|()| REGISTRY.cpu_online()) {
        println!("registry start failed: {e}");
        firmware::os_term(c"hwbreak: registry start failed");
    }
    trap::set_hook(registry_debug);
    // CPU 0 answers cross-CPU calls from now on.
    platform::interrupts_on();
    if let Err(e) = smp::start_secondaries() {
        println!("hwbreak: starting the secondary CPUs: {e}");
        firmware::os_term(c"hwbreak: secondary start failed");
    }
    println!("hwbreak: {} CPUs up", smp::cpu_count());
    #[cfg(feature = "gdb")]
    gdb::session();
    #[cfg(not(feature = "gdb"))]
    run_suite(summary)
}

/// The shared suite after the smoke checks; powers off when everything
/// passed.
#[cfg(not(feature = "gdb"))]
fn run_suite(mut summary: hwbreak_suite::Summary) -> ! {
    summary.add(hwbreak_suite::run_scenarios(&REGISTRY, &PseriesBoard));
    summary.print(&PseriesBoard);
    if summary.all_passed() {
        firmware::power_off()
    } else {
        firmware::os_term(c"hwbreak: scenarios failed")
    }
}
