//! Checks the backend's encodings against the real processor, through Linux.
//!
//! A forked child stops itself under `PTRACE_TRACEME`; the parent writes
//! the DR0-DR3/DR7 values this crate encodes into the child with
//! `PTRACE_POKEUSER` (Linux decodes DR7 into its own breakpoints and the
//! CPU arms them), lets the child touch the watched data, and checks that
//! the child stops with SIGTRAP exactly at the watched access and that the
//! DR6 Linux reports decodes to the right slot.
//!
//! Only on Linux x86_64; elsewhere each test prints why it is skipped.

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod linux {
    use core::cell::UnsafeCell;
    use core::ptr::{addr_of, read_volatile, write_volatile};
    use hwbreak_core::{
        AccessKind, Arch, MemoryType, Piece, PoolId, Resume, SlotImage, SlotView, Space,
    };
    use hwbreak_x86::{Trap, X86};

    #[repr(C, align(64))]
    pub struct Buf(UnsafeCell<[u8; 64]>);
    // SAFETY: only the forked child touches the buffer (single-threaded).
    unsafe impl Sync for Buf {}

    pub static BUF: Buf = Buf(UnsafeCell::new([0; 64]));
    /// How far the child got (read by the parent at the stop).
    pub static PROGRESS: Buf = Buf(UnsafeCell::new([0; 64]));

    pub fn buf(offset: usize) -> *mut u8 {
        // SAFETY: offset is below 64 in every caller.
        unsafe { BUF.0.get().cast::<u8>().add(offset) }
    }

    fn progress() -> *mut u64 {
        PROGRESS.0.get().cast::<u64>()
    }

    pub fn set_progress(v: u64) {
        // SAFETY: valid, aligned, child-only.
        unsafe { write_volatile(progress(), v) }
    }

    #[inline(never)]
    pub extern "C" fn exec_target(x: u64) -> u64 {
        core::hint::black_box(x).wrapping_mul(3)
    }

    struct View<'a>(&'a [(usize, SlotImage)]);
    impl SlotView for View<'_> {
        fn slot(&self, pool: PoolId, index: usize) -> Option<SlotImage> {
            (pool == PoolId::FIRST)
                .then(|| self.0.iter().find(|(i, _)| *i == index).map(|(_, s)| *s))
                .flatten()
        }
    }

    fn dr_offset(n: usize) -> usize {
        core::mem::offset_of!(libc::user, u_debugreg) + n * 8
    }

    /// Runs `child` in a traced child with the given slots armed; returns the
    /// child's PROGRESS value and DR6 at its first SIGTRAP, and the decoded
    /// trap. Panics if the child exits without trapping.
    pub fn run_traced(
        slots: &[(usize, Piece)],
        child: fn(),
    ) -> (u64, u64, hwbreak_core::Decoded, u64) {
        let x = X86::new();
        let images: Vec<(usize, SlotImage)> = slots
            .iter()
            .map(|(i, p)| (*i, x.encode(p).expect("encodable")))
            .collect();
        let mut table = [None; 4];
        for (i, img) in &images {
            table[*i] = Some(*img);
        }
        let dr7 = x.control_word(PoolId::FIRST, &table);

        // SAFETY: plain fork; the child only does async-signal-safe work
        // (ptrace, raise, volatile memory accesses, _exit).
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            // SAFETY: in the child: become traced, stop, run, exit.
            unsafe {
                libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
                libc::raise(libc::SIGSTOP);
                child();
                libc::_exit(0);
            }
        }
        let mut status = 0;
        // SAFETY: waiting on our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFSTOPPED(status) && libc::WSTOPSIG(status) == libc::SIGSTOP);
        for (i, img) in &images {
            // SAFETY: POKEUSER into our stopped tracee.
            let r = unsafe {
                libc::ptrace(
                    libc::PTRACE_POKEUSER,
                    pid,
                    dr_offset(*i),
                    img.value as usize,
                )
            };
            assert_eq!(r, 0, "POKEUSER DR{i}");
        }
        // SAFETY: as above.
        let r = unsafe { libc::ptrace(libc::PTRACE_POKEUSER, pid, dr_offset(7), dr7 as usize) };
        assert_eq!(r, 0, "POKEUSER DR7 = {dr7:#x}");
        // SAFETY: resume the tracee.
        unsafe { libc::ptrace(libc::PTRACE_CONT, pid, 0, 0) };
        // SAFETY: waiting on our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(
            libc::WIFSTOPPED(status) && libc::WSTOPSIG(status) == libc::SIGTRAP,
            "child did not trap (status {status:#x})"
        );
        // SAFETY: PEEK from our stopped tracee.
        let prog =
            unsafe { libc::ptrace(libc::PTRACE_PEEKDATA, pid, addr_of!(PROGRESS) as usize, 0) }
                as u64;
        // SAFETY: as above.
        let dr6 = unsafe { libc::ptrace(libc::PTRACE_PEEKUSER, pid, dr_offset(6), 0) } as u64;
        // SAFETY: user_regs_struct is plain integers; all-zero is valid.
        let mut regs: libc::user_regs_struct = unsafe { core::mem::zeroed() };
        // SAFETY: as above, into a properly sized struct.
        unsafe { libc::ptrace(libc::PTRACE_GETREGS, pid, 0, &mut regs as *mut _) };
        let decoded = x.decode(&Trap::new(dr6), &View(&images));
        // Disarm and let the child finish.
        // SAFETY: as above.
        unsafe {
            libc::ptrace(libc::PTRACE_POKEUSER, pid, dr_offset(7), 0);
            libc::ptrace(libc::PTRACE_CONT, pid, 0, 0);
            libc::waitpid(pid, &mut status, 0);
        }
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        (prog, dr6, decoded, regs.rip)
    }

    pub fn piece(addr: u64, len: u64, kind: AccessKind) -> Piece {
        Piece {
            addr,
            len,
            kind,
            space: Space::User,
            memory: MemoryType::Normal,
        }
    }

    pub fn base() -> u64 {
        buf(0) as u64
    }

    pub fn check_resume(d: &hwbreak_core::Decoded, r: Resume) {
        assert_eq!(d.resume, Some(r));
    }

    pub fn read8(offset: usize) -> u8 {
        // SAFETY: in-bounds, child-only.
        unsafe { read_volatile(buf(offset)) }
    }

    pub fn write8(offset: usize, v: u8) {
        // SAFETY: in-bounds, child-only.
        unsafe { write_volatile(buf(offset), v) }
    }
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
use linux::*;

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn skip() {
    println!("skipped: needs Linux on x86_64 (ptrace PTRACE_POKEUSER of debug registers)");
}

/// DR0, write, 4 bytes: the neighbouring bytes do not trap, the watched
/// byte does, after the store (DR6 = B0).
#[test]
fn write_4_traps_on_watched_bytes_only() {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    {
        let p = piece(base() + 8, 4, hwbreak_core::AccessKind::Write);
        let (prog, dr6, d, _) = run_traced(&[(0, p)], || {
            write8(7, 1); // just below
            write8(12, 1); // just above
            let _ = read8(8); // a read of a write watch
            set_progress(1);
            write8(11, 0xaa); // last watched byte
            set_progress(2);
        });
        assert_eq!(
            prog, 1,
            "trap must come at the watched store, after the neighbours"
        );
        assert_eq!(dr6 & 0xf, 0b0001, "DR6 = {dr6:#x}");
        assert_eq!(d.hits[0], 0b0001);
        check_resume(&d, hwbreak_core::Resume::Continue);
    }
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    skip();
}

/// DR2, read/write, 8 bytes: a load traps (B2).
#[test]
fn read_write_8_traps_on_load() {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    {
        let p = piece(base() + 16, 8, hwbreak_core::AccessKind::ReadWrite);
        let (prog, dr6, d, _) = run_traced(&[(2, p)], || {
            let _ = read8(24); // one past the end
            let _ = read8(15); // one before
            set_progress(1);
            let _ = read8(23); // last byte
            set_progress(2);
        });
        assert_eq!(prog, 1);
        assert_eq!(dr6 & 0xf, 0b0100, "DR6 = {dr6:#x}");
        assert_eq!(d.hits[0], 0b0100);
    }
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    skip();
}

/// DR1, write, 2 bytes at an offset of 2, together with DR3 (1 byte): the
/// trap names exactly the slot whose range was written.
#[test]
fn length_2_and_1_pick_the_right_slot() {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    {
        let a = piece(base() + 34, 2, hwbreak_core::AccessKind::Write);
        let b = piece(base() + 40, 1, hwbreak_core::AccessKind::Write);
        let (prog, dr6, d, _) = run_traced(&[(1, a), (3, b)], || {
            write8(33, 1);
            write8(36, 1);
            write8(41, 1);
            write8(39, 1);
            set_progress(1);
            write8(40, 1);
            set_progress(2);
        });
        assert_eq!(prog, 1);
        assert_eq!(dr6 & 0xf, 0b1000, "DR6 = {dr6:#x}");
        assert_eq!(d.hits[0], 0b1000);
    }
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    skip();
}

/// DR3, execute: the child stops before the function's first instruction;
/// the decoder asks for RF and reports the instruction address.
#[test]
fn execute_traps_before_the_instruction() {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    {
        let f = exec_target as extern "C" fn(u64) -> u64 as usize as u64;
        let p = piece(f, 1, hwbreak_core::AccessKind::Execute);
        let (prog, dr6, d, rip) = run_traced(&[(3, p)], || {
            set_progress(1);
            core::hint::black_box(exec_target(core::hint::black_box(5)));
            set_progress(2);
        });
        assert_eq!(prog, 1);
        assert_eq!(dr6 & 0xf, 0b1000, "DR6 = {dr6:#x}");
        assert_eq!(rip, f, "stopped at the function's first byte");
        check_resume(&d, hwbreak_core::Resume::SetResumeFlag);
        assert_eq!(d.address, Some(f));
    }
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    skip();
}
