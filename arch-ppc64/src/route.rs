//! How register values reach the hardware: one small trait, one
//! implementation per route.
//!
//! - `Hcall`: a kernel in a logical partition (MSR\[HV\] = 0, e.g. QEMU or
//!   PowerVM `pseries`) may not write DAWR/CIABR/DABR itself (`mtspr` raises
//!   a privileged-instruction interrupt) and asks the hypervisor: H_SET_MODE
//!   for DAWR0/DAWR1/CIABR, H_SET_XDABR / H_SET_DABR for DABR.
//! - `Mtspr`: a bare-metal kernel in hypervisor state writes the SPRs.
//!
//! Which registers a write touches and with which arguments is computed by
//! pure functions ([`hcall_args`], [`spr_writes`]) tested on the host; only
//! the final instruction is `unsafe`.
//!
//! # Examples
//!
//! ```
//! use hwbreak_ppc64::route::{hcall_args, opcode, spr_writes, Target};
//! // DAWR0 = 0x1000, DAWRX0 = 0x4a: H_SET_MODE(0, resource 2, value, control)
//! // in a partition, or mtspr 180 then 188 in hypervisor state.
//! assert_eq!(
//!     hcall_args(Target::Dawr(0), 0x1000, 0x4a),
//!     (opcode::H_SET_MODE, [0, opcode::RESOURCE_DAWR0, 0x1000, 0x4a])
//! );
//! assert_eq!(spr_writes(Target::Dawr(0), 0x1000, 0x4a), [(180, 0x1000), (188, 0x4a)]);
//! ```

use crate::registers::spr;

/// The register a slot lives in.
///
/// # Examples
///
/// ```
/// use hwbreak_ppc64::route::{spr_writes, Target};
/// assert_eq!(spr_writes(Target::Dabr, 0x1002, 0x2)[0], (1013, 0x1002));
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Target {
    /// CIABR (value only).
    Ciabr,
    /// DAWRn + DAWRXn (n = 0 or 1).
    Dawr(u8),
    /// DABR + DABRX.
    Dabr,
}

/// PAPR hypervisor call numbers used here.
///
/// # Examples
///
/// ```
/// use hwbreak_ppc64::route::opcode;
/// assert_eq!(opcode::H_SET_MODE, 0x31c);
/// ```
pub mod opcode {
    /// H_SET_DABR: DABR only (DABRX set to the hypervisor's default).
    pub const H_SET_DABR: u64 = 0x28;
    /// H_SET_XDABR: DABR and DABRX.
    pub const H_SET_XDABR: u64 = 0x134;
    /// H_SET_MODE: set one of several per-CPU resources.
    pub const H_SET_MODE: u64 = 0x31c;
    /// H_SET_MODE resource 1: CIABR.
    pub const RESOURCE_CIABR: u64 = 1;
    /// H_SET_MODE resource 2: DAWR0/DAWRX0.
    pub const RESOURCE_DAWR0: u64 = 2;
    /// H_SET_MODE resource 5: DAWR1/DAWRX1.
    pub const RESOURCE_DAWR1: u64 = 5;
}

/// PAPR return value of a successful hypervisor call.
pub const H_SUCCESS: i64 = 0;

/// The hypervisor call (opcode and four arguments) that stores `value` and
/// `control` into `target`. Disarming a DABR (`value == 0`) uses H_SET_DABR,
/// since H_SET_XDABR refuses a DABRX without a privilege bit.
///
/// # Examples
///
/// ```
/// use hwbreak_ppc64::route::{hcall_args, opcode, Target};
/// // CIABR = 0x8002 (the instruction at 0x8000, privileged state).
/// assert_eq!(
///     hcall_args(Target::Ciabr, 0x8002, 0),
///     (opcode::H_SET_MODE, [0, opcode::RESOURCE_CIABR, 0x8002, 0])
/// );
/// // Disarming a DABR.
/// assert_eq!(hcall_args(Target::Dabr, 0, 0), (opcode::H_SET_DABR, [0; 4]));
/// ```
pub const fn hcall_args(target: Target, value: u64, control: u64) -> (u64, [u64; 4]) {
    use opcode::*;
    match target {
        // H_SET_MODE(mflags = 0, resource, value1, value2).
        Target::Ciabr => (H_SET_MODE, [0, RESOURCE_CIABR, value, 0]),
        Target::Dawr(0) => (H_SET_MODE, [0, RESOURCE_DAWR0, value, control]),
        Target::Dawr(_) => (H_SET_MODE, [0, RESOURCE_DAWR1, value, control]),
        Target::Dabr if value == 0 => (H_SET_DABR, [0, 0, 0, 0]),
        Target::Dabr => (H_SET_XDABR, [value, control, 0, 0]),
    }
}

/// The SPR writes, in order, that store `value` and `control` into `target`
/// in hypervisor state (CIABR has no extension: its one write is repeated).
///
/// # Examples
///
/// ```
/// use hwbreak_ppc64::registers::spr;
/// use hwbreak_ppc64::route::{spr_writes, Target};
/// assert_eq!(spr_writes(Target::Dawr(1), 7, 9), [(spr::DAWR1, 7), (spr::DAWRX1, 9)]);
/// ```
pub const fn spr_writes(target: Target, value: u64, control: u64) -> [(u16, u64); 2] {
    match target {
        Target::Ciabr => [(spr::CIABR, value), (spr::CIABR, value)],
        Target::Dawr(0) => [(spr::DAWR0, value), (spr::DAWRX0, control)],
        Target::Dawr(_) => [(spr::DAWR1, value), (spr::DAWRX1, control)],
        Target::Dabr => [(spr::DABR, value), (spr::DABRX, control)],
    }
}

/// A way of storing debug registers on the current CPU.
pub(crate) trait Route {
    /// Stores `value`/`control` into `target`; returns the PAPR status
    /// ([`H_SUCCESS`] for routes that cannot fail).
    ///
    /// # Safety
    /// Current CPU only; the values must come from this crate's encoders.
    unsafe fn store(&self, target: Target, value: u64, control: u64) -> i64;
}

/// Hypervisor calls (kernel in a logical partition).
pub(crate) struct Hcall;

/// `mtspr` (kernel in hypervisor state).
pub(crate) struct Mtspr;

impl Route for Hcall {
    /// # Safety
    /// As [`Route::store`], in a logical partition.
    unsafe fn store(&self, target: Target, value: u64, control: u64) -> i64 {
        let (op, args) = hcall_args(target, value, control);
        // SAFETY: the caller guarantees the values are ours; the call only
        // changes this CPU's debug registers.
        unsafe { hcall(op, args) }
    }
}

impl Route for Mtspr {
    /// # Safety
    /// As [`Route::store`], in hypervisor state.
    unsafe fn store(&self, target: Target, value: u64, control: u64) -> i64 {
        let writes = spr_writes(target, value, control);
        for (spr, val) in writes {
            // SAFETY: the caller guarantees hypervisor state and our values.
            unsafe { mtspr(spr, val) };
        }
        H_SUCCESS
    }
}

/// Issues a PAPR hypervisor call with four arguments and returns r3.
///
/// # Safety
/// The caller must run in a logical partition and the call must not touch
/// memory the compiler relies on.
#[cfg(target_arch = "powerpc64")]
pub(crate) unsafe fn hcall(op: u64, args: [u64; 4]) -> i64 {
    let ret: u64;
    // SAFETY: `sc 1` enters the hypervisor, which follows the PAPR calling
    // convention: r3 returns the status, r0 and r4-r12, CTR, XER and CR may
    // be changed; r1, r2 and r13-r31 are preserved. All of those are
    // declared clobbered here.
    unsafe {
        core::arch::asm!(
            "sc 1",
            inlateout("r3") op => ret,
            inlateout("r4") args[0] => _,
            inlateout("r5") args[1] => _,
            inlateout("r6") args[2] => _,
            inlateout("r7") args[3] => _,
            lateout("r0") _,
            lateout("r8") _,
            lateout("r9") _,
            lateout("r10") _,
            lateout("r11") _,
            lateout("r12") _,
            out("ctr") _,
            out("xer") _,
            out("cr0") _,
            out("cr1") _,
            out("cr5") _,
            out("cr6") _,
            out("cr7") _,
            options(nostack)
        );
    }
    ret as i64
}

/// Host stand-in: no hypervisor, nothing stored.
///
/// # Safety
/// Always safe on the host; `unsafe` to match the target signature.
#[cfg(not(target_arch = "powerpc64"))]
pub(crate) unsafe fn hcall(_op: u64, _args: [u64; 4]) -> i64 {
    H_SUCCESS
}

/// Writes one SPR of the debug facility.
///
/// # Safety
/// Hypervisor state, current CPU; `spr` must be one of [`spr`]'s debug
/// registers.
#[cfg(target_arch = "powerpc64")]
pub(crate) unsafe fn mtspr(spr: u16, value: u64) {
    macro_rules! w {
        ($n:literal) => {
            // SAFETY: the caller guarantees hypervisor state; the SPR is a
            // debug register whose only effect is on watch matching.
            unsafe { core::arch::asm!(concat!("mtspr ", $n, ", {0}"), in(reg) value, options(nostack)) }
        };
    }
    match spr {
        spr::DAWR0 => w!(180),
        spr::DAWR1 => w!(181),
        spr::CIABR => w!(187),
        spr::DAWRX0 => w!(188),
        spr::DAWRX1 => w!(189),
        spr::DABR => w!(1013),
        spr::DABRX => w!(1015),
        _ => {}
    }
}

/// Host stand-in: nothing to write.
///
/// # Safety
/// Always safe on the host.
#[cfg(not(target_arch = "powerpc64"))]
pub(crate) unsafe fn mtspr(_spr: u16, _value: u64) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcall_arguments_follow_papr() {
        // H_SET_MODE = 0x31C; resource numbers 1 (CIABR), 2 (DAWR0), 5 (DAWR1).
        assert_eq!(
            hcall_args(Target::Ciabr, 0x1002, 0),
            (0x31c, [0, 1, 0x1002, 0])
        );
        assert_eq!(
            hcall_args(Target::Dawr(0), 0x2000, 0x62),
            (0x31c, [0, 2, 0x2000, 0x62])
        );
        assert_eq!(
            hcall_args(Target::Dawr(1), 0x2000, 0x62),
            (0x31c, [0, 5, 0x2000, 0x62])
        );
        // H_SET_XDABR = 0x134 (dabr, dabrx); disarm through H_SET_DABR = 0x28.
        assert_eq!(
            hcall_args(Target::Dabr, 0x3006, 0x2),
            (0x134, [0x3006, 2, 0, 0])
        );
        assert_eq!(hcall_args(Target::Dabr, 0, 0), (0x28, [0; 4]));
    }

    #[test]
    fn spr_numbers() {
        // Book III SPR numbers: DAWR0 180, DAWRX0 188, DAWR1 181, DAWRX1 189,
        // CIABR 187, DABR 1013, DABRX 1015.
        assert_eq!(spr_writes(Target::Dawr(0), 1, 2), [(180, 1), (188, 2)]);
        assert_eq!(spr_writes(Target::Dawr(1), 1, 2), [(181, 1), (189, 2)]);
        assert_eq!(spr_writes(Target::Dabr, 1, 2), [(1013, 1), (1015, 2)]);
        assert_eq!(spr_writes(Target::Ciabr, 5, 0)[0], (187, 5));
    }
}
