//! Host tests: encoders against values worked out by hand from the field
//! tables of the RISC-V Debug Specification 1.0 (mcontrol 5.7.12,
//! mcontrol6 5.7.17, tdata2 NAPOT) and the ISA's instruction formats, the
//! decoder, and the backend inside a registry.

use hwbreak_core::{
    cover::exact_cover, AccessKind, Arch, CpuId, ErrorKind, MemoryType, Piece, Platform, PoolId,
    Registry, Request, Resume, SlotImage, SlotView, Space,
};

use crate::insn::{access, next_pc, Access};
use crate::registers::{mcontrol::Mcontrol, mcontrol6::Mcontrol6, tdata1, tdata2, tinfo::Tinfo};
use crate::{Matching, Riscv, Timing, Trap, TriggerType, Triggers, CAUSE_BREAKPOINT, POOL};

const TWO6: Triggers = Triggers {
    count: 2,
    kind: TriggerType::Mcontrol6,
};

fn qemu() -> Riscv {
    Riscv::machine()
        .with_triggers(TWO6)
        .matching(Matching::SizeAsLength)
}

fn piece(addr: u64, len: u64, kind: AccessKind) -> Piece {
    Piece {
        addr,
        len,
        kind,
        space: Space::Kernel,
        memory: MemoryType::Normal,
    }
}

/// Slots of a test, as the registry would show them.
struct Armed(Vec<Option<SlotImage>>);

impl SlotView for Armed {
    fn slot(&self, pool: PoolId, index: usize) -> Option<SlotImage> {
        if pool == POOL {
            self.0.get(index).copied().flatten()
        } else {
            None
        }
    }
}

// --- registers -------------------------------------------------------

#[test]
fn mcontrol_fields_by_hand() {
    use crate::registers::{AccessBits, MatchKind, Privilege};
    // type 2 (0x2 << 60); load|store (0b011); s (bit 4); match 0; size 3
    // (four bytes): sizelo = 0b11 at 17:16, sizehi = 0.
    let c = Mcontrol::new(
        AccessBits::LOAD | AccessBits::STORE,
        Privilege::SUPERVISOR,
        MatchKind::Equal,
        3,
    );
    assert_eq!(c.bits(), 0x2000_0000_0003_0013);
    assert_eq!(c.size(), 3);
    assert!(!c.uses_extras());
    // NAPOT (match 1 at 10:7 = 0x80), u (bit 3), execute (bit 2).
    let c = Mcontrol::new(AccessBits::EXECUTE, Privilege::USER, MatchKind::Napot, 0);
    assert_eq!(c.bits(), 0x2000_0000_0000_008c);
    assert_eq!(c.match_field(), 1);
}

#[test]
fn mcontrol6_fields_by_hand() {
    use crate::registers::{AccessBits, MatchKind, Privilege};
    // type 6; store (bit 1); m (bit 6); size 5 (eight bytes) at 19:16.
    let c = Mcontrol6::new(AccessBits::STORE, Privilege::MACHINE, MatchKind::Equal, 5);
    assert_eq!(c.bits(), 0x6000_0000_0005_0042);
    assert_eq!(c.size(), 5);
    assert_eq!(tdata1::trigger_type(c.bits()), 6);
    // size is 4 bits in type 6: 0xf stays, no bit spills into `select`.
    let c = Mcontrol6::new(AccessBits::LOAD, Privilege::USER, MatchKind::Equal, 0xff);
    assert_eq!(c.bits() & Mcontrol6::SELECT, 0);
    assert_eq!(c.size(), 0xf);
    assert_eq!(Mcontrol6::from_bits(Mcontrol6::HIT0).hit(), 1);
}

#[test]
fn napot_values_by_hand() {
    // 2 bytes at 0x8000_0010: no low ones.
    assert_eq!(tdata2::napot(0x8000_0010, 2), Some(0x8000_0010));
    // 16 bytes: base | 0b111.
    assert_eq!(tdata2::napot(0x8000_0010, 16), Some(0x8000_0017));
    assert_eq!(tdata2::napot_range(0x8000_0017), (0x8000_0010, 16));
    for k in 1..63 {
        let len = 1u64 << k;
        let v = tdata2::napot(len * 3, len).unwrap();
        assert_eq!(tdata2::napot_range(v), (len * 3, len), "k = {k}");
    }
    assert_eq!(tdata2::napot(0x11, 2), None);
}

#[test]
fn tinfo_and_tselect() {
    assert!(Tinfo(0x0100_0044).supports(6));
    assert!(!Tinfo(0).exists());
    // tselect keeps 0..3 only.
    let n = crate::registers::tselect::count_from(|i| if i < 3 { i } else { 0 }, 16);
    assert_eq!(n, 3);
}

// --- instruction decoding ---------------------------------------------

/// I-type: imm[11:0] | rs1 | funct3 | rd | opcode.
fn itype(imm: i32, rs1: u32, funct3: u32, rd: u32, opcode: u32) -> u32 {
    ((imm as u32 & 0xfff) << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode
}

/// S-type: imm[11:5] | rs2 | rs1 | funct3 | imm[4:0] | opcode.
fn stype(imm: i32, rs2: u32, rs1: u32, funct3: u32, opcode: u32) -> u32 {
    let imm = imm as u32 & 0xfff;
    ((imm >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | ((imm & 0x1f) << 7) | opcode
}

#[test]
fn loads_and_stores_by_width() {
    let mut regs = [0u64; 32];
    regs[5] = 0x1000;
    for (funct3, len) in [(0, 1), (1, 2), (2, 4), (3, 8), (4, 1), (5, 2), (6, 4)] {
        let a = access(itype(-4, 5, funct3, 6, 0x03), &regs).unwrap();
        assert_eq!((a.addr, a.len, a.load, a.store), (0xffc, len, true, false));
    }
    assert_eq!(access(itype(0, 5, 7, 6, 0x03), &regs), None);
    for (funct3, len) in [(0, 1), (1, 2), (2, 4), (3, 8)] {
        let a = access(stype(2047, 6, 5, funct3, 0x23), &regs).unwrap();
        assert_eq!((a.addr, a.len, a.load, a.store), (0x17ff, len, false, true));
    }
    // fsd f1, 16(x5); flw f2, 0(x5); a vector load (funct3 0 on LOAD-FP) is none.
    assert_eq!(
        access(stype(16, 1, 5, 3, 0x27), &regs).map(|a| (a.addr, a.len)),
        Some((0x1010, 8))
    );
    assert_eq!(
        access(itype(0, 5, 2, 2, 0x07), &regs).map(|a| a.len),
        Some(4)
    );
    assert_eq!(access(itype(0, 5, 0, 2, 0x07), &regs), None);
    // lr.d and sc.d: funct5 00010 / 00011, funct3 3.
    let lr = (0b00010 << 27) | (5 << 15) | (3 << 12) | (7 << 7) | 0x2f;
    let sc = (0b00011 << 27) | (6 << 20) | (5 << 15) | (3 << 12) | (7 << 7) | 0x2f;
    assert_eq!(
        access(lr, &regs),
        Some(Access {
            addr: 0x1000,
            len: 8,
            load: true,
            store: false
        })
    );
    assert_eq!(
        access(sc, &regs),
        Some(Access {
            addr: 0x1000,
            len: 8,
            load: false,
            store: true
        })
    );
    // x0 as the base reads 0 whatever the frame holds.
    regs[0] = 0xdead;
    assert_eq!(
        access(itype(8, 0, 3, 6, 0x03), &regs).map(|a| a.addr),
        Some(8)
    );
}

#[test]
fn compressed_loads_and_stores() {
    let mut regs = [0u64; 32];
    regs[10] = 0x2000; // a0 = x8 + 2
    regs[2] = 0x8000; // sp
                      // c.sw a1, 4(a0): 110 | uimm[5:3]=000 | rs1'=010 | uimm[2]=1 | uimm[6]=0 | rs2'=011 | 00.
    let c_sw = (0b110 << 13) | (0b010 << 7) | (1 << 6) | (0b011 << 2);
    assert_eq!(c_sw, 0xc14c);
    assert_eq!(
        access(c_sw, &regs),
        Some(Access {
            addr: 0x2004,
            len: 4,
            load: false,
            store: true
        })
    );
    // c.ld a1, 200(a0): 200 = 0b1100_1000: uimm[5:3] = 001 at 12:10, uimm[7:6] = 11 at 6:5.
    let c_ld = (0b011 << 13) | (0b001 << 10) | (0b010 << 7) | (0b11 << 5) | (0b011 << 2);
    assert_eq!(
        access(c_ld, &regs).map(|a| (a.addr, a.len, a.load)),
        Some((0x20c8, 8, true))
    );
    // c.sdsp ra, 24(sp): uimm[5:3] = 011 at 12:10, uimm[8:6] = 0 at 9:7, rs2 = 1.
    let c_sdsp = (0b111 << 13) | (0b011 << 10) | (1 << 2) | 0b10;
    assert_eq!(
        access(c_sdsp, &regs).map(|a| (a.addr, a.len, a.store)),
        Some((0x8018, 8, true))
    );
    // c.lwsp a0, 4(sp): uimm[4:2] = 001 at 6:4.
    let c_lwsp = (0b010 << 13) | (10 << 7) | (0b001 << 4) | 0b10;
    assert_eq!(
        access(c_lwsp, &regs).map(|a| (a.addr, a.len)),
        Some((0x8004, 4))
    );
    // c.swsp a0, 252(sp): 252 = uimm[5:2] 1111 at 12:9, uimm[7:6] 11 at 8:7.
    let c_swsp = (0b110 << 13) | (0b1111 << 9) | (0b11 << 7) | (10 << 2) | 0b10;
    assert_eq!(access(c_swsp, &regs).map(|a| a.addr), Some(0x80fc));
    // c.addi and c.mv touch no memory.
    assert_eq!(access(0x0505, &regs), None); // c.addi a0, 1
    assert_eq!(access(0x852e, &regs), None); // c.mv a0, a1
}

#[test]
fn next_pc_of_jumps_and_branches() {
    let mut regs = [0u64; 32];
    let pc = 0x8000_1000;
    // jal ra, -8: imm = -8: imm[20] = 1, imm[10:1] = 0x3fc, imm[11] = 1, imm[19:12] = 0xff.
    let jal = (1 << 31) | (0x3fc << 21) | (1 << 20) | (0xff << 12) | (1 << 7) | 0x6f;
    assert_eq!(next_pc(jal, pc, &regs), Some(pc - 8));
    // jalr x0, 3(t0) with t0 = 0x9000: the low bit is cleared.
    regs[5] = 0x9000;
    assert_eq!(next_pc(itype(3, 5, 0, 0, 0x67), pc, &regs), Some(0x9002));
    // blt / bge / bltu / bgeu on -1 vs 1, branch offset -4 (imm[12] = 1,
    // imm[10:5] = 0x3f, imm[4:1] = 0b1110, imm[11] = 1).
    regs[6] = u64::MAX;
    regs[7] = 1;
    let branch = |funct3: u32| {
        (1 << 31)
            | (0x3f << 25)
            | (7 << 20)
            | (6 << 15)
            | (funct3 << 12)
            | (0b1110 << 8)
            | (1 << 7)
            | 0x63
    };
    assert_eq!(next_pc(branch(4), pc, &regs), Some(pc - 4)); // -1 < 1 signed
    assert_eq!(next_pc(branch(5), pc, &regs), Some(pc + 4));
    assert_eq!(next_pc(branch(6), pc, &regs), Some(pc + 4)); // max < 1 unsigned: no
    assert_eq!(next_pc(branch(7), pc, &regs), Some(pc - 4));
    assert_eq!(next_pc(branch(2), pc, &regs), None); // reserved funct3
                                                     // ecall resumes after itself; mret and ebreak have no next pc here.
    assert_eq!(next_pc(0x0000_0073, pc, &regs), Some(pc + 4));
    assert_eq!(next_pc(0x3020_0073, pc, &regs), None);
    assert_eq!(next_pc(0x0010_0073, pc, &regs), None);
    // Plain instructions: the next one.
    assert_eq!(next_pc(itype(1, 5, 0, 5, 0x13), pc, &regs), Some(pc + 4));
    assert_eq!(next_pc(0x0505, pc, &regs), Some(pc + 2));
}

#[test]
fn next_pc_of_compressed_jumps() {
    let mut regs = [0u64; 32];
    let pc = 0x8000_1000;
    // c.j +2046: imm[11] = 0, every other offset bit 1 -> 0x7fe.
    let c_j = (0b101 << 13)
        | (1 << 11) // imm[4]
        | (0b11 << 9) // imm[9:8]
        | (1 << 8) // imm[10]
        | (1 << 7) // imm[6]
        | (1 << 6) // imm[7]
        | (0b111 << 3) // imm[3:1]
        | (1 << 2) // imm[5]
        | 0b01;
    assert_eq!(next_pc(c_j, pc, &regs), Some(pc + 0x7fe));
    // c.j -2: imm[11] = 1 and every other bit 1.
    assert_eq!(next_pc(c_j | (1 << 12), pc, &regs), Some(pc - 2));
    // c.beqz a0, +8 (imm[4:3] = 01 at 11:10), a0 = x8 + 2.
    let c_beqz = (0b110 << 13) | (0b01 << 10) | (0b010 << 7) | 0b01;
    assert_eq!(next_pc(c_beqz, pc, &regs), Some(pc + 8));
    regs[10] = 1;
    assert_eq!(next_pc(c_beqz, pc, &regs), Some(pc + 2));
    // c.bnez a0, -2: imm[8] = 1 and every other bit 1.
    let c_bnez = (0b111 << 13)
        | (1 << 12)
        | (0b11 << 10)
        | (0b010 << 7)
        | (0b11 << 5)
        | (0b11 << 3)
        | (1 << 2)
        | 0b01;
    assert_eq!(next_pc(c_bnez, pc, &regs), Some(pc - 2));
    // c.jalr t0: funct4 1001, rs1 = 5.
    regs[5] = 0x7000_0001;
    assert_eq!(
        next_pc((0b1001 << 12) | (5 << 7) | 0b10, pc, &regs),
        Some(0x7000_0000)
    );
    assert_eq!(next_pc(0x9002, pc, &regs), None); // c.ebreak
}

// --- the Arch answers --------------------------------------------------

#[test]
fn one_pool_for_every_kind_but_io() {
    let r = qemu();
    for kind in [
        AccessKind::Execute,
        AccessKind::Read,
        AccessKind::Write,
        AccessKind::ReadWrite,
    ] {
        assert_eq!(r.pool_of(kind).unwrap(), POOL);
    }
    assert_eq!(
        r.pool_of(AccessKind::Io).unwrap_err().kind(),
        ErrorKind::UnsupportedKind
    );
}

#[test]
fn bad_lengths_and_addresses_refused() {
    let r = qemu();
    let e = |res: hwbreak_core::Result<u64>| res.unwrap_err().kind();
    assert_eq!(
        e(r.max_piece(AccessKind::Write, 0x1000, 0)),
        ErrorKind::ZeroLength
    );
    assert_eq!(
        e(r.max_piece(AccessKind::Write, u64::MAX, 2)),
        ErrorKind::AddressOverflow
    );
    // A range ending exactly at 2^64 is fine.
    assert_eq!(r.max_piece(AccessKind::Write, u64::MAX - 7, 8).unwrap(), 8);
    assert_eq!(
        e(r.max_piece(AccessKind::Execute, 0x1001, 4)),
        ErrorKind::Misaligned
    );
    assert_eq!(
        e(r.max_piece(AccessKind::Execute, 0x1000, 8)),
        ErrorKind::UnsupportedLength
    );
    assert_eq!(
        e(r.max_piece(AccessKind::Io, 0x1000, 1)),
        ErrorKind::UnsupportedKind
    );
    // A piece longer than the slot expresses is refused by encode.
    assert_eq!(
        r.encode(&piece(0x1000, 9, AccessKind::Write))
            .unwrap_err()
            .kind(),
        ErrorKind::UnsupportedLength
    );
}

#[test]
fn exact_cover_thirteen_bytes_per_matching() {
    // [0x1003, 0x1010): 13 bytes, 3 past an 8-byte boundary.
    let count = |r: &Riscv| {
        let mut n = 0;
        let mut at = 0x1003;
        while at < 0x1010 {
            at += r.max_piece(AccessKind::Write, at, 0x1010 - at).unwrap();
            n += 1;
        }
        n
    };
    let exact = Riscv::machine().with_triggers(TWO6);
    let napot = Riscv::machine()
        .with_triggers(TWO6)
        .matching(Matching::Napot { max: 1 << 20 });
    assert_eq!(count(&exact), 13);
    assert_eq!(count(&napot), 3); // 1 @0x1003, 4 @0x1004, 8 @0x1008
    assert_eq!(count(&qemu()), 2); // 8 @0x1003, 5 @0x100b
                                   // With 2 triggers the core refuses the first two precisely.
    for (r, ok) in [(&exact, false), (&napot, false), (&qemu(), true)] {
        let res = exact_cover(
            r,
            0x1003,
            13,
            AccessKind::Write,
            Space::Kernel,
            MemoryType::Normal,
            2,
        );
        match res {
            Ok(_) => assert!(ok),
            Err(e) => {
                assert!(!ok);
                assert_eq!(e.kind(), ErrorKind::NotCoverable);
            }
        }
    }
}

#[test]
fn encodings_by_hand() {
    // SizeAsLength, 5 bytes at 0x100b for stores in M-mode: type 6, size
    // code 5 (QEMU: 5 bytes), m, store.
    let img = qemu().encode(&piece(0x100b, 5, AccessKind::Write)).unwrap();
    assert_eq!((img.value, img.control), (0x100b, 0x6000_0000_0005_0042));
    assert_eq!(qemu().watched_range(img), Some((0x100b, 5)));
    // 4 bytes also take code 5; 3 bytes code 3; 6 to 8 bytes code 0.
    for (len, code, watched) in [(4, 5, 5), (3, 3, 3), (6, 0, 8), (8, 0, 8), (1, 1, 1)] {
        let img = qemu()
            .encode(&piece(0x1000, len, AccessKind::Write))
            .unwrap();
        assert_eq!(Mcontrol6::from_bits(img.control).size(), code, "len {len}");
        assert_eq!(
            qemu().watched_range(img),
            Some((0x1000, watched)),
            "len {len}"
        );
    }
    // 2 bytes: size 2.
    let img = qemu().encode(&piece(0x1000, 2, AccessKind::Read)).unwrap();
    assert_eq!(img.control, 0x6000_0000_0002_0041);
    // Exact, type 2, S-mode, loads and stores of byte 0x2005: size 0.
    static A: crate::SbiShmem = crate::SbiShmem::new();
    let s = Riscv::supervisor(|| &A).with_triggers(Triggers {
        count: 4,
        kind: TriggerType::Mcontrol,
    });
    let img = s.encode(&piece(0x2005, 1, AccessKind::ReadWrite)).unwrap();
    assert_eq!((img.value, img.control), (0x2005, 0x2000_0000_0000_0013));
    // NAPOT 8 bytes at 0x2008 for user stores: match 1, u, store.
    let n = Riscv::machine()
        .with_triggers(TWO6)
        .matching(Matching::Napot { max: 64 });
    let mut p = piece(0x2008, 8, AccessKind::Write);
    p.space = Space::User;
    let img = n.encode(&p).unwrap();
    assert_eq!((img.value, img.control), (0x200b, 0x6000_0000_0000_008a));
    assert_eq!(n.watched_range(img), Some((0x2008, 8)));
    // Execute: equal, execute bit, no size.
    let img = qemu()
        .encode(&piece(0x8000_0002, 1, AccessKind::Execute))
        .unwrap();
    assert_eq!(
        (img.value, img.control),
        (0x8000_0002, 0x6000_0000_0000_0044)
    );
    assert_eq!(qemu().watched_range(img), None);
}

#[test]
fn decode_data_hit_before_asks_for_step() {
    let r = qemu();
    let w = r.encode(&piece(0x100b, 5, AccessKind::Write)).unwrap();
    let x = r
        .encode(&piece(0x8000_0000, 4, AccessKind::Execute))
        .unwrap();
    let armed = Armed(vec![Some(x), Some(w)]);
    let store = |addr, len| Trap {
        cause: CAUSE_BREAKPOINT,
        epc: 0x8000_0100,
        tval: addr,
        access: Some(Access {
            addr,
            len,
            load: false,
            store: true,
        }),
        stepping: false,
    };
    let d = r.decode(&store(0x100c, 1), &armed);
    assert_eq!(d.hits[0], 0b10);
    assert_eq!(
        (d.address, d.access_len, d.resume),
        (Some(0x100c), 1, Some(Resume::SingleStep))
    );
    // An 8-byte store at 0x1008 reaches into the watched bytes.
    assert_eq!(r.decode(&store(0x1008, 8), &armed).hits[0], 0b10);
    // A load of the same bytes does not match a store watch.
    let mut load = store(0x100c, 1);
    load.access = Some(Access {
        addr: 0x100c,
        len: 1,
        load: true,
        store: false,
    });
    assert!(!r.decode(&load, &armed).any_hit());
    // Another exception cause is none of ours.
    let mut other = store(0x100c, 1);
    other.cause = 13;
    assert!(!r.decode(&other, &armed).any_hit());
    // After-access hardware: nothing to step over.
    let after = qemu().data_timing(Timing::After);
    assert_eq!(
        after.decode(&store(0x100c, 1), &armed).resume,
        Some(Resume::Continue)
    );
}

#[test]
fn decode_execute_and_step() {
    let r = qemu();
    let x = r
        .encode(&piece(0x8000_0000, 4, AccessKind::Execute))
        .unwrap();
    let armed = Armed(vec![None, Some(x)]);
    let at = |epc, stepping| Trap {
        cause: CAUSE_BREAKPOINT,
        epc,
        stepping,
        ..Trap::default()
    };
    let d = r.decode(&at(0x8000_0000, false), &armed);
    assert_eq!(
        (d.hits[0], d.address, d.resume),
        (0b10, Some(0x8000_0000), Some(Resume::SingleStep))
    );
    assert!(!r.decode(&at(0x8000_0004, false), &armed).any_hit());
    // The step trigger lands on another breakpoint: both at once.
    let d = r.decode(&at(0x8000_0000, true), &armed);
    assert!(d.step_complete);
    assert_eq!((d.hits[0], d.resume), (0b10, Some(Resume::SingleStep)));
    // A step completing elsewhere.
    let d = r.decode(&at(0x8000_0010, true), &armed);
    assert!(d.step_complete && !d.any_hit());
    assert_eq!(d.resume, Some(Resume::EndSingleStep));
}

#[test]
fn decode_without_access_uses_tval_only() {
    let r = qemu();
    let a = r.encode(&piece(0x1000, 8, AccessKind::Write)).unwrap();
    let b = r.encode(&piece(0x2000, 8, AccessKind::Write)).unwrap();
    let armed = Armed(vec![Some(a), Some(b)]);
    let trap = |tval| Trap {
        cause: CAUSE_BREAKPOINT,
        epc: 0x8000_0100,
        tval,
        ..Trap::default()
    };
    assert_eq!(r.decode(&trap(0x2004), &armed).hits[0], 0b10);
    // An ebreak (tval = its address, in no watched range) is none of ours.
    assert!(!r.decode(&trap(0x8000_0100), &armed).any_hit());
}

#[test]
fn step_image_refuses_odd_pc() {
    assert_eq!(
        qemu().step_image(0x1001, Space::Kernel).unwrap_err().kind(),
        ErrorKind::Misaligned
    );
}

#[test]
fn canonical_ranges() {
    let r = qemu().virtual_address_bits(48);
    assert!(r
        .check_range(0x7fff_ffff_f000, 0x8000_0000_0000, Space::User)
        .is_ok());
    assert_eq!(
        r.check_range(0x7fff_ffff_fff8, 0x8000_0000_0008, Space::User)
            .unwrap_err()
            .kind(),
        ErrorKind::NonCanonical
    );
    assert!(qemu()
        .check_range(0x7fff_ffff_fff8, 0x8000_0000_0008, Space::User)
        .is_ok());
}

// --- inside a registry ---------------------------------------------------

struct OneHart;

impl Platform for OneHart {
    fn cpu_count(&self) -> u32 {
        1
    }
    fn current_cpu(&self) -> CpuId {
        CpuId(0)
    }
    fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync)) {
        critical_section::with(|_| f());
    }
    fn user_limit(&self) -> u64 {
        0x8000_0000
    }
}

#[test]
fn registry_covers_thirteen_bytes_and_steps_over() {
    let reg: Box<Registry<Riscv, OneHart, 16, 1, 4>> = Box::new(Registry::new(qemu(), OneHart));
    reg.init().unwrap();
    reg.cpu_online().unwrap();
    let start = 0x8020_0103;
    let h = reg.register(&Request::write(start, 13)).unwrap();
    let imgs: Vec<_> = (0..2)
        .map(|i| reg.armed_slot(POOL, i).unwrap().unwrap())
        .collect();
    let ranges: Vec<_> = imgs
        .iter()
        .map(|&i| reg.arch().watched_range(i).unwrap())
        .collect();
    // 8 bytes (size 0) and 5 (size code 5): exact under QEMU.
    assert!(ranges.contains(&(start, 8)) && ranges.contains(&(start + 8, 5)));
    // A third range finds no trigger: precise refusal, nothing changes.
    assert_eq!(
        reg.register(&Request::write(0x8030_0000, 1))
            .unwrap_err()
            .kind(),
        ErrorKind::NoSlot
    );
    // 14 bytes need 2 as well; 17 bytes need 3 and can never fit.
    assert_eq!(
        reg.register(&Request::write(0x8040_0000, 17))
            .unwrap_err()
            .kind(),
        ErrorKind::NotCoverable
    );
    reg.unregister(h).unwrap();
    // A hit beside the requested bytes (a 4-byte piece takes 5) is filtered.
    let four = 0x8020_0200;
    let h = reg.register(&Request::write(four, 4)).unwrap();
    let trap = |addr| Trap {
        cause: CAUSE_BREAKPOINT,
        epc: 0x8000_0100,
        tval: addr,
        access: Some(Access {
            addr,
            len: 1,
            load: false,
            store: true,
        }),
        stepping: false,
    };
    let out = reg.on_debug_exception(&trap(four + 4));
    assert_eq!((out.delivered, out.filtered), (0, 1));
    // Even filtered, the trigger fired before the store: step over it.
    assert_eq!(out.resume, Resume::SingleStep);
    assert!((0..2).all(|i| reg.armed_slot(POOL, i).unwrap().is_none()));
    let done = reg.on_debug_exception(&Trap {
        stepping: true,
        ..trap(0)
    });
    assert_eq!(done.resume, Resume::EndSingleStep);
    assert_eq!(
        (0..2)
            .filter(|&i| reg.armed_slot(POOL, i).unwrap().is_some())
            .count(),
        1
    );
    // A store to the watched bytes is delivered.
    assert_eq!(reg.on_debug_exception(&trap(four + 3)).delivered, 1);
    reg.unregister(h).unwrap();
}
