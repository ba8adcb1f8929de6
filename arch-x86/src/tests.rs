//! Unit tests of the backend against values derived by hand from the Intel
//! SDM Vol. 3B §18.2 (DR7 layout: Gn at bit 2n+1, R/Wn at 17+4n:16+4n,
//! LENn at 19+4n:18+4n; R/W 00 exec, 01 write, 10 I/O, 11 read/write;
//! LEN 00 = 1, 01 = 2, 11 = 4, 10 = 8 bytes).

use super::*;
use hwbreak_core::cover::exact_cover;
use hwbreak_core::{MemoryType, Space};

fn piece(addr: u64, len: u64, kind: AccessKind) -> Piece {
    Piece {
        addr,
        len,
        kind,
        space: Space::Kernel,
        memory: MemoryType::Normal,
    }
}

fn err<T: core::fmt::Debug>(r: Result<T>) -> ErrorKind {
    r.unwrap_err().kind()
}

struct View([Option<SlotImage>; 4]);
impl SlotView for View {
    fn slot(&self, pool: PoolId, index: usize) -> Option<SlotImage> {
        if pool == PoolId::FIRST {
            self.0.get(index).copied().flatten()
        } else {
            None
        }
    }
}

#[test]
fn one_shared_pool_of_four() {
    let x = X86::new();
    assert_eq!(X86::POOLS, 1);
    assert_eq!(x.slot_counts().get(PoolId::FIRST), 4);
    assert_eq!(x.slot_counts().get(PoolId::SECOND), 0);
    for k in [
        AccessKind::Execute,
        AccessKind::Write,
        AccessKind::ReadWrite,
    ] {
        assert_eq!(x.pool_of(k), Ok(PoolId::FIRST));
    }
    assert_eq!(err(x.pool_of(AccessKind::Read)), ErrorKind::UnsupportedKind);
    assert_eq!(err(x.pool_of(AccessKind::Io)), ErrorKind::NotEnabled);
    // SAFETY: a host test; nothing is armed.
    let io = unsafe { X86::with_io_breakpoints() };
    assert_eq!(io.pool_of(AccessKind::Io), Ok(PoolId::FIRST));
}

#[test]
fn encode_write_4() {
    // Write, 4 bytes: G = bit 1 (0x2), R/W = 01 << 16 (0x1_0000),
    // LEN = 11 << 18 (0xc_0000) => control 0xd_0002; DRn = the address.
    let img = X86::new()
        .encode(&piece(0x1000, 4, AccessKind::Write))
        .unwrap();
    assert_eq!(
        img,
        SlotImage {
            value: 0x1000,
            control: 0x000d_0002
        }
    );
}

#[test]
fn encode_every_kind_and_length() {
    let x = X86::new();
    // (kind, len, control): R/W << 16 | LEN << 18 | G (0x2).
    let cases = [
        (AccessKind::Write, 1, 0x0001_0002),     // 01, 00
        (AccessKind::Write, 2, 0x0005_0002),     // 01, 01
        (AccessKind::Write, 8, 0x0009_0002),     // 01, 10
        (AccessKind::ReadWrite, 1, 0x0003_0002), // 11, 00
        (AccessKind::ReadWrite, 2, 0x0007_0002), // 11, 01
        (AccessKind::ReadWrite, 4, 0x000f_0002), // 11, 11
        (AccessKind::ReadWrite, 8, 0x000b_0002), // 11, 10
        (AccessKind::Execute, 1, 0x0000_0002),   // 00, 00
    ];
    for (kind, len, control) in cases {
        let img = x.encode(&piece(0x4000, len, kind)).unwrap();
        assert_eq!(img.control, control, "{kind:?} {len}");
        assert_eq!(img.value, 0x4000);
    }
    // SAFETY: host test.
    let io = unsafe { X86::with_io_breakpoints() };
    // I/O port 0x3f8, 1 byte: R/W = 10 << 16 (0x2_0000) | G => 0x2_0002;
    // 4 bytes at 0xcf8: LEN 11 << 18 => 0xe_0002.
    assert_eq!(
        io.encode(&piece(0x3f8, 1, AccessKind::Io)).unwrap().control,
        0x0002_0002
    );
    assert_eq!(
        io.encode(&piece(0xcf8, 4, AccessKind::Io)).unwrap().control,
        0x000e_0002
    );
}

#[test]
fn execute_any_alignment_length_one_only() {
    let x = X86::new();
    for addr in [0x1001, 0x1003, 0xffff_8000_0000_0007] {
        let img = x.encode(&piece(addr, 1, AccessKind::Execute)).unwrap();
        assert_eq!(
            img,
            SlotImage {
                value: addr,
                control: 0x2
            }
        );
        assert_eq!(x.max_piece(AccessKind::Execute, addr, 1), Ok(1));
    }
    for len in [2, 4, 8, 15] {
        assert_eq!(
            err(x.encode(&piece(0x1000, len, AccessKind::Execute))),
            ErrorKind::UnsupportedLength
        );
        assert_eq!(
            err(x.max_piece(AccessKind::Execute, 0x1000, len)),
            ErrorKind::UnsupportedLength
        );
    }
}

#[test]
fn refusals_have_exact_kinds() {
    let x = X86::new();
    let e = |p: Piece| err(x.encode(&p));
    assert_eq!(
        e(piece(0x1000, 4, AccessKind::Read)),
        ErrorKind::UnsupportedKind
    );
    assert_eq!(
        e(piece(0x1000, 0, AccessKind::Write)),
        ErrorKind::ZeroLength
    );
    for len in [3, 5, 6, 7, 16] {
        assert_eq!(
            e(piece(0x1000, len, AccessKind::Write)),
            ErrorKind::UnsupportedLength
        );
    }
    assert_eq!(
        e(piece(0x1001, 2, AccessKind::Write)),
        ErrorKind::Misaligned
    );
    assert_eq!(
        e(piece(0x1002, 4, AccessKind::ReadWrite)),
        ErrorKind::Misaligned
    );
    assert_eq!(
        e(piece(0x1004, 8, AccessKind::Write)),
        ErrorKind::Misaligned
    );
    assert_eq!(
        e(piece(u64::MAX, 2, AccessKind::Write)),
        ErrorKind::AddressOverflow
    );
    // 0x0000_8000_0000_0000 is the first non-canonical address.
    assert_eq!(
        e(piece(0x0000_8000_0000_0000, 8, AccessKind::Write)),
        ErrorKind::NonCanonical
    );
    assert_eq!(
        e(piece(0x1234_5678_0000_0000, 1, AccessKind::Execute)),
        ErrorKind::NonCanonical
    );
    // The last canonical low-half 8 bytes are fine; one more byte is not.
    assert!(x
        .encode(&piece(0x0000_7fff_ffff_fff8, 8, AccessKind::Write))
        .is_ok());
    assert_eq!(
        e(piece(0x0000_7fff_ffff_ffff, 2, AccessKind::Write)),
        ErrorKind::Misaligned
    );
    assert_eq!(e(piece(0x1000, 1, AccessKind::Io)), ErrorKind::NotEnabled);
    // SAFETY: host test.
    let io = unsafe { X86::with_io_breakpoints() };
    assert_eq!(
        err(io.encode(&piece(0x80, 8, AccessKind::Io))),
        ErrorKind::UnsupportedLength
    );
    assert_eq!(
        err(io.encode(&piece(0xffff, 2, AccessKind::Io))),
        ErrorKind::Misaligned
    );
    assert_eq!(
        err(io.encode(&piece(0x1_0000, 1, AccessKind::Io))),
        ErrorKind::AddressOverflow
    );
    assert_eq!(
        err(io.max_piece(AccessKind::Io, 0xfffe, 4)),
        ErrorKind::AddressOverflow
    );
    assert_eq!(
        err(x.max_piece(AccessKind::Read, 0, 1)),
        ErrorKind::UnsupportedKind
    );
    assert_eq!(
        err(x.max_piece(AccessKind::Write, 0, 0)),
        ErrorKind::ZeroLength
    );
    assert_eq!(
        err(x.max_piece(AccessKind::Write, u64::MAX, 2)),
        ErrorKind::AddressOverflow
    );
}

#[test]
fn check_range_canonical() {
    let x = X86::new();
    let ok = |a, e| x.check_range(a, e, Space::Kernel);
    assert_eq!(ok(0x1000, 0x1008), Ok(()));
    assert_eq!(ok(0x0000_7fff_ffff_fff8, 0x0000_8000_0000_0000), Ok(()));
    assert_eq!(
        err(ok(0x0000_7fff_ffff_fff8, 0x0000_8000_0000_0001)),
        ErrorKind::NonCanonical
    );
    assert_eq!(ok(0xffff_8000_0000_0000, 0xffff_8000_0000_0010), Ok(()));
    assert_eq!(
        err(ok(0xffff_7fff_ffff_fff0, 0xffff_8000_0000_0010)),
        ErrorKind::NonCanonical
    );
    assert_eq!(ok(0xffff_ffff_ffff_fff0, 0xffff_ffff_ffff_ffff), Ok(()));
    // Both ends canonical but in different halves: spans the hole.
    assert_eq!(
        err(ok(0x1000, 0xffff_8000_0000_0010)),
        ErrorKind::NonCanonical
    );
    assert_eq!(err(ok(0x1000, 0x1000)), ErrorKind::ZeroLength);
    assert_eq!(err(ok(0x1000, 0xfff)), ErrorKind::AddressOverflow);
    // Space does not matter to the hardware check.
    assert_eq!(
        x.check_range(0xffff_8000_0000_0000, 0xffff_8000_0000_0008, Space::User),
        Ok(())
    );
    assert!(is_canonical(0) && is_canonical(u64::MAX) && !is_canonical(1 << 47));
}

#[test]
fn max_piece_is_largest_natural_block() {
    let x = X86::new();
    let m = |a, l| x.max_piece(AccessKind::Write, a, l).unwrap();
    assert_eq!(m(0x1000, 100), 8);
    assert_eq!(m(0x1000, 7), 4);
    assert_eq!(m(0x1004, 100), 4);
    assert_eq!(m(0x1002, 100), 2);
    assert_eq!(m(0x1003, 100), 1);
    assert_eq!(m(0x1000, 1), 1);
    assert_eq!(m(0x1006, 3), 2);
    // Address 0 is aligned to every size.
    assert_eq!(m(0, 100), 8);
    assert_eq!(m(0, 5), 4);
    // Near the top of the address space: 8 aligned bytes of 15.
    assert_eq!(m(0xffff_ffff_ffff_fff0, 15), 8);
    assert_eq!(m(0xffff_ffff_ffff_fffe, 1), 1);
    // SAFETY: host test.
    let io = unsafe { X86::with_io_breakpoints() };
    assert_eq!(io.max_piece(AccessKind::Io, 0xcf8, 8), Ok(4));
    assert_eq!(io.max_piece(AccessKind::Io, 0, 3), Ok(2));
    assert_eq!(io.max_piece(AccessKind::Io, 0x61, 3), Ok(1));
}

#[test]
fn greedy_cover_of_13_unaligned_bytes_is_exact() {
    // [0x1003, 0x1010): 1 byte at 0x1003, 4 at 0x1004, 8 at 0x1008.
    let c = exact_cover(
        &X86::new(),
        0x1003,
        13,
        AccessKind::Write,
        Space::Kernel,
        MemoryType::Normal,
        4,
    )
    .unwrap();
    let got: [(u64, u64); 3] = {
        let mut it = c.pieces().map(|p| (p.addr, p.len));
        [it.next().unwrap(), it.next().unwrap(), it.next().unwrap()]
    };
    assert_eq!(c.pieces().len(), 3);
    assert_eq!(got, [(0x1003, 1), (0x1004, 4), (0x1008, 8)]);
    // 0x1001..0x1020 needs 1 + 2 + 4 + 8 + 8 + 8 = 6 pieces: not coverable
    // with 4 slots.
    let e = exact_cover(
        &X86::new(),
        0x1001,
        31,
        AccessKind::Write,
        Space::Kernel,
        MemoryType::Normal,
        4,
    );
    assert_eq!(e.unwrap_err().kind(), ErrorKind::NotCoverable);
}

#[test]
fn control_word_places_each_slot_and_ors() {
    let x = X86::new();
    let w4 = x.encode(&piece(0x1000, 4, AccessKind::Write)).unwrap();
    let ex = x.encode(&piece(0x2001, 1, AccessKind::Execute)).unwrap();
    let rw8 = x.encode(&piece(0x3000, 8, AccessKind::ReadWrite)).unwrap();
    // DR1 = write 4: G1 (0x8), fields 0xd << 20 => 0xd0_0008.
    // DR2 = exec: G2 (0x20), fields 0.
    // + LE|GE (0x300) + bit 10 (0x400) => 0x00d0_0728.
    let a = x.control_word(PoolId::FIRST, &[None, Some(w4), Some(ex), None]);
    assert_eq!(a, 0x00d0_0728);
    // DR3 = read/write 8: G3 (0x80), fields 0xb << 28 => 0xb000_0080 + 0x700.
    let b = x.control_word(PoolId::FIRST, &[None, None, None, Some(rw8)]);
    assert_eq!(b, 0xb000_0780);
    // Disjoint tables combine with OR into the word of the union.
    let both = x.control_word(PoolId::FIRST, &[None, Some(w4), Some(ex), Some(rw8)]);
    assert_eq!(a | b, both);
    // An empty table is DR7's reset value, neutral under OR.
    let empty = x.control_word(PoolId::FIRST, &[None; 4]);
    assert_eq!(empty, 0x400);
    assert_eq!(empty | a, a);
    // GD (bit 13) and the reserved-zero bits are never produced.
    assert_eq!(both & (dr7::GD | dr7::RESERVED_ZERO), 0);
    assert_eq!(x.control_word(PoolId::SECOND, &[Some(w4)]), 0);
    // Extra entries past DR3 are ignored.
    assert_eq!(
        x.control_word(PoolId::FIRST, &[None, None, None, None, Some(w4)]),
        0x400
    );
}

#[test]
fn decode_hits_and_resume() {
    let x = X86::new();
    let w4 = x.encode(&piece(0x1000, 4, AccessKind::Write)).unwrap();
    let ex = x.encode(&piece(0x2001, 1, AccessKind::Execute)).unwrap();
    let view = View([Some(w4), None, Some(ex), None]);

    // B0 (data): hit 0b1, Continue (trap after the access), no address.
    let d = x.decode(&Trap::new(dr6::RESET | 0b0001), &view);
    assert_eq!(d.hits, [0b0001, 0]);
    assert_eq!(d.resume, Some(Resume::Continue));
    assert_eq!(d.address, None);
    assert!(!d.step_complete);

    // B2 (execute): SetResumeFlag, the instruction address.
    let d = x.decode(&Trap::new(dr6::RESET | 0b0100), &view);
    assert_eq!(d.hits, [0b0100, 0]);
    assert_eq!(d.resume, Some(Resume::SetResumeFlag));
    assert_eq!(d.address, Some(0x2001));

    // Both: RF still needed.
    let d = x.decode(&Trap::new(dr6::RESET | 0b0101), &view);
    assert_eq!(d.hits, [0b0101, 0]);
    assert_eq!(d.resume, Some(Resume::SetResumeFlag));
    assert_eq!(d.address, None);

    // B1/B3 set for slots not armed: dropped (spurious).
    let d = x.decode(&Trap::new(dr6::RESET | 0b1010), &view);
    assert!(!d.any_hit());
    assert_eq!(d.resume, None);

    // BS (bit 14): a completed single step.
    let d = x.decode(&Trap::new(dr6::RESET | dr6::BS), &view);
    assert!(d.step_complete && !d.any_hit());

    // A disabled image (G clear) is not a hit.
    let off = SlotImage {
        value: 0x1000,
        control: w4.control & !0b11,
    };
    let d = x.decode(
        &Trap::new(dr6::RESET | 1),
        &View([Some(off), None, None, None]),
    );
    assert!(!d.any_hit());
}

/// Every answer the registry can give, each applied to RFLAGS values with
/// and without RF: only `SetResumeFlag` changes anything, and only bit 16.
#[test]
fn resume_rflags_sets_only_rf() {
    const ALL: [Resume; 4] = [
        Resume::Continue,
        Resume::SetResumeFlag,
        Resume::SingleStep,
        Resume::EndSingleStep,
    ];
    // IF + reserved bit 1; IF + TF; RF already set; everything but RF.
    for saved in [0x202u64, 0x302, 0x1_0202, !RFLAGS_RF] {
        for resume in ALL {
            let want = if resume == Resume::SetResumeFlag {
                saved | 0x1_0000
            } else {
                saved
            };
            assert_eq!(
                resume_rflags(resume, saved),
                want,
                "{resume:?} on {saved:#x}"
            );
        }
    }
}

/// `frame::apply_resume` writes exactly `resume_rflags` into the
/// `x86_64` crate's frame and leaves its other fields alone.
#[cfg(feature = "x86_64")]
#[test]
fn frame_apply_resume_writes_saved_rflags() {
    use x86_64::registers::rflags::RFlags;
    use x86_64::structures::gdt::SegmentSelector;
    use x86_64::structures::idt::InterruptStackFrame;
    use x86_64::{PrivilegeLevel, VirtAddr};

    let make = |flags: u64| {
        InterruptStackFrame::new(
            VirtAddr::new(0xffff_8000_0010_2000),
            SegmentSelector::new(1, PrivilegeLevel::Ring0),
            RFlags::from_bits_retain(flags),
            VirtAddr::new(0xffff_8000_0020_0000),
            SegmentSelector::new(2, PrivilegeLevel::Ring0),
        )
    };
    for saved in [0x202u64, 0x302, 0x1_0202] {
        for resume in [
            Resume::Continue,
            Resume::SetResumeFlag,
            Resume::SingleStep,
            Resume::EndSingleStep,
        ] {
            let mut frame = make(saved);
            frame::apply_resume(&mut frame, resume);
            assert_eq!(frame.cpu_flags.bits(), resume_rflags(resume, saved));
            // Only the flags differ from the frame as saved.
            let before = make(saved);
            assert_eq!(frame.instruction_pointer, before.instruction_pointer);
            assert_eq!(frame.code_segment, before.code_segment);
            assert_eq!(frame.stack_pointer, before.stack_pointer);
            assert_eq!(frame.stack_segment, before.stack_segment);
        }
    }
    let mut frame = make(0x202);
    frame::apply_resume(&mut frame, Resume::SetResumeFlag);
    assert_eq!(
        frame.cpu_flags,
        RFlags::INTERRUPT_FLAG | RFlags::RESUME_FLAG | RFlags::from_bits_retain(2)
    );
    assert_eq!(frame.instruction_pointer.as_u64(), 0xffff_8000_0010_2000);
}

/// I/O breakpoints exist only when the OS says CR4.DE is set, and the
/// backend reports which it was built as.
#[test]
fn io_breakpoints_only_when_enabled() {
    assert!(!X86::new().io_breakpoints());
    assert!(!X86::default().io_breakpoints());
    // SAFETY: host test; nothing is armed.
    assert!(unsafe { X86::with_io_breakpoints() }.io_breakpoints());
}

/// The port space ends at 0xffff: the last ports are watchable, one past
/// them is not (SDM Vol. 3B §18.2.4: I/O breakpoints compare the port
/// number, 16 bits).
#[test]
fn io_ranges_reach_the_last_port() {
    // SAFETY: host test; nothing is armed.
    let io = unsafe { X86::with_io_breakpoints() };
    assert_eq!(io.max_piece(AccessKind::Io, 0xfffc, 4), Ok(4));
    assert_eq!(io.max_piece(AccessKind::Io, 0xffff, 1), Ok(1));
    assert_eq!(
        err(io.max_piece(AccessKind::Io, 0xffff, 2)),
        ErrorKind::AddressOverflow
    );
    // Ports 0xfffc-0xffff: R/W = 10, LEN = 11 => 0xe_0002.
    assert_eq!(
        io.encode(&piece(0xfffc, 4, AccessKind::Io)),
        Ok(SlotImage {
            value: 0xfffc,
            control: 0x000e_0002
        })
    );
    assert_eq!(
        io.encode(&piece(0xffff, 1, AccessKind::Io))
            .map(|i| i.value),
        Ok(0xffff)
    );
    assert_eq!(
        err(io.encode(&piece(0xfffe, 4, AccessKind::Io))),
        ErrorKind::Misaligned
    );
}
