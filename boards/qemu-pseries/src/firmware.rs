//! What the platform firmware offers this kernel: the hypervisor console
//! (H_PUT_TERM_CHAR), the Open Firmware client interface (VOF) to find RTAS
//! and its tokens in the device tree, and RTAS to power off.

use core::ffi::CStr;
use core::fmt;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// H_PUT_TERM_CHAR: write up to 16 bytes to a virtual terminal.
const H_PUT_TERM_CHAR: u64 = 0x58;

/// A PAPR hypervisor call with up to six arguments; returns r3.
///
/// # Safety
/// Logical partition only; the call must not write memory Rust owns.
pub unsafe fn hcall(op: u64, a: [u64; 6]) -> i64 {
    let ret: u64;
    // SAFETY: `sc 1` follows PAPR: r3 returns the status; r0, r4-r12, CTR,
    // XER and CR fields 0, 1, 5-7 may change (all declared clobbered).
    unsafe {
        core::arch::asm!(
            "sc 1",
            inlateout("r3") op => ret,
            inlateout("r4") a[0] => _,
            inlateout("r5") a[1] => _,
            inlateout("r6") a[2] => _,
            inlateout("r7") a[3] => _,
            inlateout("r8") a[4] => _,
            inlateout("r9") a[5] => _,
            lateout("r0") _, lateout("r10") _, lateout("r11") _, lateout("r12") _,
            out("ctr") _, out("xer") _,
            out("cr0") _, out("cr1") _, out("cr5") _, out("cr6") _, out("cr7") _,
            options(nostack)
        );
    }
    ret as i64
}

/// Writes bytes to vty 0 (terminal number 0 selects the default vty).
pub fn put_bytes(bytes: &[u8]) {
    for chunk in bytes.chunks(16) {
        let mut buf = [0u8; 16];
        buf[..chunk.len()].copy_from_slice(chunk);
        let hi = u64::from_be_bytes(buf[..8].try_into().unwrap_or([0; 8]));
        let lo = u64::from_be_bytes(buf[8..].try_into().unwrap_or([0; 8]));
        // SAFETY: H_PUT_TERM_CHAR only reads its register arguments.
        unsafe { hcall(H_PUT_TERM_CHAR, [0, chunk.len() as u64, hi, lo, 0, 0]) };
    }
}

/// The console as a `fmt::Write`.
pub struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        put_bytes(s.as_bytes());
        Ok(())
    }
}

/// Calls the Open Firmware client interface at `entry` with `args`
/// (32-bit big-endian cells: service, nargs, nret, args..., rets...).
///
/// # Safety
/// `entry` must be the client-interface entry the firmware passed in r5,
/// before the vectors were overwritten.
unsafe fn of_enter(entry: u64, args: *mut u32) -> u32 {
    let ret: u64;
    // SAFETY: VOF's entry is C code following the ELF ABI (it may use the
    // stack below r1 and its own TOC, restored here). Volatile registers, LR and CTR are declared clobbered.
    unsafe {
        core::arch::asm!(
            // The firmware's C code runs with its own TOC in r2: keep ours
            // in a non-volatile register across the call.
            "mr {toc}, 2",
            "mtctr {e}",
            "bctrl",
            "mr 2, {toc}",
            e = in(reg) entry,
            toc = inout(reg) 0u64 => _,
            inlateout("r3") args as u64 => ret,
            lateout("r0") _, lateout("r4") _, lateout("r5") _, lateout("r6") _,
            lateout("r7") _, lateout("r8") _, lateout("r9") _, lateout("r10") _,
            lateout("r11") _, lateout("r12") _,
            out("lr") _, out("ctr") _, out("xer") _,
            out("cr0") _, out("cr1") _, out("cr5") _, out("cr6") _, out("cr7") _,
        );
    }
    ret as u32
}

/// The Open Firmware client interface.
pub struct Of {
    entry: u64,
}

impl Of {
    /// The client interface at `entry` (r5 at boot).
    ///
    /// # Safety
    /// As [`of_enter`].
    pub unsafe fn new(entry: u64) -> Self {
        Self { entry }
    }

    fn call<const R: usize>(&self, service: &CStr, args: &[u32]) -> Option<[u32; R]> {
        let mut cells = [0u32; 16];
        cells[0] = service.as_ptr() as usize as u32;
        cells[1] = args.len() as u32;
        cells[2] = R as u32;
        cells[3..3 + args.len()].copy_from_slice(args);
        // SAFETY: `new`'s contract; the cell array lives on our stack below 4 GiB.
        let status = unsafe { of_enter(self.entry, cells.as_mut_ptr()) };
        if status != 0 {
            return None;
        }
        let mut rets = [0u32; R];
        rets.copy_from_slice(&cells[3 + args.len()..3 + args.len() + R]);
        Some(rets)
    }

    fn finddevice(&self, path: &CStr) -> Option<u32> {
        let [ph] = self.call::<1>(c"finddevice", &[path.as_ptr() as usize as u32])?;
        (ph != 0 && ph != u32::MAX).then_some(ph)
    }

    fn getprop_u32(&self, ph: u32, name: &CStr) -> Option<u32> {
        let mut buf = [0u32; 1];
        let [len] = self.call::<1>(
            c"getprop",
            &[
                ph,
                name.as_ptr() as usize as u32,
                buf.as_mut_ptr() as usize as u32,
                4,
            ],
        )?;
        (len == 4).then_some(buf[0])
    }

    /// Finds RTAS in the device tree, instantiates it at `base` and reads
    /// the tokens this kernel uses.
    pub fn rtas(&self, base: u64) -> Option<Rtas> {
        let ph = self.finddevice(c"/rtas")?;
        let power_off = self.getprop_u32(ph, c"power-off")?;
        let os_term = self.getprop_u32(ph, c"ibm,os-term")?;
        let size = self.getprop_u32(ph, c"rtas-size").unwrap_or(0);
        if u64::from(size) > RTAS_AREA_SIZE {
            return None;
        }
        let [ih] = self.call::<1>(c"open", &[c"/rtas".as_ptr() as usize as u32])?;
        let [catch, entry] = self.call::<2>(
            c"call-method",
            &[
                c"instantiate-rtas".as_ptr() as usize as u32,
                ih,
                base as u32,
            ],
        )?;
        if catch != 0 {
            return None;
        }
        Some(Rtas {
            entry: u64::from(entry),
            base,
            power_off,
            os_term,
        })
    }
}

/// The instantiated RTAS and the tokens this kernel uses.
#[derive(Copy, Clone, Debug)]
pub struct Rtas {
    /// Entry point.
    pub entry: u64,
    /// Where it was instantiated.
    pub base: u64,
    /// Token of `power-off`.
    pub power_off: u32,
    /// Token of `ibm,os-term`.
    pub os_term: u32,
}

/// Bytes the kernel sets aside for RTAS.
pub const RTAS_AREA_SIZE: u64 = 0x10000;

static RTAS_ENTRY: AtomicU64 = AtomicU64::new(0);
static RTAS_BASE: AtomicU64 = AtomicU64::new(0);
static RTAS_POWER_OFF: AtomicU32 = AtomicU32::new(0);
static RTAS_OS_TERM: AtomicU32 = AtomicU32::new(0);

impl Rtas {
    /// Remembers this RTAS for [`power_off`] and [`os_term`].
    pub fn publish(&self) {
        RTAS_BASE.store(self.base, Ordering::Relaxed);
        RTAS_POWER_OFF.store(self.power_off, Ordering::Relaxed);
        RTAS_OS_TERM.store(self.os_term, Ordering::Relaxed);
        RTAS_ENTRY.store(self.entry, Ordering::Release);
    }
}

/// Calls RTAS with `token` and `args` (one return cell).
fn rtas_call(token: u32, args: &[u32]) {
    let entry = RTAS_ENTRY.load(Ordering::Acquire);
    if entry == 0 {
        return;
    }
    let mut cells = [0u32; 8];
    cells[0] = token;
    cells[1] = args.len() as u32;
    cells[2] = 1;
    cells[3..3 + args.len()].copy_from_slice(args);
    // SAFETY: RTAS is entered with r3 = argument cells, r4 = its base, in
    // real mode with interrupts off; it returns with `blr`. Volatile
    // registers, LR and CTR are declared clobbered.
    unsafe {
        core::arch::asm!(
            "mr {toc}, 2",
            "mtctr {e}",
            "bctrl",
            "mr 2, {toc}",
            e = in(reg) entry,
            toc = inout(reg) 0u64 => _,
            inlateout("r3") cells.as_mut_ptr() as u64 => _,
            inlateout("r4") RTAS_BASE.load(Ordering::Relaxed) => _,
            lateout("r0") _, lateout("r5") _, lateout("r6") _,
            lateout("r7") _, lateout("r8") _, lateout("r9") _, lateout("r10") _,
            lateout("r11") _, lateout("r12") _,
            out("lr") _, out("ctr") _, out("xer") _,
            out("cr0") _, out("cr1") _, out("cr5") _, out("cr6") _, out("cr7") _,
        );
    }
}

/// Powers the machine off: QEMU exits with status 0.
pub fn power_off() -> ! {
    rtas_call(RTAS_POWER_OFF.load(Ordering::Relaxed), &[0, 0]);
    halt()
}

/// Terminates the OS with a message: with `-action panic=exit-failure`
/// QEMU exits with status 1.
pub fn os_term(msg: &CStr) -> ! {
    rtas_call(
        RTAS_OS_TERM.load(Ordering::Relaxed),
        &[msg.as_ptr() as usize as u32],
    );
    halt()
}

fn halt() -> ! {
    loop {
        core::hint::spin_loop();
    }
}
