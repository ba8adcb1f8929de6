//! Host tests of the encoders and the decoder. Every expected register value
//! is derived by hand from the ISA's bit numbers (bit 0 = most significant
//! of 64, shift = 63 - bit), as spelled out next to it.

use super::*;
use hwbreak_core::cover::exact_cover;

fn piece(addr: u64, len: u64, kind: AccessKind, space: Space) -> Piece {
    Piece {
        addr,
        len,
        kind,
        space,
        memory: MemoryType::Normal,
    }
}

struct View([[Option<SlotImage>; 2]; 2]);

impl SlotView for View {
    fn slot(&self, pool: PoolId, index: usize) -> Option<SlotImage> {
        self.0
            .get(pool.index())
            .and_then(|p| p.get(index))
            .copied()
            .flatten()
    }
}

fn view(code: Option<SlotImage>, data0: Option<SlotImage>, data1: Option<SlotImage>) -> View {
    View([[code, None], [data0, data1]])
}

#[test]
fn register_bits_match_the_isa() {
    // DAWRX: DW = ISA 57 -> 1 << 6 = 0x40, DR = 58 -> 0x20, WT = 59 -> 0x10,
    // WTI = 60 -> 0x08, HYP = 61 -> 0x04, PNH = 62 -> 0x02, PRO = 63 -> 0x01,
    // HRAMMC = 56 -> 0x80, MRD = 48:53 -> bits 15..10 = 0xfc00.
    assert_eq!(Dawrx::DW, 0x40);
    assert_eq!(Dawrx::DR, 0x20);
    assert_eq!(Dawrx::WT, 0x10);
    assert_eq!(Dawrx::WTI, 0x08);
    assert_eq!(Dawrx::HYP, 0x04);
    assert_eq!(Dawrx::PNH, 0x02);
    assert_eq!(Dawrx::PRO, 0x01);
    assert_eq!(Dawrx::HRAMMC, 0x80);
    assert_eq!(Dawrx::MRD_MASK, 0xfc00);
    // DABR: BT = 61 -> 4, DW = 62 -> 2, DR = 63 -> 1.
    assert_eq!((Dabr::BT, Dabr::DW, Dabr::DR), (4, 2, 1));
    // DABRX: BTI = 60 -> 8, HYP = 61 -> 4, PNH = 62 -> 2, PRO = 63 -> 1.
    assert_eq!(
        (Dabrx::BTI, Dabrx::HYP, Dabrx::PNH, Dabrx::PRO),
        (8, 4, 2, 1)
    );
    // DSISR[41] -> 1 << 22 = 0x0040_0000; DSISR[38] (store) -> 1 << 25.
    assert_eq!(Dsisr::DABR_MATCH, 0x0040_0000);
    assert_eq!(Dsisr::STORE, 0x0200_0000);
    // SRR1[33] -> 1 << 30; MSR[SE] = 53 -> 1 << 10 = 0x400; MSR[PR] = 49 -> 0x4000.
    assert_eq!(Srr1::CIABR_MATCH, 0x4000_0000);
    assert_eq!(Srr1::SE, 0x400);
    assert_eq!(Srr1::PR, 0x4000);
}

#[test]
fn dawr_write_one_byte_kernel_guest() {
    let a = Ppc64::new(Family::Dawr);
    // Byte 0x1003: DAWR = 0x1000 (DEAW drops bits 61:63). One doubleword:
    // MRD = 0. DW (0x40) + WTI (0x08, translation either) + PNH (0x02).
    let img = a
        .encode(&piece(0x1003, 1, AccessKind::Write, Space::Kernel))
        .unwrap();
    assert_eq!(
        img,
        SlotImage {
            value: 0x1000,
            control: 0x4a
        }
    );
}

#[test]
fn dawr_ranges_set_mrd() {
    let a = Ppc64::new(Family::Dawr);
    // 0x2004..0x2014 spans doublewords 0x2000, 0x2008, 0x2010: MRD = 2 ->
    // 2 << 10 = 0x800. ReadWrite: DW|DR = 0x60; WTI 0x08; PNH 0x02.
    let img = a
        .encode(&piece(0x2004, 16, AccessKind::ReadWrite, Space::Kernel))
        .unwrap();
    assert_eq!(
        img,
        SlotImage {
            value: 0x2000,
            control: 0x800 | 0x6a
        }
    );
    // A whole 512-byte block: MRD = 63 -> 0xfc00. Read only: DR = 0x20.
    // User space: PRO = 0x01.
    let img = a
        .encode(&piece(0x4000, 512, AccessKind::Read, Space::User))
        .unwrap();
    assert_eq!(
        img,
        SlotImage {
            value: 0x4000,
            control: 0xfc00 | 0x20 | 0x08 | 0x01
        }
    );
    assert_eq!(Dawrx::from_bits(img.control).range_len(), 512);
}

#[test]
fn dawr_translation_and_hypervisor_mode() {
    // Virtual: WT (0x10), no WTI. Hypervisor mode kernel: HYP (0x04).
    let a = Ppc64::new(Family::Dawr)
        .translation(Translation::Virtual)
        .mode(Mode::Hypervisor);
    let img = a
        .encode(&piece(0x8, 8, AccessKind::Write, Space::Kernel))
        .unwrap();
    assert_eq!(img.control, 0x40 | 0x10 | 0x04);
    // Real: neither WT nor WTI.
    let a = Ppc64::new(Family::Dawr).translation(Translation::Real);
    let img = a
        .encode(&piece(0x8, 8, AccessKind::Write, Space::Kernel))
        .unwrap();
    assert_eq!(img.control, 0x40 | 0x02);
}

#[test]
fn dawr_refuses_crossing_512_before_power10() {
    let a = Ppc64::new(Family::Dawr);
    // 0x1fc..0x204 crosses 0x200.
    assert_eq!(
        a.max_piece(AccessKind::Write, 0x1fc, 8).unwrap_err().kind(),
        ErrorKind::CrossesBoundary
    );
    // The same bytes via the core's cover: same precise error.
    let e = exact_cover(
        &a,
        0x1fc,
        8,
        AccessKind::Write,
        Space::Kernel,
        MemoryType::Normal,
        1,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CrossesBoundary);
    // Ending exactly at the boundary is fine: 0x1f8..0x200, one doubleword.
    assert_eq!(a.max_piece(AccessKind::Write, 0x1f8, 8), Ok(8));
    // POWER10 takes it in one slot: window of 512 from the granule 0x1f8.
    let p10 = Ppc64::new(Family::Dawr2);
    assert_eq!(p10.max_piece(AccessKind::Write, 0x1fc, 8), Ok(8));
    let img = p10
        .encode(&piece(0x1fc, 8, AccessKind::Write, Space::Kernel))
        .unwrap();
    // Doublewords 0x1f8 and 0x200: MRD = 1 -> 0x400.
    assert_eq!(
        img,
        SlotImage {
            value: 0x1f8,
            control: 0x400 | 0x4a
        }
    );
}

#[test]
fn power10_splits_long_ranges_over_two_dawrs() {
    let a = Ppc64::new(Family::Dawr2);
    // 0x1004 + 600 bytes: first window is 0x1000..0x1200 -> 508 bytes; the
    // rest (92 bytes from 0x1200) in the second DAWR.
    let c = exact_cover(
        &a,
        0x1004,
        600,
        AccessKind::Write,
        Space::Kernel,
        MemoryType::Normal,
        2,
    )
    .unwrap();
    let v: Vec<_> = c.pieces().map(|p| (p.addr, p.len)).collect();
    assert_eq!(v, vec![(0x1004, 508), (0x1200, 92)]);
    // More than two windows cannot be covered.
    let e = exact_cover(
        &a,
        0x1004,
        1100,
        AccessKind::Write,
        Space::Kernel,
        MemoryType::Normal,
        2,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotCoverable);
}

#[test]
fn max_dawr_range_caps_pieces() {
    let a = Ppc64::new(Family::Dawr2).max_dawr_range(8);
    // 16 bytes from 0x1004: 0x1004..0x1008 (4), then 0x1008..0x1014 capped
    // at the granule 0x1008..0x1010 (8), then 4 more: three pieces.
    assert_eq!(a.max_piece(AccessKind::Write, 0x1004, 16), Ok(4));
    assert_eq!(a.max_piece(AccessKind::Write, 0x1008, 12), Ok(8));
    let e = exact_cover(
        &a,
        0x1004,
        16,
        AccessKind::Write,
        Space::Kernel,
        MemoryType::Normal,
        2,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotCoverable);
}

#[test]
fn dawr_cache_inhibited() {
    let mut p = piece(0x1000, 8, AccessKind::Write, Space::Kernel);
    p.memory = MemoryType::CacheInhibited;
    assert_eq!(
        Ppc64::new(Family::Dawr).encode(&p).unwrap_err().kind(),
        ErrorKind::CacheInhibited
    );
    assert!(Ppc64::new(Family::Dawr2).encode(&p).is_ok());
    assert!(Ppc64::new(Family::Dabr).encode(&p).is_ok());
}

#[test]
fn dabr_encoding() {
    let a = Ppc64::new(Family::Dabr);
    // Write, byte 0x3005: DAB = 0x3000, DW = 2; translation either: BT = 0,
    // DABRX BTI = 8; kernel guest: PNH = 2 -> DABRX = 0xa.
    let img = a
        .encode(&piece(0x3005, 1, AccessKind::Write, Space::Kernel))
        .unwrap();
    assert_eq!(
        img,
        SlotImage {
            value: 0x3002,
            control: 0xa
        }
    );
    // Read, virtual: DR = 1, BT = 4 -> 0x3005; DABRX PNH only = 2.
    let a = a.translation(Translation::Virtual);
    let img = a
        .encode(&piece(0x3000, 8, AccessKind::Read, Space::Kernel))
        .unwrap();
    assert_eq!(
        img,
        SlotImage {
            value: 0x3005,
            control: 0x2
        }
    );
    // ReadWrite user, real: DW|DR = 3, BT = 0; DABRX PRO = 1.
    let a = a.translation(Translation::Real);
    let img = a
        .encode(&piece(0x3000, 8, AccessKind::ReadWrite, Space::User))
        .unwrap();
    assert_eq!(
        img,
        SlotImage {
            value: 0x3003,
            control: 0x1
        }
    );
    // Hypervisor kernel: HYP = 4.
    let a = a.mode(Mode::Hypervisor);
    let img = a
        .encode(&piece(0x3000, 8, AccessKind::Write, Space::Kernel))
        .unwrap();
    assert_eq!(img.control, 0x4);
}

#[test]
fn dabr_granules_and_slots() {
    let a = Ppc64::new(Family::Dabr);
    assert_eq!(a.slot_counts(), SlotCounts([0, 1]));
    // A piece ends at the granule end: 0x3005 + 10 -> 3 bytes to 0x3008.
    assert_eq!(a.max_piece(AccessKind::Write, 0x3005, 10), Ok(3));
    // Two granules need two slots: one DABR refuses.
    let e = exact_cover(
        &a,
        0x3005,
        10,
        AccessKind::Write,
        Space::Kernel,
        MemoryType::Normal,
        1,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotCoverable);
    // No instruction slot on DABR parts.
    assert_eq!(
        a.pool_of(AccessKind::Execute).unwrap_err().kind(),
        ErrorKind::UnsupportedKind
    );
    assert_eq!(
        a.max_piece(AccessKind::Execute, 0x1000, 1)
            .unwrap_err()
            .kind(),
        ErrorKind::UnsupportedKind
    );
    // An encode of a piece longer than one granule is refused, not widened.
    assert_eq!(
        a.encode(&piece(0x3000, 16, AccessKind::Write, Space::Kernel))
            .unwrap_err()
            .kind(),
        ErrorKind::UnsupportedLength
    );
}

#[test]
fn ciabr_encoding() {
    let a = Ppc64::new(Family::Dawr);
    // CEA = 0x4000_1234 (word aligned) | PRIV 0b10 (privileged, guest kernel).
    let img = a
        .encode(&piece(0x4000_1234, 1, AccessKind::Execute, Space::Kernel))
        .unwrap();
    assert_eq!(
        img,
        SlotImage {
            value: 0x4000_1236,
            control: 0
        }
    );
    // User: PRIV 0b01; hypervisor kernel: 0b11.
    let img = a
        .encode(&piece(0x1000, 4, AccessKind::Execute, Space::User))
        .unwrap();
    assert_eq!(img.value, 0x1001);
    let h = a.mode(Mode::Hypervisor);
    let img = h
        .encode(&piece(0x1000, 4, AccessKind::Execute, Space::Kernel))
        .unwrap();
    assert_eq!(img.value, 0x1003);
    // Misaligned and data lengths refused.
    assert_eq!(
        a.max_piece(AccessKind::Execute, 0x1002, 1)
            .unwrap_err()
            .kind(),
        ErrorKind::Misaligned
    );
    assert_eq!(
        a.max_piece(AccessKind::Execute, 0x1000, 8)
            .unwrap_err()
            .kind(),
        ErrorKind::UnsupportedLength
    );
    assert_eq!(a.slot_counts(), SlotCounts([1, 1]));
    assert_eq!(Ppc64::new(Family::Dawr2).slot_counts(), SlotCounts([1, 2]));
    // Ciabr::new refuses several privilege states (PRIV holds one).
    assert_eq!(
        Ciabr::new(
            0x1000,
            Privilege {
                problem: true,
                privileged: true,
                hypervisor: false
            }
        ),
        None
    );
}

#[test]
fn bad_inputs() {
    let a = Ppc64::new(Family::Dawr2);
    assert_eq!(
        a.max_piece(AccessKind::Write, 0x10, 0).unwrap_err().kind(),
        ErrorKind::ZeroLength
    );
    assert_eq!(
        a.max_piece(AccessKind::Write, u64::MAX - 2, 8)
            .unwrap_err()
            .kind(),
        ErrorKind::AddressOverflow
    );
    assert_eq!(
        a.pool_of(AccessKind::Io).unwrap_err().kind(),
        ErrorKind::UnsupportedKind
    );
    // A range ending exactly at 2^64 is fine: the last doubleword.
    assert_eq!(a.max_piece(AccessKind::Write, u64::MAX - 7, 8), Ok(8));
    let img = a
        .encode(&piece(u64::MAX - 7, 8, AccessKind::Write, Space::Kernel))
        .unwrap();
    assert_eq!(img.value, u64::MAX - 7);
}

fn dsi(dar: u64, access: Option<Access>) -> Trap {
    Trap {
        vector: VECTOR_DSI,
        dar,
        dsisr: Dsisr::DABR_MATCH,
        access,
        ..Trap::default()
    }
}

#[test]
fn decode_data_hits() {
    let a = Ppc64::new(Family::Dawr2);
    let w0 = a
        .encode(&piece(0x1000, 8, AccessKind::Write, Space::Kernel))
        .unwrap();
    let w1 = a
        .encode(&piece(0x2000, 32, AccessKind::Write, Space::Kernel))
        .unwrap();
    let v = view(None, Some(w0), Some(w1));
    // An access at 0x2010 lies in DAWR1's 32 bytes.
    let d = a.decode(
        &dsi(
            0x2010,
            Some(Access {
                ea: 0x2010,
                len: 4,
                store: true,
            }),
        ),
        &v,
    );
    assert_eq!(d.hits, [0, 0b10]);
    assert_eq!(d.address, Some(0x2010));
    assert_eq!(d.access_len, 4);
    assert_eq!(d.resume, Some(Resume::SingleStep));
    // Without a decoded access: the DAR and length 0.
    let d = a.decode(&dsi(0x1004, None), &v);
    assert_eq!(
        (d.hits, d.address, d.access_len),
        ([0, 0b01], Some(0x1004), 0)
    );
    // An 8-byte store at 0x0ffc straddles into DAWR0: the decoded access
    // says so even if the DAR is the watched range's start.
    let d = a.decode(
        &dsi(
            0x1000,
            Some(Access {
                ea: 0x0ffc,
                len: 8,
                store: true,
            }),
        ),
        &v,
    );
    assert_eq!((d.hits, d.address), ([0, 0b01], Some(0x0ffc)));
    // A DSI without DSISR[41] is not ours.
    let mut t = dsi(0x1000, None);
    t.dsisr = 0x4000_0000;
    assert!(!a.decode(&t, &v).any_hit());
}

#[test]
fn decode_trace() {
    let a = Ppc64::new(Family::Dawr);
    let c = a
        .encode(&piece(0x5000, 1, AccessKind::Execute, Space::Kernel))
        .unwrap();
    let v = view(Some(c), None, None);
    let t = Trap {
        vector: VECTOR_TRACE,
        srr0: 0x5000,
        srr1: Srr1::CIABR_MATCH,
        ..Trap::default()
    };
    let d = a.decode(&t, &v);
    assert_eq!(
        (d.hits, d.address, d.resume),
        ([1, 0], Some(0x5000), Some(Resume::SingleStep))
    );
    assert!(!d.step_complete);
    // A single step completing elsewhere.
    let t = Trap {
        vector: VECTOR_TRACE,
        srr0: 0x5004,
        stepping: true,
        ..Trap::default()
    };
    let d = a.decode(&t, &v);
    assert!(d.step_complete && !d.any_hit());
    assert_eq!(d.resume, Some(Resume::EndSingleStep));
    // A step that lands on the CIABR address is the step, not a hit, unless
    // SRR1 says CIABR.
    let t = Trap {
        vector: VECTOR_TRACE,
        srr0: 0x5000,
        stepping: true,
        ..Trap::default()
    };
    let d = a.decode(&t, &v);
    assert!(d.step_complete && !d.any_hit());
    // No CIABR armed: a trace that is no step is nothing.
    let t = Trap {
        vector: VECTOR_TRACE,
        srr0: 0x5000,
        ..Trap::default()
    };
    assert_eq!(a.decode(&t, &view(None, None, None)), Decoded::default());
}

/// Every range from every start, covered with up to 8 pieces: each piece's
/// slot watches exactly the doublewords holding its bytes (never fewer
/// bytes, never another doubleword), the pieces tile the request in order,
/// and POWER8/9 refuse exactly the ranges whose doublewords cross 512 bytes.
#[test]
fn covers_are_exact_for_every_range() {
    for family in [Family::Dabr, Family::Dawr, Family::Dawr2] {
        let a = Ppc64::new(family);
        for addr in (0u64..1100).step_by(3) {
            for len in 1u64..=600 {
                let r = exact_cover(
                    &a,
                    addr,
                    len,
                    AccessKind::ReadWrite,
                    Space::Kernel,
                    MemoryType::Normal,
                    8,
                );
                let hull_start = addr & !7;
                let hull_last = (addr + len - 1) | 7;
                if family == Family::Dawr && hull_start / 512 != hull_last / 512 {
                    assert_eq!(
                        r.unwrap_err().kind(),
                        ErrorKind::CrossesBoundary,
                        "{addr:#x}+{len}"
                    );
                    continue;
                }
                let c = match r {
                    Ok(c) => c,
                    Err(e) => {
                        // Only running out of pieces is acceptable.
                        assert_eq!(
                            e.kind(),
                            ErrorKind::NotCoverable,
                            "{family:?} {addr:#x}+{len}"
                        );
                        continue;
                    }
                };
                let mut at = addr;
                for p in c.pieces() {
                    assert_eq!(p.addr, at);
                    let img = a.encode(p).unwrap();
                    let (start, n) = a.watched_range(img);
                    assert_eq!(start, p.addr & !7);
                    assert_eq!(
                        start + n,
                        (p.addr + p.len + 7) & !7,
                        "{family:?} {addr:#x}+{len}"
                    );
                    at += p.len;
                }
                assert_eq!(at, addr + len);
            }
        }
    }
}

#[test]
fn decode_falls_back_to_every_armed_data_slot() {
    // A match the armed ranges do not explain (an emulator's odd DAR, an
    // unknown instruction): every armed data slot is offered to the core,
    // which filters by the requested bytes.
    let a = Ppc64::new(Family::Dawr2);
    let w0 = a
        .encode(&piece(0x1000, 8, AccessKind::Write, Space::Kernel))
        .unwrap();
    let w1 = a
        .encode(&piece(0x3000, 8, AccessKind::Write, Space::Kernel))
        .unwrap();
    let d = a.decode(&dsi(0x9000, None), &view(None, Some(w0), Some(w1)));
    assert_eq!(d.hits, [0, 0b11]);
    let d = a.decode(&dsi(0x9000, None), &view(None, None, Some(w1)));
    assert_eq!(d.hits, [0, 0b10]);
    // Nothing armed: nothing to report (spurious to the core).
    assert!(!a
        .decode(&dsi(0x9000, None), &view(None, None, None))
        .any_hit());
}

/// Every privilege selection, as the three PRIVM bits say it.
fn privileges() -> impl Iterator<Item = Privilege> {
    (0..8u8).map(|b| Privilege {
        problem: b & 1 != 0,
        privileged: b & 2 != 0,
        hypervisor: b & 4 != 0,
    })
}

#[test]
fn privilege_is_empty_only_with_no_state() {
    for p in privileges() {
        assert_eq!(
            p.is_empty(),
            !p.problem && !p.privileged && !p.hypervisor,
            "{p:?}"
        );
    }
    assert!(Privilege::default().is_empty());
    for p in [
        Privilege::PROBLEM,
        Privilege::PRIVILEGED,
        Privilege::HYPERVISOR,
    ] {
        assert!(!p.is_empty());
    }
}

/// DAWRX read back: DR (ISA 58) loads, DW (57) stores, PRIVM (61:63) the
/// states; it can match only with an access kind and a state selected.
#[test]
fn dawrx_fields_read_back() {
    for p in privileges() {
        for (read, write) in [(false, false), (true, false), (false, true), (true, true)] {
            for t in [Translation::Virtual, Translation::Real, Translation::Either] {
                let x = Dawrx::new(3, read, write, p, t).unwrap();
                assert_eq!((x.read(), x.write()), (read, write));
                assert_eq!(x.privilege(), p);
                assert_eq!(
                    x.enabled(),
                    (read || write) && !p.is_empty(),
                    "{p:?} {read} {write}"
                );
                assert_eq!(x.doublewords(), 3);
            }
        }
    }
    // Raw values: DR alone, DW alone, PRO/PNH/HYP alone.
    assert!(Dawrx::from_bits(Dawrx::DR).read() && !Dawrx::from_bits(Dawrx::DR).write());
    assert!(Dawrx::from_bits(Dawrx::DW).write() && !Dawrx::from_bits(Dawrx::DW).read());
    assert!(!Dawrx::from_bits(!(Dawrx::DR | Dawrx::DW)).read());
    assert!(!Dawrx::from_bits(!(Dawrx::DR | Dawrx::DW)).write());
    assert!(!Dawrx::from_bits(!(Dawrx::DR | Dawrx::DW)).enabled());
    assert!(!Dawrx::from_bits(!(Dawrx::HYP | Dawrx::PNH | Dawrx::PRO)).enabled());
    assert_eq!(
        Dawrx::from_bits(Dawrx::PNH).privilege(),
        Privilege::PRIVILEGED
    );
    assert_eq!(Dawrx::from_bits(Dawrx::PRO).privilege(), Privilege::PROBLEM);
    assert_eq!(
        Dawrx::from_bits(Dawrx::HYP).privilege(),
        Privilege::HYPERVISOR
    );
    assert_eq!(
        Dawrx::from_bits(!(Dawrx::HYP | Dawrx::PNH | Dawrx::PRO)).privilege(),
        Privilege::default()
    );
    // MRD counts doublewords minus one: 1 to 64, nothing else.
    assert!(Dawrx::new(0, true, true, Privilege::PROBLEM, Translation::Real).is_none());
    assert!(Dawrx::new(65, true, true, Privilege::PROBLEM, Translation::Real).is_none());
    assert_eq!(
        Dawrx::new(64, true, false, Privilege::PROBLEM, Translation::Real).map(Dawrx::range_len),
        Some(512)
    );
}

/// DABR read back: DR (ISA 63) loads, DW (62) stores, BT (61), DAB the
/// doubleword.
#[test]
fn dabr_fields_read_back() {
    for (read, write) in [(false, false), (true, false), (false, true), (true, true)] {
        for bt in [false, true] {
            let d = Dabr::new(0x1234_5677, read, write, bt);
            assert_eq!((d.read(), d.write()), (read, write));
            assert_eq!(d.address(), 0x1234_5670);
            assert_eq!(d.bits() & Dabr::BT != 0, bt);
        }
    }
    assert!(!Dabr::from_bits(!(Dabr::DR | Dabr::DW)).read());
    assert!(!Dabr::from_bits(!(Dabr::DR | Dabr::DW)).write());
}

/// CIABR: PRIV (ISA 62:63) 0b00 never matches; any other value does.
#[test]
fn ciabr_enabled_by_its_privilege_field() {
    assert!(!Ciabr::from_bits(0x4000).enabled());
    assert!(!Ciabr::from_bits(!Ciabr::PRIV_MASK).enabled());
    for p in [
        Ciabr::PRIV_PROBLEM,
        Ciabr::PRIV_PRIVILEGED,
        Ciabr::PRIV_HYPERVISOR,
    ] {
        let c = Ciabr::from_bits(0x4000 | p);
        assert!(c.enabled());
        assert_eq!(c.address(), 0x4000);
    }
    // Exactly one state: the field cannot say "several" or "none".
    for p in privileges() {
        let one = [p.problem, p.privileged, p.hypervisor]
            .iter()
            .filter(|b| **b)
            .count()
            == 1;
        assert_eq!(Ciabr::new(0x4000, p).is_some(), one, "{p:?}");
    }
    assert!(Ciabr::new(0x4002, Privilege::PROBLEM).is_none());
}

/// DSISR after a Data Storage interrupt: bit 38 store, bit 41 a DABR/DAWR
/// match; SRR1 after a Trace interrupt: bit 33 a CIABR match, and the MSR
/// bits PR and SE.
#[test]
fn interrupt_status_bits_read_back() {
    let store = Dsisr(Dsisr::STORE | Dsisr::DABR_MATCH);
    assert!(store.store() && store.watchpoint_match());
    let load = Dsisr(Dsisr::DABR_MATCH);
    assert!(!load.store() && load.watchpoint_match());
    assert!(!Dsisr(!Dsisr::STORE).store());
    assert!(!Dsisr(!Dsisr::DABR_MATCH).watchpoint_match());

    assert!(Srr1(Srr1::PR).problem_state());
    assert!(!Srr1(!Srr1::PR).problem_state());
    assert!(Srr1(Srr1::CIABR_MATCH).ciabr_match());
    assert!(!Srr1(!Srr1::CIABR_MATCH).ciabr_match());
}

/// Setting MSR[SE] in the SRR1 `rfid` restores turns single step on, and
/// clearing it turns it off; every other bit is kept, whatever SE was.
#[test]
fn single_step_changes_only_se() {
    for base in [0u64, Srr1::SE, 0x8000_0000_0000_1032, !Srr1::SE, u64::MAX] {
        let on = Srr1(base).with_single_step(true).0;
        let off = Srr1(base).with_single_step(false).0;
        assert_eq!(on, base | Srr1::SE, "{base:#x}");
        assert_eq!(off, base & !Srr1::SE, "{base:#x}");
    }
}

/// Which register each slot is: the code pool's one slot is CIABR (none
/// before POWER8); the data pool is DABR, DAWR0, or DAWR0 and DAWR1.
#[test]
fn slots_name_their_registers() {
    use route::Target;
    let dabr = Ppc64::new(Family::Dabr);
    let p9 = Ppc64::new(Family::Dawr);
    let p10 = Ppc64::new(Family::Dawr2);
    assert_eq!(dabr.target(CODE_POOL, 0), None);
    assert_eq!(dabr.target(DATA_POOL, 0), Some(Target::Dabr));
    assert_eq!(dabr.target(DATA_POOL, 1), None);
    for a in [p9, p10] {
        assert_eq!(a.target(CODE_POOL, 0), Some(Target::Ciabr));
        assert_eq!(a.target(CODE_POOL, 1), None);
        assert_eq!(a.target(DATA_POOL, 0), Some(Target::Dawr(0)));
        assert_eq!(a.target(DATA_POOL, 2), None);
    }
    assert_eq!(p9.target(DATA_POOL, 1), None);
    assert_eq!(p10.target(DATA_POOL, 1), Some(Target::Dawr(1)));
}

/// Writes on the host reach the stand-in hypervisor, which accepts them.
#[test]
fn host_writes_report_success() {
    let a = Ppc64::new(Family::Dawr2);
    let img = a
        .encode(&piece(0x1000, 8, AccessKind::Write, Space::Kernel))
        .unwrap();
    // SAFETY: on the host the register writes are stand-ins.
    unsafe { a.write_slot(DATA_POOL, 1, Some(img)) };
    assert_eq!(last_status(), route::H_SUCCESS);
    // SAFETY: as above.
    unsafe { a.write_slot(DATA_POOL, 1, None) };
    assert_eq!(last_status(), route::H_SUCCESS);
}

/// No shared control register: the control word is always 0.
#[test]
fn no_control_word() {
    for family in [Family::Dabr, Family::Dawr, Family::Dawr2] {
        let a = Ppc64::new(family);
        let img = a
            .encode(&piece(0x1000, 8, AccessKind::Write, Space::Kernel))
            .unwrap();
        for pool in [CODE_POOL, DATA_POOL] {
            assert_eq!(a.control_word(pool, &[Some(img), None]), 0);
        }
    }
}

/// The cap is rounded down to whole doublewords and kept between one
/// doubleword and a 512-byte block.
#[test]
fn max_dawr_range_is_rounded_and_bounded() {
    let piece_of = |cap: u64| {
        Ppc64::new(Family::Dawr2)
            .max_dawr_range(cap)
            .max_piece(AccessKind::Write, 0x1_0000, 4096)
            .unwrap()
    };
    for (cap, want) in [
        (0, 8),
        (7, 8),
        (8, 8),
        (15, 8),
        (20, 16),
        (64, 64),
        (100, 96),
        (511, 504),
        (512, 512),
        (513, 512),
        (u64::MAX, 512),
    ] {
        assert_eq!(piece_of(cap), want, "cap {cap}");
    }
    // POWER9 takes the same cap inside its 512-byte blocks.
    let p9 = Ppc64::new(Family::Dawr).max_dawr_range(100);
    assert_eq!(p9.max_piece(AccessKind::Write, 0x1004, 400), Ok(92));
}

/// An access that ends where a range starts, or starts where it ends, is
/// not that range's hit (the other armed range explains it).
#[test]
fn decode_touching_ranges_are_not_hit() {
    let a = Ppc64::new(Family::Dawr2);
    let w0 = a
        .encode(&piece(0x1000, 16, AccessKind::Write, Space::Kernel))
        .unwrap();
    let w1 = a
        .encode(&piece(0x1010, 8, AccessKind::Write, Space::Kernel))
        .unwrap();
    let v = view(None, Some(w0), Some(w1));
    let at = |ea: u64, len: u8| {
        a.decode(
            &dsi(
                ea,
                Some(Access {
                    ea,
                    len,
                    store: true,
                }),
            ),
            &v,
        )
        .hits
    };
    // [0x1008, 0x1010): DAWR0's last doubleword only.
    assert_eq!(at(0x1008, 8), [0, 0b01]);
    // [0x1010, 0x1014): DAWR1's first bytes only.
    assert_eq!(at(0x1010, 4), [0, 0b10]);
    // [0x100c, 0x1014): both.
    assert_eq!(at(0x100c, 8), [0, 0b11]);
    // Without a decoded access the DAR is one byte.
    assert_eq!(a.decode(&dsi(0x100f, None), &v).hits, [0, 0b01]);
    assert_eq!(a.decode(&dsi(0x1010, None), &v).hits, [0, 0b10]);
}

/// Trace interrupts: a CIABR hit needs an enabled CIABR at SRR0; outside a
/// step any Trace interrupt at that address is the CIABR's, during a step
/// only one SRR1 marks as a CIABR match; a family without CIABR has no
/// code hit whatever the view holds.
#[test]
fn decode_trace_ciabr_conditions() {
    let a = Ppc64::new(Family::Dawr);
    let c = a
        .encode(&piece(0x5000, 4, AccessKind::Execute, Space::Kernel))
        .unwrap();
    let trace = |srr1: u64, stepping: bool| Trap {
        vector: VECTOR_TRACE,
        srr0: 0x5000,
        srr1,
        stepping,
        ..Trap::default()
    };
    let v = view(Some(c), None, None);
    // Not stepping, SRR1 without bit 33: still the CIABR.
    assert_eq!(a.decode(&trace(0, false), &v).hits, [1, 0]);
    // Stepping, SRR1 bit 33: the CIABR and the step both.
    let d = a.decode(&trace(Srr1::CIABR_MATCH, true), &v);
    assert_eq!(d.hits, [1, 0]);
    assert!(d.step_complete);
    assert_eq!(d.resume, Some(Resume::SingleStep));
    // A disabled CIABR (PRIV = 0) at SRR0 is no hit.
    let off = SlotImage {
        value: c.value & Ciabr::CEA_MASK,
        control: 0,
    };
    assert!(!a
        .decode(&trace(0, false), &view(Some(off), None, None))
        .any_hit());
    // An enabled one elsewhere is no hit either.
    let other = a
        .encode(&piece(0x6000, 4, AccessKind::Execute, Space::Kernel))
        .unwrap();
    assert!(!a
        .decode(&trace(0, false), &view(Some(other), None, None))
        .any_hit());
    // POWER7 has no CIABR: nothing the view says about code slots counts.
    let dabr = Ppc64::new(Family::Dabr);
    assert!(!dabr.decode(&trace(Srr1::CIABR_MATCH, false), &v).any_hit());
}
