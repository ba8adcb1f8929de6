//! Watch targets: a static data area accessed only through volatile
//! operations, and distinct never-inlined functions for execute
//! breakpoints.

use core::cell::UnsafeCell;
use core::hint::black_box;
use core::ptr::{read_volatile, write_volatile};

/// Size of the data area.
pub const AREA: usize = 512;

#[repr(C, align(64))]
struct Area(UnsafeCell<[u8; AREA]>);
// SAFETY: accessed only with volatile operations from one CPU at a time.
unsafe impl Sync for Area {}

static DATA: Area = Area(UnsafeCell::new([0; AREA]));

fn ptr(off: usize) -> *mut u8 {
    assert!(off < AREA);
    // SAFETY: in bounds (checked above).
    unsafe { DATA.0.get().cast::<u8>().add(off) }
}

/// The address of byte `off` of the area (64-byte aligned base).
pub fn addr(off: usize) -> u64 {
    ptr(off) as u64
}

/// Stores a byte.
pub fn w8(off: usize, v: u8) {
    // SAFETY: valid pointer into the static area.
    unsafe { write_volatile(ptr(off), v) }
}

/// Loads a byte.
pub fn r8(off: usize) -> u8 {
    // SAFETY: valid pointer into the static area.
    unsafe { read_volatile(ptr(off)) }
}

/// Stores an 8-byte word (`off` 8-aligned).
pub fn w64(off: usize, v: u64) {
    assert!(off.is_multiple_of(8) && off + 8 <= AREA);
    // SAFETY: aligned, in bounds.
    unsafe { write_volatile(ptr(off).cast::<u64>(), v) }
}

/// Loads an 8-byte word (`off` 8-aligned).
pub fn r64(off: usize) -> u64 {
    assert!(off.is_multiple_of(8) && off + 8 <= AREA);
    // SAFETY: aligned, in bounds.
    unsafe { read_volatile(ptr(off).cast::<u64>()) }
}

macro_rules! exec_targets {
    ($($name:ident = $k:literal;)*) => {
        $(
            /// An execute-breakpoint target (distinct body, never inlined).
            #[inline(never)]
            pub fn $name(x: u64) -> u64 {
                black_box(x).wrapping_mul($k as u64).rotate_left(($k as u64 % 13) as u32) ^ ($k as u64)
            }
        )*
        /// Every execute target, in order.
        pub static EXEC: &[fn(u64) -> u64] = &[$($name),*];
    };
}

exec_targets! {
    exec0 = 0x9e37_79b9_u64;
    exec1 = 0x85eb_ca6b_u64;
    exec2 = 0xc2b2_ae35_u64;
    exec3 = 0x27d4_eb2f_u64;
    exec4 = 0x1656_67b1_u64;
    exec5 = 0xd3a2_646c_u64;
    exec6 = 0xfd70_46c5_u64;
    exec7 = 0xb55a_4f09_u64;
}

/// Calls an execute target through an opaque pointer.
pub fn call(f: fn(u64) -> u64, x: u64) -> u64 {
    black_box(black_box(f)(x))
}
