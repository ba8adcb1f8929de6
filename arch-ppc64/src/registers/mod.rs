//! The debug registers, one file each, named as in the Power ISA.
//!
//! # Bit numbering
//! The Power ISA numbers the bits of a 64-bit register from 0 (the most
//! significant) to 63 (the least significant). Every field below gives the
//! ISA's numbering first and the conventional shift second, converted with
//! `shift = 63 - ibm_bit` (for a field `a:b`, the field's least significant
//! bit is ISA bit `b`, so the field is shifted left by `63 - b`). 32-bit
//! registers (DSISR, instruction words) are numbered 32..63 in the ISA's
//! 64-bit view, so the same formula applies.
//!
//! # Examples
//!
//! ```
//! use hwbreak_ppc64::Dawrx;
//! // DW is ISA bit 57: shift 63 - 57 = 6.
//! assert_eq!(Dawrx::DW, 1 << 6);
//! ```

pub mod ciabr;
pub mod dabr;
pub mod dabrx;
pub mod dawr;
pub mod dawrx;
pub mod dsisr;
pub mod srr1;

/// The value with only ISA bit `bit` (0 = most significant of 64) set.
pub(crate) const fn ibm(bit: u32) -> u64 {
    1u64 << (63 - bit)
}

/// Special-purpose register numbers (`mfspr`/`mtspr` operands).
///
/// # Examples
///
/// ```
/// use hwbreak_ppc64::registers::spr;
/// assert_eq!((spr::DAWR0, spr::DAWRX0), (180, 188));
/// ```
pub mod spr {
    /// Data Storage Interrupt Status Register.
    pub const DSISR: u16 = 18;
    /// Data Address Register.
    pub const DAR: u16 = 19;
    /// Data Address Watchpoint Register 0.
    pub const DAWR0: u16 = 180;
    /// Data Address Watchpoint Register 1 (ISA v3.1).
    pub const DAWR1: u16 = 181;
    /// Completed Instruction Address Breakpoint Register.
    pub const CIABR: u16 = 187;
    /// Data Address Watchpoint Register Extension 0.
    pub const DAWRX0: u16 = 188;
    /// Data Address Watchpoint Register Extension 1 (ISA v3.1).
    pub const DAWRX1: u16 = 189;
    /// Data Address Breakpoint Register.
    pub const DABR: u16 = 1013;
    /// Data Address Breakpoint Register Extension.
    pub const DABRX: u16 = 1015;
}

/// Which privilege states a data watch or instruction breakpoint matches in.
///
/// POWER distinguishes three: problem state (MSR\[PR\] = 1, user code),
/// privileged non-hypervisor state (MSR\[PR\] = 0, MSR\[HV\] = 0, a kernel
/// running in a logical partition) and hypervisor state (MSR\[PR\] = 0,
/// MSR\[HV\] = 1, a bare-metal kernel or a hypervisor).
///
/// # Examples
///
/// ```
/// use hwbreak_ppc64::Privilege;
/// let both = Privilege { problem: true, ..Privilege::PRIVILEGED };
/// assert!(both.problem && both.privileged && !both.hypervisor);
/// assert!(Privilege::default().is_empty());
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Privilege {
    /// Problem state (user).
    pub problem: bool,
    /// Privileged non-hypervisor state (a partitioned kernel).
    pub privileged: bool,
    /// Hypervisor state.
    pub hypervisor: bool,
}

impl Privilege {
    /// Problem state only.
    pub const PROBLEM: Self = Self {
        problem: true,
        privileged: false,
        hypervisor: false,
    };
    /// Privileged non-hypervisor state only.
    pub const PRIVILEGED: Self = Self {
        problem: false,
        privileged: true,
        hypervisor: false,
    };
    /// Hypervisor state only.
    pub const HYPERVISOR: Self = Self {
        problem: false,
        privileged: false,
        hypervisor: true,
    };

    /// Whether no state is selected (the register then never matches).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_ppc64::Privilege;
    /// assert!(!Privilege::HYPERVISOR.is_empty());
    /// ```
    pub const fn is_empty(self) -> bool {
        !self.problem && !self.privileged && !self.hypervisor
    }
}

/// Whether a data watch matches accesses made with data address translation
/// on (MSR\[DR\] = 1), off (real mode), or either.
///
/// # Examples
///
/// ```
/// use hwbreak_ppc64::{Dawrx, Privilege, Translation};
/// let real = Dawrx::new(1, false, true, Privilege::HYPERVISOR, Translation::Real).unwrap();
/// assert_eq!(real.bits() & (Dawrx::WT | Dawrx::WTI), 0);
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Translation {
    /// Only accesses with translation on (DAWRX\[WT\] = 1, DABR\[BT\] = 1).
    #[default]
    Virtual,
    /// Only real-mode accesses (WT/BT = 0).
    Real,
    /// Both (DAWRX\[WTI\] = 1, DABRX\[BTI\] = 1; WT/BT then ignored and 0).
    Either,
}
