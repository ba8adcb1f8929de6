//! Decoding the load or store that raised a Data Storage interrupt.
//!
//! The DAR alone does not say how many bytes were accessed, and emulators
//! differ in what they put there when an access straddles the watched range.
//! The faulting instruction (at SRR0, not yet executed) and the saved GPRs
//! say exactly: its effective address and length. Instruction fields use the
//! ISA's numbering of a 32-bit word, bit 0 = most significant:
//!
//! | field | ISA bits | extraction |
//! |---|---|---|
//! | primary opcode | 0:5 | `insn >> 26` |
//! | RT / RS | 6:10 | `(insn >> 21) & 31` |
//! | RA | 11:15 | `(insn >> 16) & 31` |
//! | RB | 16:20 | `(insn >> 11) & 31` |
//! | D (D-form) | 16:31 | `insn & 0xffff`, sign-extended |
//! | DS (DS-form) | 16:29 | `insn & 0xfffc`, sign-extended |
//! | XO (DS-form) | 30:31 | `insn & 3` |
//! | XO (X-form) | 21:30 | `(insn >> 1) & 0x3ff` |

/// One decoded storage access.
///
/// # Examples
///
/// ```
/// use hwbreak_ppc64::Access;
/// let a = Access { ea: 0x2008, len: 4, store: true };
/// // The bytes it touches: [ea, ea + len).
/// assert_eq!(a.ea + u64::from(a.len), 0x200c);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Access {
    /// Effective address of the first byte.
    pub ea: u64,
    /// Bytes accessed.
    pub len: u8,
    /// Whether it is a store.
    pub store: bool,
}

/// (length, store) of the D-form load/store with primary opcode `op`.
const fn d_form(op: u32, rt: u32) -> Option<(u8, bool)> {
    Some(match op {
        32 | 33 => (4, false),                // lwz, lwzu
        34 | 35 => (1, false),                // lbz, lbzu
        36 | 37 => (4, true),                 // stw, stwu
        38 | 39 => (1, true),                 // stb, stbu
        40..=43 => (2, false),                // lhz, lhzu, lha, lhau
        44 | 45 => (2, true),                 // sth, sthu
        46 => (((32 - rt) * 4) as u8, false), // lmw: RT..r31
        47 => (((32 - rt) * 4) as u8, true),  // stmw
        48 | 49 => (4, false),                // lfs, lfsu
        50 | 51 => (8, false),                // lfd, lfdu
        52 | 53 => (4, true),                 // stfs, stfsu
        54 | 55 => (8, true),                 // stfd, stfdu
        _ => return None,
    })
}

/// (length, store) of the X-form (primary opcode 31) access with extended
/// opcode `xo`.
const fn x_form(xo: u32) -> Option<(u8, bool)> {
    Some(match xo {
        87 | 119 | 52 => (1, false),                     // lbzx, lbzux, lbarx
        215 | 247 | 694 => (1, true),                    // stbx, stbux, stbcx.
        279 | 311 | 343 | 375 | 790 | 116 => (2, false), // lhzx, lhzux, lhax, lhaux, lhbrx, lharx
        407 | 439 | 918 | 726 => (2, true),              // sthx, sthux, sthbrx, sthcx.
        23 | 55 | 341 | 373 | 534 | 20 => (4, false),    // lwzx, lwzux, lwax, lwaux, lwbrx, lwarx
        151 | 183 | 662 | 150 => (4, true),              // stwx, stwux, stwbrx, stwcx.
        21 | 53 | 532 | 84 => (8, false),                // ldx, ldux, ldbrx, ldarx
        149 | 181 | 660 | 214 => (8, true),              // stdx, stdux, stdbrx, stdcx.
        535 | 567 => (4, false),                         // lfsx, lfsux
        599 | 631 => (8, false),                         // lfdx, lfdux
        663 | 695 => (4, true),                          // stfsx, stfsux
        727 | 759 => (8, true),                          // stfdx, stfdux
        _ => return None,
    })
}

/// Decodes the access made by `insn` with the general-purpose registers
/// `gpr` as they were before it executed (a Data Storage interrupt is taken
/// before the instruction completes). `None` for instructions this decoder
/// does not know (vector, cache-block and string instructions, prefixed
/// instructions): the caller then falls back to the DAR alone.
///
/// # Examples
///
/// ```
/// use hwbreak_ppc64::access::{decode, Access};
/// let mut gpr = [0u64; 32];
/// gpr[3] = 0x2000;
/// gpr[4] = 0x10;
/// // stw r5, 8(r3): D-form, primary opcode 36.
/// let stw = (36 << 26) | (5 << 21) | (3 << 16) | 8;
/// assert_eq!(decode(stw, &gpr), Some(Access { ea: 0x2008, len: 4, store: true }));
/// // ldx r5, r3, r4: X-form, opcode 31, extended opcode 21.
/// let ldx = (31 << 26) | (5 << 21) | (3 << 16) | (4 << 11) | (21 << 1);
/// assert_eq!(decode(ldx, &gpr), Some(Access { ea: 0x2010, len: 8, store: false }));
/// // addi is not a storage access.
/// assert_eq!(decode(14 << 26, &gpr), None);
/// ```
pub const fn decode(insn: u32, gpr: &[u64; 32]) -> Option<Access> {
    let op = insn >> 26;
    let rt = (insn >> 21) & 31;
    let ra = ((insn >> 16) & 31) as usize;
    let rb = ((insn >> 11) & 31) as usize;
    // (RA|0): register 0 as a base means the value 0.
    let base = if ra == 0 { 0 } else { gpr[ra] };
    let (len, store, ea) = match op {
        31 => match x_form((insn >> 1) & 0x3ff) {
            Some((len, store)) => (len, store, base.wrapping_add(gpr[rb])),
            None => return None,
        },
        58 | 62 => {
            // DS-form: ld, ldu, lwa (58); std, stdu (62).
            let ds = (insn & 0xfffc) as u16 as i16 as i64 as u64;
            let (len, store) = match (op, insn & 3) {
                (58, 0) | (58, 1) => (8, false),
                (58, 2) => (4, false),
                (62, 0) | (62, 1) => (8, true),
                _ => return None,
            };
            (len, store, base.wrapping_add(ds))
        }
        _ => match d_form(op, rt) {
            Some((len, store)) => {
                let d = (insn & 0xffff) as u16 as i16 as i64 as u64;
                (len, store, base.wrapping_add(d))
            }
            None => return None,
        },
    };
    Some(Access { ea, len, store })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Assembles fields by hand: opcode at shift 26, RT 21, RA 16, RB 11.
    const fn form(op: u32, rt: u32, ra: u32, low: u32) -> u32 {
        (op << 26) | (rt << 21) | (ra << 16) | low
    }

    fn regs() -> [u64; 32] {
        let mut g = [0u64; 32];
        g[3] = 0x1000;
        g[4] = 0x20;
        g[9] = 0x4000_0000;
        g
    }

    #[test]
    fn d_form_loads_and_stores() {
        let g = regs();
        // stb r5, 7(r3) = opcode 38; EA = 0x1000 + 7.
        assert_eq!(
            decode(form(38, 5, 3, 7), &g),
            Some(Access {
                ea: 0x1007,
                len: 1,
                store: true
            })
        );
        // lwz r5, -4(r3): D = 0xfffc sign-extends to -4.
        assert_eq!(
            decode(form(32, 5, 3, 0xfffc), &g),
            Some(Access {
                ea: 0x0ffc,
                len: 4,
                store: false
            })
        );
        // lhz r5, 2(0): RA = 0 means base 0, not r0.
        let mut g0 = g;
        g0[0] = 0xdead;
        assert_eq!(
            decode(form(40, 5, 0, 2), &g0),
            Some(Access {
                ea: 2,
                len: 2,
                store: false
            })
        );
        // stmw r30, 0(r3): r30 and r31, 8 bytes.
        assert_eq!(
            decode(form(47, 30, 3, 0), &g),
            Some(Access {
                ea: 0x1000,
                len: 8,
                store: true
            })
        );
    }

    #[test]
    fn ds_form() {
        let g = regs();
        // std r5, 8(r9): opcode 62, DS field 8 (low two bits are XO = 0).
        assert_eq!(
            decode(form(62, 5, 9, 8), &g),
            Some(Access {
                ea: 0x4000_0008,
                len: 8,
                store: true
            })
        );
        // ld r5, -8(r9): 0xfff8, XO 0.
        assert_eq!(
            decode(form(58, 5, 9, 0xfff8), &g),
            Some(Access {
                ea: 0x3fff_fff8,
                len: 8,
                store: false
            })
        );
        // lwa r5, 4(r9): XO = 2.
        assert_eq!(
            decode(form(58, 5, 9, 4 | 2), &g),
            Some(Access {
                ea: 0x4000_0004,
                len: 4,
                store: false
            })
        );
        // opcode 62 XO 2 (stq) is not decoded.
        assert_eq!(decode(form(62, 4, 9, 2), &g), None);
    }

    #[test]
    fn x_form() {
        let g = regs();
        // stwx r5, r3, r4: opcode 31, RB = 4 at shift 11, XO 151 at shift 1.
        let stwx = form(31, 5, 3, (4 << 11) | (151 << 1));
        assert_eq!(
            decode(stwx, &g),
            Some(Access {
                ea: 0x1020,
                len: 4,
                store: true
            })
        );
        // ldx r5, 0, r4: RA = 0, XO 21.
        let ldx = form(31, 5, 0, (4 << 11) | (21 << 1));
        assert_eq!(
            decode(ldx, &g),
            Some(Access {
                ea: 0x20,
                len: 8,
                store: false
            })
        );
        // mfspr (XO 339) is not an access.
        assert_eq!(decode(form(31, 5, 0, 339 << 1), &g), None);
    }

    /// Every D-form load and store of Power ISA v3.0B Book I (3.3.2-3.3.6,
    /// 4.6.2-4.6.3), by primary opcode: bytes accessed and direction.
    #[test]
    fn every_d_form_opcode() {
        let g = regs();
        let table: [(u32, &str, u8, bool); 22] = [
            (32, "lwz", 4, false),
            (33, "lwzu", 4, false),
            (34, "lbz", 1, false),
            (35, "lbzu", 1, false),
            (36, "stw", 4, true),
            (37, "stwu", 4, true),
            (38, "stb", 1, true),
            (39, "stbu", 1, true),
            (40, "lhz", 2, false),
            (41, "lhzu", 2, false),
            (42, "lha", 2, false),
            (43, "lhau", 2, false),
            (44, "sth", 2, true),
            (45, "sthu", 2, true),
            (48, "lfs", 4, false),
            (49, "lfsu", 4, false),
            (50, "lfd", 8, false),
            (51, "lfdu", 8, false),
            (52, "stfs", 4, true),
            (53, "stfsu", 4, true),
            (54, "stfd", 8, true),
            (55, "stfdu", 8, true),
        ];
        for (op, name, len, store) in table {
            // name r5, 0x10(r3): EA = 0x1010.
            assert_eq!(
                decode(form(op, 5, 3, 0x10), &g),
                Some(Access {
                    ea: 0x1010,
                    len,
                    store
                }),
                "{name}"
            );
        }
        // Opcodes around them it does not decode: no storage access (0,
        // addi 14, rotates 30, 59, 63), or quadword, paired and vector forms
        // (lq 56, 57, 60, 61).
        for op in [0, 14, 30, 56, 57, 59, 60, 61, 63] {
            assert_eq!(decode(form(op, 5, 3, 0x10), &g), None, "opcode {op}");
        }
    }

    /// lmw / stmw move the words of RT..r31: 4 * (32 - RT) bytes.
    #[test]
    fn load_and_store_multiple_cover_rt_to_r31() {
        let g = regs();
        for (rt, len) in [(31, 4), (30, 8), (29, 12), (20, 48), (0, 128)] {
            assert_eq!(
                decode(form(46, rt, 3, 0), &g).map(|a| (a.len, a.store)),
                Some((len, false)),
                "lmw r{rt}"
            );
            assert_eq!(
                decode(form(47, rt, 3, 0), &g).map(|a| (a.len, a.store)),
                Some((len, true)),
                "stmw r{rt}"
            );
        }
    }

    /// Every X-form load and store (opcode 31) of Book I 3.3 and 4.6, with
    /// the byte-reversed and reserve/conditional forms (Book II 4.4), by
    /// extended opcode: bytes accessed and direction; EA = (RA|0) + (RB).
    #[test]
    fn every_x_form_extended_opcode() {
        let g = regs();
        let table: [(u32, &str, u8, bool); 42] = [
            (87, "lbzx", 1, false),
            (119, "lbzux", 1, false),
            (52, "lbarx", 1, false),
            (215, "stbx", 1, true),
            (247, "stbux", 1, true),
            (694, "stbcx.", 1, true),
            (279, "lhzx", 2, false),
            (311, "lhzux", 2, false),
            (343, "lhax", 2, false),
            (375, "lhaux", 2, false),
            (790, "lhbrx", 2, false),
            (116, "lharx", 2, false),
            (407, "sthx", 2, true),
            (439, "sthux", 2, true),
            (918, "sthbrx", 2, true),
            (726, "sthcx.", 2, true),
            (23, "lwzx", 4, false),
            (55, "lwzux", 4, false),
            (341, "lwax", 4, false),
            (373, "lwaux", 4, false),
            (534, "lwbrx", 4, false),
            (20, "lwarx", 4, false),
            (151, "stwx", 4, true),
            (183, "stwux", 4, true),
            (662, "stwbrx", 4, true),
            (150, "stwcx.", 4, true),
            (21, "ldx", 8, false),
            (53, "ldux", 8, false),
            (532, "ldbrx", 8, false),
            (84, "ldarx", 8, false),
            (149, "stdx", 8, true),
            (181, "stdux", 8, true),
            (660, "stdbrx", 8, true),
            (214, "stdcx.", 8, true),
            (535, "lfsx", 4, false),
            (567, "lfsux", 4, false),
            (599, "lfdx", 8, false),
            (631, "lfdux", 8, false),
            (663, "stfsx", 4, true),
            (695, "stfsux", 4, true),
            (727, "stfdx", 8, true),
            (759, "stfdux", 8, true),
        ];
        for (xo, name, len, store) in table {
            // name r5, r3, r4: EA = 0x1000 + 0x20.
            let insn = form(31, 5, 3, (4 << 11) | (xo << 1));
            assert_eq!(
                decode(insn, &g),
                Some(Access {
                    ea: 0x1020,
                    len,
                    store
                }),
                "{name}"
            );
        }
        // Opcode 31 instructions that are not storage accesses: add (266),
        // or (444), mfspr (339), mtspr (467), sync (598).
        for xo in [266, 444, 339, 467, 598] {
            let insn = form(31, 5, 3, (4 << 11) | (xo << 1));
            assert_eq!(decode(insn, &g), None, "xo {xo}");
        }
    }

    #[test]
    fn unknown_opcodes() {
        // addi (opcode 14) and a branch (18) are not storage accesses.
        assert_eq!(decode(form(14, 3, 3, 1), &regs()), None);
        assert_eq!(decode(18 << 26, &regs()), None);
    }
}
