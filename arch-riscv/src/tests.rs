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
    // 3 bytes take code 3, 8 bytes code 0; each watches exactly its bytes.
    for (len, code, watched) in [(3, 3, 3), (8, 0, 8), (2, 2, 2), (1, 1, 1)] {
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
    // 4 bytes take two triggers (3 + 1): no size code watches exactly 4,
    // and none may watch more than was asked.
    let four = 0x8020_0200;
    let h = reg.register(&Request::write(four, 4)).unwrap();
    let mut ranges: Vec<_> = (0..2)
        .map(|i| {
            let img = reg.armed_slot(POOL, i).unwrap().unwrap();
            reg.arch().watched_range(img).unwrap()
        })
        .collect();
    ranges.sort_unstable();
    assert_eq!(ranges, [(four, 3), (four + 3, 1)]);
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
    // The byte after the range is watched by no trigger.
    let beside = reg.on_debug_exception(&trap(four + 4));
    assert_eq!((beside.delivered, beside.filtered), (0, 0));
    assert!(beside.spurious);
    // A store to the last watched byte is delivered, stepped over (the
    // trigger fired before the store) and both triggers are re-armed.
    let out = reg.on_debug_exception(&trap(four + 3));
    assert_eq!(out.delivered, 1);
    assert_eq!(out.resume, Resume::SingleStep);
    let done = reg.on_debug_exception(&Trap {
        stepping: true,
        ..trap(0)
    });
    assert_eq!(done.resume, Resume::EndSingleStep);
    assert!((0..2).all(|i| reg.armed_slot(POOL, i).unwrap().is_some()));
    reg.unregister(h).unwrap();
}

// --- more of the decoder -------------------------------------------------

/// An access touches `[start, end)` when one of its bytes is inside: not
/// when it ends at `start` or begins at `end`.
#[test]
fn access_touches_only_overlapping_ranges() {
    let a = Access {
        addr: 0x1000,
        len: 8,
        load: true,
        store: false,
    };
    assert!(a.touches(0x1000, 0x1001));
    assert!(a.touches(0x1007, 0x1008));
    assert!(a.touches(0x0ff0, 0x2000));
    // A range beginning where the access ends, or ending where it begins.
    assert!(!a.touches(0x1008, 0x1010));
    assert!(!a.touches(0x0ff8, 0x1000));
    // An access at the top of the address space does not wrap.
    let top = Access {
        addr: u64::MAX - 3,
        len: 8,
        load: true,
        store: false,
    };
    assert!(top.touches(u64::MAX - 1, u64::MAX));
    assert!(!top.touches(0, 8));
}

/// Instruction length from the low two bits (ISA 1.5): 0b11 is a 32-bit
/// instruction, anything else a 16-bit compressed one.
#[test]
fn instruction_lengths() {
    for low in 0..4u16 {
        let want = if low == 0b11 { 4 } else { 2 };
        assert_eq!(crate::insn::length(low), want, "{low:#b}");
        assert_eq!(crate::insn::length(0xfffc | low), want, "{low:#b}");
    }
}

/// `ebreak` is 0x0010_0073 and `c.ebreak` 0x9002; `ecall`, `c.jalr` and
/// their neighbours are not.
#[test]
fn ebreak_encodings() {
    use crate::insn::is_ebreak;
    assert!(is_ebreak(0x0010_0073));
    assert!(is_ebreak(0x9002));
    for other in [0x0000_0073, 0x0020_0073, 0x9082, 0x9006, 0x8002, 0] {
        assert!(!is_ebreak(other), "{other:#x}");
    }
}

/// Encodings whose opcode is a load, store or AMO but whose width field is
/// not one this decoder knows: reserved, or vector accesses.
#[test]
fn reserved_widths_are_not_accesses() {
    let mut regs = [0u64; 32];
    regs[5] = 0x1000;
    // STORE with funct3 4-7 (sq is RV128 only).
    for funct3 in 4..8 {
        assert_eq!(
            access(stype(8, 6, 5, funct3, 0x23), &regs),
            None,
            "{funct3}"
        );
    }
    // LOAD with funct3 7.
    assert_eq!(access(itype(8, 5, 7, 6, 0x03), &regs), None);
    // LOAD-FP / STORE-FP with funct3 0, 5, 6, 7: vector loads and stores.
    for funct3 in [0, 5, 6, 7] {
        assert_eq!(access(itype(8, 5, funct3, 6, 0x07), &regs), None);
        assert_eq!(access(stype(8, 6, 5, funct3, 0x27), &regs), None);
    }
    // AMO with funct3 0, 1 (byte and halfword AMOs) or 4 (quadword).
    for funct3 in [0, 1, 4] {
        let amo = (6 << 20) | (5 << 15) | (funct3 << 12) | (7 << 7) | 0x2f;
        assert_eq!(access(amo, &regs), None, "{funct3}");
    }
}

/// The floating-point loads and stores of every width (Zfh flh/fsh, F,
/// D, Q): funct3 1, 2, 3, 4 are 2, 4, 8, 16 bytes.
#[test]
fn floating_point_widths() {
    let mut regs = [0u64; 32];
    regs[5] = 0x1000;
    for (funct3, len) in [(1, 2), (2, 4), (3, 8), (4, 16)] {
        let l = access(itype(16, 5, funct3, 6, 0x07), &regs).unwrap();
        assert_eq!((l.addr, l.len, l.load, l.store), (0x1010, len, true, false));
        let s = access(stype(-16, 6, 5, funct3, 0x27), &regs).unwrap();
        assert_eq!((s.addr, s.len, s.load, s.store), (0x0ff0, len, false, true));
    }
}

/// Every RV64C load and store form with an offset using each of its
/// immediate bits, worked out from the RVC tables (ISA 16.3).
#[test]
fn compressed_offsets_bit_by_bit() {
    let mut regs = [0u64; 32];
    regs[9] = 0x4000; // s1 = x8 + 1
    regs[2] = 0x8000; // sp
    let rs1 = 0b001 << 7; // s1
    let rd = 0b010 << 2; // a0
                         // c.lw / c.sw: uimm[5:3] = c[12:10], uimm[2] = c[6], uimm[6] = c[5].
    for (bits, off) in [
        (0b100 << 10, 32),
        (1 << 6, 4),
        (1 << 5, 64),
        (0b111 << 10 | 0b11 << 5, 124),
    ] {
        let lw = (0b010 << 13) | bits | rs1 | rd;
        let sw = (0b110 << 13) | bits | rs1 | rd;
        assert_eq!(
            access(lw, &regs),
            Some(Access {
                addr: 0x4000 + off,
                len: 4,
                load: true,
                store: false
            }),
            "c.lw {off}"
        );
        assert_eq!(
            access(sw, &regs),
            Some(Access {
                addr: 0x4000 + off,
                len: 4,
                load: false,
                store: true
            }),
            "c.sw {off}"
        );
    }
    // c.fld / c.ld / c.fsd / c.sd: uimm[5:3] = c[12:10], uimm[7:6] = c[6:5].
    for (bits, off) in [
        (0b001 << 10, 8),
        (0b01 << 5, 64),
        (0b10 << 5, 128),
        (0b111 << 10 | 0b11 << 5, 248),
    ] {
        for (funct3, store) in [(0b001, false), (0b011, false), (0b101, true), (0b111, true)] {
            let c = (funct3 << 13) | bits | rs1 | rd;
            assert_eq!(
                access(c, &regs),
                Some(Access {
                    addr: 0x4000 + off,
                    len: 8,
                    load: !store,
                    store
                }),
                "funct3 {funct3:#b} {off}"
            );
        }
    }
    // c.lwsp: uimm[5] = c[12], uimm[4:2] = c[6:4], uimm[7:6] = c[3:2].
    for (bits, off) in [
        (1 << 12, 32),
        (0b100 << 4, 16),
        (0b01 << 2, 64),
        (0b10 << 2, 128),
    ] {
        let c = (0b010 << 13) | bits | (10 << 7) | 0b10;
        assert_eq!(
            access(c, &regs).map(|a| (a.addr, a.len, a.load)),
            Some((0x8000 + off, 4, true)),
            "c.lwsp {off}"
        );
    }
    // c.lwsp with rd = x0 is reserved.
    assert_eq!(access((0b010 << 13) | (0b001 << 4) | 0b10, &regs), None);
    // c.fldsp / c.ldsp: uimm[5] = c[12], uimm[4:3] = c[6:5], uimm[8:6] = c[4:2].
    for (bits, off) in [
        (1 << 12, 32),
        (0b10 << 5, 16),
        (0b01 << 5, 8),
        (0b001 << 2, 64),
        (0b100 << 2, 256),
    ] {
        for funct3 in [0b001, 0b011] {
            let c = (funct3 << 13) | bits | (10 << 7) | 0b10;
            assert_eq!(
                access(c, &regs).map(|a| (a.addr, a.len, a.load)),
                Some((0x8000 + off, 8, true)),
                "ldsp {off}"
            );
        }
    }
    // c.swsp: uimm[5:2] = c[12:9], uimm[7:6] = c[8:7].
    for (bits, off) in [
        (0b0001 << 9, 4),
        (0b1000 << 9, 32),
        (0b01 << 7, 64),
        (0b10 << 7, 128),
    ] {
        let c = (0b110 << 13) | bits | (10 << 2) | 0b10;
        assert_eq!(
            access(c, &regs).map(|a| (a.addr, a.len, a.store)),
            Some((0x8000 + off, 4, true)),
            "c.swsp {off}"
        );
    }
    // c.fsdsp / c.sdsp: uimm[5:3] = c[12:10], uimm[8:6] = c[9:7].
    for (bits, off) in [
        (0b001 << 10, 8),
        (0b100 << 10, 32),
        (0b001 << 7, 64),
        (0b100 << 7, 256),
    ] {
        for funct3 in [0b101, 0b111] {
            let c = (funct3 << 13) | bits | (10 << 2) | 0b10;
            assert_eq!(
                access(c, &regs).map(|a| (a.addr, a.len, a.store)),
                Some((0x8000 + off, 8, true)),
                "sdsp {off}"
            );
        }
    }
    // Quadrant 0 funct3 0 (c.addi4spn) and 4 (reserved) touch no memory.
    assert_eq!(access((1 << 5) | rd, &regs), None);
    assert_eq!(access((0b100 << 13) | rs1 | rd, &regs), None);
}

/// Stores encode their offset in two pieces (imm[11:5] at 31:25, imm[4:0]
/// at 11:7): each piece moves the address on its own.
#[test]
fn store_offsets_bit_by_bit() {
    let mut regs = [0u64; 32];
    regs[5] = 0x1_0000;
    for off in [1, 0x10, 0x1f, 0x20, 0x400, 0x7ff, -1, -0x800] {
        let a = access(stype(off, 6, 5, 3, 0x23), &regs).unwrap();
        assert_eq!(a.addr, 0x1_0000u64.wrapping_add(off as i64 as u64), "{off}");
        assert_eq!((a.len, a.store), (8, true));
    }
}

/// beq / bne / blt / bge / bltu / bgeu on equal, smaller and larger
/// operands, signed and unsigned (ISA 2.5).
#[test]
fn branch_conditions() {
    let pc = 0x8000_1000;
    // Offset +16: imm[4:1] = 0b1000 at 11:8.
    let branch = |funct3: u32| (7 << 20) | (6 << 15) | (funct3 << 12) | (0b1000 << 8) | 0x63;
    let taken = |funct3, a: u64, b: u64| {
        let mut regs = [0u64; 32];
        regs[6] = a;
        regs[7] = b;
        match next_pc(branch(funct3), pc, &regs) {
            Some(t) if t == pc + 16 => true,
            Some(t) if t == pc + 4 => false,
            other => panic!("{other:?}"),
        }
    };
    let neg = u64::MAX; // -1
                        // (a, b): equal, a < b both ways, a < b signed only (-1 vs 1).
    for (a, b) in [(5, 5), (1, 2), (neg, 1), (2, 1), (1, neg)] {
        let (sa, sb) = (a as i64, b as i64);
        assert_eq!(taken(0, a, b), a == b, "beq {a} {b}");
        assert_eq!(taken(1, a, b), a != b, "bne {a} {b}");
        assert_eq!(taken(4, a, b), sa < sb, "blt {a} {b}");
        assert_eq!(taken(5, a, b), sa >= sb, "bge {a} {b}");
        assert_eq!(taken(6, a, b), a < b, "bltu {a} {b}");
        assert_eq!(taken(7, a, b), a >= b, "bgeu {a} {b}");
    }
}

/// Jump and branch offsets use each of their scattered immediate bits.
#[test]
fn jump_offsets_bit_by_bit() {
    let regs = [0u64; 32];
    let pc = 0x8010_0000u64;
    // JAL: imm[20|10:1|11|19:12] = insn[31|30:21|20|19:12].
    for (bits, off) in [
        (1 << 21, 2i64),
        (1 << 30, 0x400),
        (1 << 20, 0x800),
        (1 << 12, 0x1000),
        (1 << 19, 0x8_0000),
        (1 << 31, -0x10_0000),
    ] {
        let jal = bits | 0x6f;
        assert_eq!(
            next_pc(jal, pc, &regs),
            Some(pc.wrapping_add(off as u64)),
            "jal {off:#x}"
        );
    }
    // BRANCH (beq x0, x0: taken): imm[12|10:5] = insn[31|30:25],
    // imm[4:1|11] = insn[11:8|7].
    for (bits, off) in [
        (1 << 8, 2i64),
        (1 << 11, 16),
        (1 << 25, 32),
        (1 << 30, 0x400),
        (1 << 7, 0x800),
        (1 << 31, -0x1000),
    ] {
        let beq = bits | 0x63;
        assert_eq!(
            next_pc(beq, pc, &regs),
            Some(pc.wrapping_add(off as u64)),
            "beq {off:#x}"
        );
    }
    // c.j: imm[11|4|9:8|10|6|7|3:1|5] = c[12|11|10:9|8|7|6|5:3|2].
    for (bits, off) in [
        (1 << 3, 2i64),
        (1 << 11, 16),
        (1 << 2, 32),
        (1 << 7, 64),
        (1 << 6, 128),
        (1 << 9, 256),
        (1 << 10, 512),
        (1 << 8, 1024),
        (1 << 12, -2048),
    ] {
        let c_j = (0b101 << 13) | bits | 0b01;
        assert_eq!(
            next_pc(c_j, pc, &regs),
            Some(pc.wrapping_add(off as u64)),
            "c.j {off}"
        );
    }
    // c.beqz s0 (s0 = 0: taken): imm[8|4:3] = c[12|11:10],
    // imm[7:6|2:1|5] = c[6:5|4:3|2].
    for (bits, off) in [
        (1 << 3, 2i64),
        (1 << 10, 8),
        (1 << 11, 16),
        (1 << 2, 32),
        (1 << 5, 64),
        (1 << 6, 128),
        (1 << 12, -256),
    ] {
        let c_beqz = (0b110 << 13) | bits | 0b01;
        assert_eq!(
            next_pc(c_beqz, pc, &regs),
            Some(pc.wrapping_add(off as u64)),
            "c.beqz {off}"
        );
    }
}

/// Encodings near the jumps that are not jumps fall through: JALR with a
/// reserved funct3, CSR instructions (SYSTEM with funct3 != 0), `c.mv` and
/// `c.add` (quadrant 2, funct3 100 with rs2 != 0); `wfi` resumes after
/// itself, `sret` and `mret` have no next instruction here.
#[test]
fn next_pc_of_non_jumps() {
    let mut regs = [0u64; 32];
    regs[5] = 0x9000;
    regs[11] = 0x7000;
    let pc = 0x8000_1000;
    assert_eq!(next_pc(itype(0, 5, 1, 0, 0x67), pc, &regs), Some(pc + 4));
    // csrrw t1, 0x7a0, t0 and csrrs t1, sstatus, x0.
    assert_eq!(
        next_pc(itype(0x7a0, 5, 1, 6, 0x73), pc, &regs),
        Some(pc + 4)
    );
    assert_eq!(
        next_pc(itype(0x100, 0, 2, 6, 0x73), pc, &regs),
        Some(pc + 4)
    );
    // c.mv a0, a1 = 0x852e; c.add a0, a1 = 0x952e.
    assert_eq!(next_pc(0x852e, pc, &regs), Some(pc + 2));
    assert_eq!(next_pc(0x952e, pc, &regs), Some(pc + 2));
    // wfi, then sret and mret.
    assert_eq!(next_pc(0x1050_0073, pc, &regs), Some(pc + 4));
    assert_eq!(next_pc(0x1020_0073, pc, &regs), None);
    assert_eq!(next_pc(0x3020_0073, pc, &regs), None);
    // c.jr with rs1 = 0 and bit 12 clear is reserved.
    assert_eq!(next_pc(0x8002, pc, &regs), None);
}

// --- more of the backend ---------------------------------------------------

#[test]
fn trigger_types_and_counts() {
    assert_eq!(TriggerType::Mcontrol.type_field(), 2);
    assert_eq!(TriggerType::Mcontrol6.type_field(), 6);
    // Type 6 whenever any trigger supports it; counts capped at 16.
    for (t6, t2, want) in [
        (2, 2, (2, TriggerType::Mcontrol6)),
        (1, 0, (1, TriggerType::Mcontrol6)),
        (0, 4, (4, TriggerType::Mcontrol)),
        (0, 0, (0, TriggerType::Mcontrol)),
        (16, 0, (16, TriggerType::Mcontrol6)),
        (17, 3, (16, TriggerType::Mcontrol6)),
        (0, 40, (16, TriggerType::Mcontrol)),
        (0, 16, (16, TriggerType::Mcontrol)),
        (0, 15, (15, TriggerType::Mcontrol)),
    ] {
        let t = Triggers::choose(t6, t2);
        assert_eq!((t.count, t.kind), want, "{t6} {t2}");
    }
    // Given counts are capped alike.
    for (n, want) in [(15, 15), (16, 16), (17, 16), (255, 16)] {
        let r = Riscv::machine().with_triggers(Triggers {
            count: n,
            kind: TriggerType::Mcontrol,
        });
        assert_eq!(r.slot_counts().0, [want, 0], "{n}");
    }
}

/// What discovery found is remembered as a 16-bit word: it reads back as
/// what was stored, for every count and type, and a word never written
/// means "not probed yet".
#[test]
fn discovered_triggers_round_trip() {
    assert_eq!(Triggers::unpack(0), None);
    for count in 0..=16 {
        for kind in [TriggerType::Mcontrol, TriggerType::Mcontrol6] {
            let t = Triggers { count, kind };
            assert_eq!(Triggers::unpack(t.pack()), Some(t), "{t:?}");
        }
    }
    // On the host nothing is probed: no triggers, remembered as such.
    let r = Riscv::machine();
    assert_eq!(r.triggers(), Triggers::NONE);
    assert_eq!(r.triggers(), Triggers::NONE);
}

/// NAPOT's largest block is a power of two of at least 2 bytes: smaller
/// values give 2, others are rounded down.
#[test]
fn napot_limit_is_rounded() {
    let piece_of = |max: u64| {
        Riscv::machine()
            .with_triggers(TWO6)
            .matching(Matching::Napot { max })
            .max_piece(AccessKind::Write, 0x10_0000, 1 << 20)
            .unwrap()
    };
    for (max, want) in [
        (0, 2),
        (1, 2),
        (2, 2),
        (3, 2),
        (4, 4),
        (100, 64),
        (4096, 4096),
    ] {
        assert_eq!(piece_of(max), want, "max {max}");
    }
}

/// NAPOT pieces: the largest aligned block that fits, single bytes at odd
/// addresses, and address 0 aligned to everything.
#[test]
fn napot_pieces() {
    let r = Riscv::machine()
        .with_triggers(TWO6)
        .matching(Matching::Napot { max: 1 << 16 });
    let m = |a, l| r.max_piece(AccessKind::Write, a, l).unwrap();
    assert_eq!(m(0, 1 << 20), 1 << 16);
    assert_eq!(m(0, 24), 16);
    assert_eq!(m(0x1000, 0x1000), 0x1000);
    assert_eq!(m(0x1000, 0x0fff), 0x800);
    assert_eq!(m(0x1008, 0x100), 8);
    assert_eq!(m(0x1001, 0x100), 1);
    assert_eq!(m(0x8000_0000, 3), 2);
}

/// A virtual address width is used only when it can be one (2 to 63
/// bits); otherwise every address is accepted.
#[test]
fn virtual_address_widths() {
    let hole = (0x0000_0040_0000_0000u64, 0x0000_0040_0000_0008u64);
    for bits in [39u8, 48, 57, 63] {
        let r = Riscv::machine().virtual_address_bits(bits);
        let first_bad = 1u64 << (bits - 1);
        assert_eq!(
            r.check_range(first_bad, first_bad + 8, Space::Kernel)
                .unwrap_err()
                .kind(),
            ErrorKind::NonCanonical,
            "{bits}"
        );
        assert!(r
            .check_range(first_bad - 8, first_bad, Space::Kernel)
            .is_ok());
    }
    assert!(Riscv::machine()
        .virtual_address_bits(39)
        .check_range(hole.0, hole.1, Space::Kernel)
        .is_err());
    for bits in [0u8, 1, 64, 200] {
        let r = Riscv::machine().virtual_address_bits(bits);
        assert!(
            r.check_range(hole.0, hole.1, Space::Kernel).is_ok(),
            "{bits}"
        );
        assert!(
            r.check_range(1 << 62, (1 << 62) + 8, Space::Kernel).is_ok(),
            "{bits}"
        );
    }
}

/// What a data image watches, for both trigger types and every matching.
#[test]
fn watched_ranges_of_both_types() {
    for kind in [TriggerType::Mcontrol, TriggerType::Mcontrol6] {
        let t = Triggers { count: 2, kind };
        let exact = Riscv::machine().with_triggers(t);
        let img = exact.encode(&piece(0x2005, 1, AccessKind::Write)).unwrap();
        assert_eq!(tdata1::trigger_type(img.control), kind.type_field());
        assert_eq!(exact.watched_range(img), Some((0x2005, 1)), "{kind:?}");
        let napot = Riscv::machine()
            .with_triggers(t)
            .matching(Matching::Napot { max: 64 });
        let img = napot.encode(&piece(0x2040, 64, AccessKind::Read)).unwrap();
        assert_eq!(napot.watched_range(img), Some((0x2040, 64)), "{kind:?}");
        let qemu = Riscv::machine()
            .with_triggers(t)
            .matching(Matching::SizeAsLength);
        let img = qemu
            .encode(&piece(0x2003, 5, AccessKind::ReadWrite))
            .unwrap();
        assert_eq!(qemu.watched_range(img), Some((0x2003, 5)), "{kind:?}");
    }
    // Neither type 2 nor 6, or no load/store bit: nothing.
    let exact = Riscv::machine().with_triggers(TWO6);
    assert_eq!(
        exact.watched_range(SlotImage {
            value: 0x1000,
            control: 0x3000_0000_0000_0003
        }),
        None
    );
    assert_eq!(
        exact.watched_range(SlotImage {
            value: 0x1000,
            control: 0x6000_0000_0000_0040
        }),
        None
    );
}

#[test]
fn access_bits_contain() {
    use crate::registers::AccessBits;
    let rw = AccessBits::LOAD | AccessBits::STORE;
    assert!(rw.contains(AccessBits::LOAD) && rw.contains(AccessBits::STORE));
    assert!(rw.contains(rw));
    assert!(!rw.contains(AccessBits::EXECUTE));
    assert!(!AccessBits::LOAD.contains(rw));
    // OR of access bits is idempotent.
    assert_eq!(AccessBits::LOAD | AccessBits::LOAD, AccessBits::LOAD);
    assert_eq!(rw | AccessBits::STORE, rw);
    assert_eq!(
        crate::registers::Privilege::MASK,
        (1 << 6) | (1 << 4) | (1 << 3)
    );
    assert_eq!(
        (
            AccessBits::LOAD.0,
            AccessBits::STORE.0,
            AccessBits::EXECUTE.0
        ),
        (1, 2, 4)
    );
}

/// No shared control register.
#[test]
fn no_control_word() {
    let r = qemu();
    let img = r.encode(&piece(0x1000, 8, AccessKind::Write)).unwrap();
    assert_eq!(r.control_word(POOL, &[Some(img), None]), 0);
}

/// With no decoded access, `tval` must be inside a range: its last byte
/// is, one past it is not. Execute and data hits of one exception are
/// both reported.
#[test]
fn decode_tval_bounds_and_mixed_hits() {
    let r = qemu();
    let w = r.encode(&piece(0x1000, 8, AccessKind::Write)).unwrap();
    let armed = Armed(vec![Some(w)]);
    let trap = |tval| Trap {
        cause: CAUSE_BREAKPOINT,
        epc: 0x8000_0100,
        tval,
        ..Trap::default()
    };
    assert_eq!(r.decode(&trap(0x1000), &armed).hits[0], 1);
    assert_eq!(r.decode(&trap(0x1007), &armed).hits[0], 1);
    assert!(!r.decode(&trap(0x1008), &armed).any_hit());
    assert!(!r.decode(&trap(0x0fff), &armed).any_hit());
    // An execute trigger at epc and a store trigger the access hits.
    let x = r
        .encode(&piece(0x8000_0100, 4, AccessKind::Execute))
        .unwrap();
    let armed = Armed(vec![Some(w), Some(x)]);
    let mut t = trap(0x1000);
    t.access = Some(Access {
        addr: 0x1000,
        len: 4,
        load: false,
        store: true,
    });
    assert_eq!(r.decode(&t, &armed).hits[0], 0b11);
}

// --- register fields -----------------------------------------------------

/// mcontrol (spec 5.7.12): hit bit 20, select 19, timing 18, sizehi 22:21,
/// sizelo 17:16, maskmax 58:53, match 10:7, access bits 2:0.
#[test]
fn mcontrol_fields_read_back() {
    use crate::registers::{AccessBits, MatchKind, Privilege, ACTION_MASK, CHAIN};
    assert_eq!(
        (Mcontrol::HIT, Mcontrol::SELECT, Mcontrol::TIMING),
        (1 << 20, 1 << 19, 1 << 18)
    );
    assert_eq!((ACTION_MASK, CHAIN), (0xf000, 0x800));
    // Every size code 0-7 round-trips through sizehi:sizelo.
    for size in 0..8u8 {
        let c = Mcontrol::new(AccessBits::LOAD, Privilege::USER, MatchKind::Equal, size);
        assert_eq!(c.size(), size);
        assert_eq!(
            (c.bits() >> 21) & 0b11,
            u64::from(size >> 2),
            "sizehi of {size}"
        );
        assert_eq!((c.bits() >> 16) & 0b11, u64::from(size & 0b11));
    }
    // Raw values: sizehi = 0b01, sizelo = 0b01 -> size 5; maskmax 31.
    let raw = Mcontrol::from_bits(0x2000_0000_0000_0000 | (31 << 53) | (1 << 21) | (1 << 16) | 0x7);
    assert_eq!(raw.size(), 5);
    assert_eq!(raw.maskmax(), 31);
    assert_eq!(Mcontrol::from_bits(0x3f << 53).maskmax(), 63);
    assert_eq!(Mcontrol::from_bits(!(0x3f << 53)).maskmax(), 0);
    assert_eq!(raw.access(), AccessBits(0b111));
    assert_eq!(Mcontrol::from_bits(!0b111).access(), AccessBits(0));
    assert_eq!(Mcontrol::from_bits(!0b101).access(), AccessBits(0b010));
    // match: Equal is 0, the other kinds their numbers.
    for (kind, field) in [
        (MatchKind::Equal, 0),
        (MatchKind::Napot, 1),
        (MatchKind::GreaterOrEqual, 2),
        (MatchKind::Less, 3),
    ] {
        let c = Mcontrol::new(AccessBits::STORE, Privilege::MACHINE, kind, 0);
        assert_eq!(c.match_field(), field);
        assert_eq!(MatchKind::from_field(field), Some(kind));
    }
    assert_eq!(MatchKind::from_field(4), None);
    // Chain, an action or timing = 1 each make the trigger more than a
    // plain breakpoint; nothing else does.
    for extra in [CHAIN, 1 << 12, 0x8 << 12, Mcontrol::TIMING] {
        assert!(Mcontrol::from_bits(extra).uses_extras(), "{extra:#x}");
    }
    assert!(!Mcontrol::from_bits(!(CHAIN | ACTION_MASK | Mcontrol::TIMING)).uses_extras());
}

/// mcontrol6 (spec 5.7.17): hit1 25, vs 24, vu 23, hit0 22, select 21;
/// `hit1:hit0` read as a two-bit value.
#[test]
fn mcontrol6_fields_read_back() {
    assert_eq!(
        (
            Mcontrol6::HIT1,
            Mcontrol6::VS,
            Mcontrol6::VU,
            Mcontrol6::HIT0,
            Mcontrol6::SELECT
        ),
        (1 << 25, 1 << 24, 1 << 23, 1 << 22, 1 << 21)
    );
    for (bits, hit) in [
        (0, 0),
        (Mcontrol6::HIT0, 1),
        (Mcontrol6::HIT1, 2),
        (Mcontrol6::HIT1 | Mcontrol6::HIT0, 3),
    ] {
        assert_eq!(Mcontrol6::from_bits(bits).hit(), hit, "{bits:#x}");
    }
    assert_eq!(
        Mcontrol6::from_bits(!(Mcontrol6::HIT1 | Mcontrol6::HIT0)).hit(),
        0
    );
}

/// tdata1: type 63:60, dmode 59, the type's own data below.
#[test]
fn tdata1_type_and_data() {
    assert_eq!(tdata1::DMODE, 1 << 59);
    assert_eq!(tdata1::with_type(6, 0), 0x6000_0000_0000_0000);
    assert_eq!(tdata1::with_type(2, 0x44), 0x2000_0000_0000_0044);
    // Data bits above 58 (dmode, type) are not taken from `data`, and only
    // four type bits are.
    assert_eq!(tdata1::with_type(2, u64::MAX), 0x27ff_ffff_ffff_ffff);
    assert_eq!(tdata1::with_type(0x12, 1), 0x2000_0000_0000_0001);
    assert_eq!(tdata1::trigger_type(0xf000_0000_0000_0000), 15);
}

/// NAPOT values exist for naturally aligned powers of two of 2 bytes or
/// more only.
#[test]
fn napot_refusals() {
    assert_eq!(tdata2::napot(0x1000, 0), None);
    assert_eq!(tdata2::napot(0x1000, 1), None);
    assert_eq!(tdata2::napot(0x1000, 3), None);
    assert_eq!(tdata2::napot(0x1000, 24), None);
    assert_eq!(tdata2::napot(0x1008, 16), None);
    assert_eq!(tdata2::napot(0x1000, 2), Some(0x1000));
    assert_eq!(tdata2::napot(0x1000, 4), Some(0x1001));
    assert_eq!(tdata2::napot(0, 1 << 63), Some((1 << 62) - 1));
}

/// tinfo: `info` bit N = type N supported (bits 15:0), `version` 31:24; a
/// value of 1 (type 0 only) means no trigger at that index.
#[test]
fn tinfo_fields() {
    let t = Tinfo(0x0100_0044);
    assert_eq!(t.version(), 1);
    assert_eq!(Tinfo(0x44).version(), 0);
    assert_eq!(Tinfo(0xff00_0000).version(), 0xff);
    assert_eq!(t.info(), 0x44);
    for ty in 0..16u8 {
        assert_eq!(t.supports(ty), ty == 2 || ty == 6, "type {ty}");
        assert!(Tinfo(0xffff).supports(ty));
    }
    // Types past 15 have no `info` bit.
    for ty in [16, 17, 24, 255] {
        assert!(!Tinfo(u64::MAX).supports(ty), "type {ty}");
    }
    assert!(!Tinfo(0).exists());
    assert!(!Tinfo(1).exists());
    assert!(Tinfo(0b10).exists());
    assert!(Tinfo(0x44).exists());
}

/// tselect probing stops at the first index that does not stick, and at
/// the limit.
#[test]
fn tselect_probing_limits() {
    use crate::registers::tselect::count_from;
    let mut asked = Vec::new();
    let n = count_from(
        |i| {
            asked.push(i);
            i
        },
        3,
    );
    assert_eq!((n, asked), (3, vec![0, 1, 2]));
    assert_eq!(count_from(|_| 0, 16), 1);
    assert_eq!(count_from(|i| i + 1, 16), 0);
}

/// What each route writes for one image (spec 5.7.2: `tdata1` = 0 first,
/// so any `tdata2` is accepted; SBI 3.0 19.4: trig_idx, tdata1-3).
#[test]
fn route_writes() {
    use crate::registers::csr;
    use crate::route::{csr_writes, install_entry};
    assert_eq!(
        (
            csr::TSELECT,
            csr::TDATA1,
            csr::TDATA2,
            csr::TDATA3,
            csr::TINFO
        ),
        (0x7a0, 0x7a1, 0x7a2, 0x7a3, 0x7a4)
    );
    let img = SlotImage {
        value: 0x8000_1000,
        control: 0x6000_0000_0000_0012,
    };
    assert_eq!(
        csr_writes(3, Some(img)),
        [
            (0x7a0, 3),
            (0x7a1, 0),
            (0x7a2, 0x8000_1000),
            (0x7a3, 0),
            (0x7a1, 0x6000_0000_0000_0012),
        ]
    );
    assert_eq!(
        csr_writes(1, None),
        [(0x7a0, 1), (0x7a1, 0), (0x7a2, 0), (0x7a3, 0), (0x7a1, 0)]
    );
    assert_eq!(
        install_entry(img),
        [0, 0x6000_0000_0000_0012, 0x8000_1000, 0]
    );
}
