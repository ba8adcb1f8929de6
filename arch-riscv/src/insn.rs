//! What the trapping instruction does, decoded from its encoding and the
//! saved integer registers: the memory access of a load or store
//! ([`access`]), and the address of the instruction that runs after it
//! ([`next_pc`]). Pure: compiled and tested on the host.
//!
//! A debug trigger's breakpoint exception says neither which trigger fired
//! nor (portably) which bytes were accessed: `stval` holds "the address"
//! only where the implementation chooses to. The OS therefore decodes the
//! instruction at `sepc`/`mepc` with [`access`] and passes it in
//! [`Trap::access`](crate::Trap::access), and the decoder matches it
//! against the armed triggers.
//!
//! RISC-V has no single-step a kernel can use (`dcsr.step` belongs to
//! Debug Mode, and `icount` triggers are optional): to step over an access
//! or instruction whose trigger fires before it, the OS arms an execute
//! trigger on [`next_pc`] of the trapping instruction.
//!
//! Covered: RV64I loads and stores, the F/D/Q/Zfh floating-point loads and
//! stores, the A extension (LR/SC/AMOs), and the RV64C compressed loads,
//! stores, jumps and branches.
//!
//! # Examples
//!
//! ```
//! use hwbreak_riscv::insn::{access, next_pc};
//! let mut regs = [0u64; 32];
//! regs[10] = 0x8000_2000; // a0
//! // sw a1, 8(a0): opcode 0x23, funct3 2, rs1 = 10, rs2 = 11, imm = 8.
//! let sw = 0x00b5_2423;
//! let a = access(sw, &regs).unwrap();
//! assert_eq!((a.addr, a.len, a.store, a.load), (0x8000_2008, 4, true, false));
//! assert_eq!(next_pc(sw, 0x8000_0100, &regs), Some(0x8000_0104));
//! ```

/// One memory access of an instruction.
///
/// # Examples
///
/// ```
/// use hwbreak_riscv::insn::Access;
/// let a = Access { addr: 0x1000, len: 8, load: true, store: false };
/// assert!(a.touches(0x1007, 0x1010) && !a.touches(0x1008, 0x1010));
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Access {
    /// First byte accessed.
    pub addr: u64,
    /// Bytes accessed.
    pub len: u8,
    /// The instruction reads memory.
    pub load: bool,
    /// The instruction writes memory.
    pub store: bool,
}

impl Access {
    /// Whether the access touches a byte of `[start, end)`.
    pub const fn touches(&self, start: u64, end: u64) -> bool {
        self.addr < end && start < self.addr.saturating_add(self.len as u64)
    }
}

/// Bits `hi..=lo` of `v`.
const fn bits(v: u32, hi: u32, lo: u32) -> u32 {
    (v >> lo) & ((1 << (hi - lo + 1)) - 1)
}

/// An immediate an encoding scatters over the instruction: each
/// `(hi, lo, at)` of `fields` moves instruction bits `hi..=lo` to bit `at`
/// of the immediate.
const fn gather(v: u32, fields: &[(u32, u32, u32)]) -> u32 {
    let mut imm = 0;
    let mut i = 0;
    while i < fields.len() {
        let (hi, lo, at) = fields[i];
        imm |= bits(v, hi, lo) << at;
        i += 1;
    }
    imm
}

/// `v`'s low `width` bits, sign-extended.
const fn sext(v: u32, width: u32) -> i64 {
    let shift = 64 - width;
    ((v as i64) << shift) >> shift
}

/// Integer register `r` (x0 reads as 0 whatever the frame holds).
fn reg(regs: &[u64; 32], r: u32) -> u64 {
    if r == 0 {
        0
    } else {
        regs[r as usize & 31]
    }
}

/// The length of the instruction whose low half-word is `low`: 2 for a
/// compressed instruction, 4 otherwise (longer encodings are reserved and
/// not produced by any ratified extension).
///
/// # Examples
///
/// ```
/// use hwbreak_riscv::insn::length;
/// assert_eq!(length(0x4501), 2); // c.li a0, 0
/// assert_eq!(length(0x0013), 4); // the low half of nop (addi x0, x0, 0)
/// ```
pub const fn length(low: u16) -> u64 {
    if low & 0b11 == 0b11 {
        4
    } else {
        2
    }
}

/// Whether `insn` is `ebreak` or `c.ebreak`: a breakpoint exception at it
/// is the kernel's own software breakpoint, not a trigger.
///
/// # Examples
///
/// ```
/// use hwbreak_riscv::insn::is_ebreak;
/// assert!(is_ebreak(0x0010_0073) && is_ebreak(0x9002));
/// assert!(!is_ebreak(0x0000_0073)); // ecall
/// ```
pub const fn is_ebreak(insn: u32) -> bool {
    insn == 0x0010_0073 || insn == 0x9002
}

/// The memory access `insn` makes with the integer registers `regs`
/// (`regs[i]` = x*i*, as saved on exception entry), or `None` for an
/// instruction that is not a scalar load or store (vector accesses
/// included). A compressed instruction is passed in the low 16 bits.
///
/// # Examples
///
/// ```
/// use hwbreak_riscv::insn::access;
/// let mut regs = [0u64; 32];
/// regs[2] = 0x8010_0000; // sp
/// // ld a0, -16(sp): imm = 0xff0, rs1 = 2, funct3 = 3, rd = 10, opcode 0x03.
/// let a = access(0xff01_3503, &regs).unwrap();
/// assert_eq!((a.addr, a.len, a.load), (0x800f_fff0, 8, true));
/// // amoadd.w: reads and writes the word at rs1.
/// regs[10] = 0x9000;
/// let amo = (0b00000 << 27) | (11 << 20) | (10 << 15) | (2 << 12) | (12 << 7) | 0x2f;
/// let a = access(amo, &regs).unwrap();
/// assert_eq!((a.addr, a.len, a.load, a.store), (0x9000, 4, true, true));
/// assert_eq!(access(0x0000_0013, &regs), None); // nop
/// ```
pub fn access(insn: u32, regs: &[u64; 32]) -> Option<Access> {
    if insn & 0b11 != 0b11 {
        return compressed_access(insn as u16, regs);
    }
    let opcode = bits(insn, 6, 0);
    let funct3 = bits(insn, 14, 12);
    let base = reg(regs, bits(insn, 19, 15));
    let imm_i = sext(bits(insn, 31, 20), 12);
    // imm[11:5] = insn[31:25], imm[4:0] = insn[11:7].
    let imm_s = sext(gather(insn, &[(31, 25, 5), (11, 7, 0)]), 12);
    let at = |imm: i64| base.wrapping_add(imm as u64);
    let (addr, len, load, store) = match opcode {
        // LOAD: lb lh lw ld lbu lhu lwu.
        0x03 => {
            let len = match funct3 {
                0 | 4 => 1,
                1 | 5 => 2,
                2 | 6 => 4,
                3 => 8,
                _ => return None,
            };
            (at(imm_i), len, true, false)
        }
        // LOAD-FP: flh flw fld flq (other widths are vector loads).
        0x07 => (at(imm_i), fp_width(funct3)?, true, false),
        // STORE: sb sh sw sd.
        0x23 if funct3 <= 3 => (at(imm_s), 1 << funct3, false, true),
        // STORE-FP: fsh fsw fsd fsq.
        0x27 => (at(imm_s), fp_width(funct3)?, false, true),
        // AMO: LR reads, SC writes, the others do both; no offset.
        0x2f if funct3 == 2 || funct3 == 3 => {
            let len = if funct3 == 2 { 4 } else { 8 };
            match bits(insn, 31, 27) {
                0b00010 => (base, len, true, false),
                0b00011 => (base, len, false, true),
                _ => (base, len, true, true),
            }
        }
        _ => return None,
    };
    Some(Access {
        addr,
        len,
        load,
        store,
    })
}

/// Width of a floating-point load or store from its `funct3`.
const fn fp_width(funct3: u32) -> Option<u8> {
    match funct3 {
        1 => Some(2),
        2 => Some(4),
        3 => Some(8),
        4 => Some(16),
        _ => None,
    }
}

/// Offsets of the RV64C forms: `c.lw`/`c.sw` (4 bytes) and
/// `c.ld`/`c.sd`/`c.fld`/`c.fsd` (8 bytes) from their scattered bits.
const fn cl_offset(c: u32, eight: bool) -> u64 {
    if eight {
        // uimm[5:3] = c[12:10], uimm[7:6] = c[6:5].
        gather(c, &[(12, 10, 3), (6, 5, 6)]) as u64
    } else {
        // uimm[5:3] = c[12:10], uimm[2] = c[6], uimm[6] = c[5].
        gather(c, &[(12, 10, 3), (6, 6, 2), (5, 5, 6)]) as u64
    }
}

fn compressed_access(c: u16, regs: &[u64; 32]) -> Option<Access> {
    let c = c as u32;
    let funct3 = bits(c, 15, 13);
    let rs1_short = 8 + bits(c, 9, 7);
    let sp = reg(regs, 2);
    let (addr, len, store) = match (bits(c, 1, 0), funct3) {
        // c.fld, c.lw, c.ld.
        (0b00, 0b001) | (0b00, 0b011) => (
            reg(regs, rs1_short).wrapping_add(cl_offset(c, true)),
            8,
            false,
        ),
        (0b00, 0b010) => (
            reg(regs, rs1_short).wrapping_add(cl_offset(c, false)),
            4,
            false,
        ),
        // c.fsd, c.sw, c.sd.
        (0b00, 0b101) | (0b00, 0b111) => (
            reg(regs, rs1_short).wrapping_add(cl_offset(c, true)),
            8,
            true,
        ),
        (0b00, 0b110) => (
            reg(regs, rs1_short).wrapping_add(cl_offset(c, false)),
            4,
            true,
        ),
        // c.lwsp: uimm[5] = c[12], uimm[4:2] = c[6:4], uimm[7:6] = c[3:2].
        (0b10, 0b010) if bits(c, 11, 7) != 0 => {
            let off = gather(c, &[(12, 12, 5), (6, 4, 2), (3, 2, 6)]);
            (sp.wrapping_add(off as u64), 4, false)
        }
        // c.fldsp, c.ldsp: uimm[5] = c[12], uimm[4:3] = c[6:5], uimm[8:6] = c[4:2].
        (0b10, 0b001) | (0b10, 0b011) => {
            let off = gather(c, &[(12, 12, 5), (6, 5, 3), (4, 2, 6)]);
            (sp.wrapping_add(off as u64), 8, false)
        }
        // c.swsp: uimm[5:2] = c[12:9], uimm[7:6] = c[8:7].
        (0b10, 0b110) => {
            let off = gather(c, &[(12, 9, 2), (8, 7, 6)]);
            (sp.wrapping_add(off as u64), 4, true)
        }
        // c.fsdsp, c.sdsp: uimm[5:3] = c[12:10], uimm[8:6] = c[9:7].
        (0b10, 0b101) | (0b10, 0b111) => {
            let off = gather(c, &[(12, 10, 3), (9, 7, 6)]);
            (sp.wrapping_add(off as u64), 8, true)
        }
        _ => return None,
    };
    Some(Access {
        addr,
        len,
        load: !store,
        store,
    })
}

/// The address of the instruction that runs after `insn` at `pc`, with the
/// integer registers `regs`: the target of a taken branch or jump, else
/// `pc` plus the instruction's length. `None` where it is not known from
/// the instruction and registers alone: `mret`, `sret`, `ebreak` and
/// `c.ebreak` (a step over them cannot be set up with an execute trigger).
/// `ecall` answers the instruction after it, where execution resumes when
/// the call returns.
///
/// # Examples
///
/// ```
/// use hwbreak_riscv::insn::next_pc;
/// let mut regs = [0u64; 32];
/// regs[10] = 5;
/// regs[11] = 5;
/// // beq a0, a1, +16: imm[4:1] = 0b1000 in bits 11:8, funct3 0, opcode 0x63.
/// let beq = (11 << 20) | (10 << 15) | (0b1000 << 8) | 0x63;
/// assert_eq!(next_pc(beq, 0x1000, &regs), Some(0x1010));
/// regs[11] = 6;
/// assert_eq!(next_pc(beq, 0x1000, &regs), Some(0x1004));
/// // c.jr ra (ra = x1): funct4 0b1000, rs1 = 1, rs2 = 0, quadrant 2.
/// regs[1] = 0x2002;
/// assert_eq!(next_pc(0x8082, 0x1000, &regs), Some(0x2002));
/// assert_eq!(next_pc(0x1020_0073, 0x1000, &regs), None); // sret
/// ```
pub fn next_pc(insn: u32, pc: u64, regs: &[u64; 32]) -> Option<u64> {
    if insn & 0b11 != 0b11 {
        return compressed_next_pc(insn as u16, pc, regs);
    }
    let fallthrough = pc.wrapping_add(4);
    let rs1 = reg(regs, bits(insn, 19, 15));
    let rs2 = reg(regs, bits(insn, 24, 20));
    match bits(insn, 6, 0) {
        // JAL: imm[20|10:1|11|19:12] = insn[31|30:21|20|19:12].
        0x6f => {
            let imm = gather(
                insn,
                &[(31, 31, 20), (30, 21, 1), (20, 20, 11), (19, 12, 12)],
            );
            Some(pc.wrapping_add(sext(imm, 21) as u64))
        }
        // JALR.
        0x67 if bits(insn, 14, 12) == 0 => {
            Some(rs1.wrapping_add(sext(bits(insn, 31, 20), 12) as u64) & !1)
        }
        // BRANCH: imm[12|10:5] = insn[31|30:25], imm[4:1|11] = insn[11:8|7].
        0x63 => {
            let imm = gather(insn, &[(31, 31, 12), (30, 25, 5), (11, 8, 1), (7, 7, 11)]);
            let taken = match bits(insn, 14, 12) {
                0 => rs1 == rs2,
                1 => rs1 != rs2,
                4 => (rs1 as i64) < (rs2 as i64),
                5 => (rs1 as i64) >= (rs2 as i64),
                6 => rs1 < rs2,
                7 => rs1 >= rs2,
                _ => return None,
            };
            Some(if taken {
                pc.wrapping_add(sext(imm, 13) as u64)
            } else {
                fallthrough
            })
        }
        // SYSTEM with funct3 0: ecall, ebreak, sret, mret, wfi, ...
        0x73 if bits(insn, 14, 12) == 0 => match insn {
            0x0000_0073 | 0x1050_0073 => Some(fallthrough), // ecall, wfi
            _ => None,                                      // ebreak, sret, mret, ...
        },
        _ => Some(fallthrough),
    }
}

fn compressed_next_pc(c: u16, pc: u64, regs: &[u64; 32]) -> Option<u64> {
    let c = c as u32;
    let fallthrough = pc.wrapping_add(2);
    match (bits(c, 1, 0), bits(c, 15, 13)) {
        // c.j: imm[11|4|9:8|10|6|7|3:1|5] = c[12|11|10:9|8|7|6|5:3|2].
        (0b01, 0b101) => {
            let imm = gather(
                c,
                &[
                    (12, 12, 11),
                    (11, 11, 4),
                    (10, 9, 8),
                    (8, 8, 10),
                    (7, 7, 6),
                    (6, 6, 7),
                    (5, 3, 1),
                    (2, 2, 5),
                ],
            );
            Some(pc.wrapping_add(sext(imm, 12) as u64))
        }
        // c.beqz, c.bnez: imm[8|4:3] = c[12|11:10], imm[7:6|2:1|5] = c[6:5|4:3|2].
        (0b01, f @ (0b110 | 0b111)) => {
            let imm = gather(
                c,
                &[(12, 12, 8), (11, 10, 3), (6, 5, 6), (4, 3, 1), (2, 2, 5)],
            );
            let zero = reg(regs, 8 + bits(c, 9, 7)) == 0;
            let taken = if f == 0b110 { zero } else { !zero };
            Some(if taken {
                pc.wrapping_add(sext(imm, 9) as u64)
            } else {
                fallthrough
            })
        }
        // c.jr, c.jalr, c.ebreak (funct4 100x with rs2 = 0).
        (0b10, 0b100) if bits(c, 6, 2) == 0 => {
            let rs1 = bits(c, 11, 7);
            if rs1 == 0 {
                // c.ebreak (bit 12 set); bit 12 clear with rs1 = 0 is reserved.
                None
            } else {
                Some(reg(regs, rs1) & !1)
            }
        }
        _ => Some(fallthrough),
    }
}
