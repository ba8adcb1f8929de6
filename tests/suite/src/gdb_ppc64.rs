//! GDB's view of a 64-bit PowerPC kernel thread, for gdbstub: the
//! architecture ([`PowerPc64`]) and its register file ([`PowerPc64Regs`]).
//!
//! gdbstub_arch has 32-bit PowerPC only. This is the 64-bit core register
//! set of GDB's `org.gnu.gdb.power.core` feature (r0-r31, pc, msr, cr,
//! lr, ctr, xer), big-endian on the wire, described to GDB by a target
//! description ([`TARGET_XML`]) so the `g` packet carries exactly these
//! registers. No FPU feature: the kernels are built without vector
//! registers and their exception entry saves no floating-point state, so
//! there is nothing true to show for f0-f31 or FPSCR (GDB then treats the
//! target as soft-float, which is what the kernel's own code is to it).
//!
//! Pure data: it builds on every target and is tested on the host.

use gdbstub::arch::{Arch, Registers};

/// GDB's `g` packet for [`PowerPc64Regs`], in bytes: 32 GPRs, pc, msr, lr
/// and ctr of 8 bytes, cr and xer of 4.
pub const G_PACKET_BYTES: usize = 32 * 8 + 4 * 8 + 2 * 4;

/// The target description gdbstub sends GDB (`qXfer:features:read`): GDB's
/// 64-bit PowerPC core registers, numbered as GDB numbers them (pc is 64:
/// 32-63 would be the FPRs, which this target does not have).
pub const TARGET_XML: &str = concat!(
    r#"<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd">"#,
    r#"<target version="1.0"><architecture>powerpc:common64</architecture>"#,
    r#"<feature name="org.gnu.gdb.power.core">"#,
    r#"<reg name="r0" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r1" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r2" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r3" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r4" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r5" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r6" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r7" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r8" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r9" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r10" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r11" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r12" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r13" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r14" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r15" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r16" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r17" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r18" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r19" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r20" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r21" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r22" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r23" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r24" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r25" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r26" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r27" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r28" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r29" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r30" bitsize="64" type="uint64"/>"#,
    r#"<reg name="r31" bitsize="64" type="uint64"/>"#,
    r#"<reg name="pc" bitsize="64" type="code_ptr" regnum="64"/>"#,
    r#"<reg name="msr" bitsize="64" type="uint64"/>"#,
    r#"<reg name="cr" bitsize="32" type="uint32"/>"#,
    r#"<reg name="lr" bitsize="64" type="code_ptr"/>"#,
    r#"<reg name="ctr" bitsize="64" type="uint64"/>"#,
    r#"<reg name="xer" bitsize="32" type="uint32"/>"#,
    r#"</feature></target>"#,
);

/// 64-bit PowerPC (big-endian, core registers only) for gdbstub.
pub enum PowerPc64 {}

impl Arch for PowerPc64 {
    type Usize = u64;
    type Registers = PowerPc64Regs;
    /// The `Z`/`z` kind: 4, the instruction length, for every breakpoint.
    type BreakpointKind = usize;
    /// No single-register access (`p`/`P`): GDB reads and writes them all.
    type RegId = ();

    fn target_description_xml() -> Option<&'static str> {
        Some(TARGET_XML)
    }
}

/// The registers of one thread, as GDB's `g` and `G` packets carry them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PowerPc64Regs {
    /// r0-r31.
    pub r: [u64; 32],
    /// Where the thread resumes (SRR0 of the interrupt that stopped it).
    pub pc: u64,
    /// Its MSR (SRR1 of that interrupt).
    pub msr: u64,
    /// CR (32 bits).
    pub cr: u32,
    /// LR.
    pub lr: u64,
    /// CTR.
    pub ctr: u64,
    /// XER (GDB shows the low 32 bits, where SO, OV, CA and the count are).
    pub xer: u32,
}

impl Registers for PowerPc64Regs {
    type ProgramCounter = u64;

    fn pc(&self) -> u64 {
        self.pc
    }

    fn gdb_serialize(&self, mut write_byte: impl FnMut(Option<u8>)) {
        let mut put = |bytes: &[u8]| bytes.iter().for_each(|&b| write_byte(Some(b)));
        for r in &self.r {
            put(&r.to_be_bytes());
        }
        put(&self.pc.to_be_bytes());
        put(&self.msr.to_be_bytes());
        put(&self.cr.to_be_bytes());
        put(&self.lr.to_be_bytes());
        put(&self.ctr.to_be_bytes());
        put(&self.xer.to_be_bytes());
    }

    /// Exactly [`G_PACKET_BYTES`] bytes, else refused (`Err`, `self`
    /// unchanged): a `G` packet for another register layout must not be
    /// read as this one.
    fn gdb_deserialize(&mut self, bytes: &[u8]) -> Result<(), ()> {
        if bytes.len() != G_PACKET_BYTES {
            return Err(());
        }
        let mut at = 0;
        let mut next = |n: usize| {
            let mut v = 0u64;
            for &b in &bytes[at..at + n] {
                v = (v << 8) | u64::from(b);
            }
            at += n;
            v
        };
        let mut r = [0u64; 32];
        for g in r.iter_mut() {
            *g = next(8);
        }
        let pc = next(8);
        let msr = next(8);
        let cr = next(4) as u32;
        let lr = next(8);
        let ctr = next(8);
        let xer = next(4) as u32;
        *self = Self {
            r,
            pc,
            msr,
            cr,
            lr,
            ctr,
            xer,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    fn sample() -> PowerPc64Regs {
        let mut r = [0u64; 32];
        for (i, g) in r.iter_mut().enumerate() {
            *g = 0x0101_0101_0101_0101 * i as u64;
        }
        PowerPc64Regs {
            r,
            pc: 0x0000_0000_0040_1234,
            msr: 0x8000_0000_0000_1032,
            cr: 0x2400_0481,
            lr: 0x0000_0000_0040_5678,
            ctr: 0xdead_beef_0000_0001,
            xer: 0x2000_0000,
        }
    }

    fn wire(regs: &PowerPc64Regs) -> Vec<u8> {
        let mut out = Vec::new();
        regs.gdb_serialize(|b| out.push(b.expect("every register is available")));
        out
    }

    #[test]
    fn the_g_packet_is_big_endian_in_gdb_order() {
        let out = wire(&sample());
        assert_eq!(out.len(), G_PACKET_BYTES);
        assert_eq!(G_PACKET_BYTES, 296);
        // r1 at byte 8, most significant byte first.
        assert_eq!(&out[8..16], &[1, 1, 1, 1, 1, 1, 1, 1]);
        // r31 ends at 256; pc follows.
        assert_eq!(&out[248..256], &[31; 8]);
        assert_eq!(&out[256..264], &[0, 0, 0, 0, 0, 0x40, 0x12, 0x34]);
        // msr, then the 4-byte cr, then lr: the two widths interleave.
        assert_eq!(out[264], 0x80);
        assert_eq!(&out[272..276], &[0x24, 0x00, 0x04, 0x81]);
        assert_eq!(&out[276..284], &[0, 0, 0, 0, 0, 0x40, 0x56, 0x78]);
        assert_eq!(&out[284..292], &[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1]);
        assert_eq!(&out[292..296], &[0x20, 0, 0, 0]);
    }

    #[test]
    fn a_g_packet_reads_back_into_the_same_registers() {
        let mut back = PowerPc64Regs::default();
        assert_eq!(back.gdb_deserialize(&wire(&sample())), Ok(()));
        assert_eq!(back, sample());
    }

    #[test]
    fn a_g_packet_of_another_length_is_refused_and_changes_nothing() {
        let bytes = wire(&sample());
        for len in [
            0,
            G_PACKET_BYTES - 4,
            G_PACKET_BYTES + 4,
            G_PACKET_BYTES + 8 * 33,
        ] {
            let mut padded = bytes.clone();
            padded.resize(len, 0xff);
            let mut regs = sample();
            assert_eq!(regs.gdb_deserialize(&padded), Err(()), "{len}");
            assert_eq!(regs, sample());
        }
    }

    #[test]
    fn the_description_numbers_the_registers_as_the_packet_orders_them() {
        // Each register once, in packet order, pc numbered 64.
        let names: Vec<&str> = TARGET_XML
            .split("<reg name=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap())
            .collect();
        let mut want: Vec<std::string::String> = (0..32).map(|i| std::format!("r{i}")).collect();
        want.extend(["pc", "msr", "cr", "lr", "ctr", "xer"].map(std::string::String::from));
        assert_eq!(names, want);
        assert!(TARGET_XML.contains(r#"<reg name="pc" bitsize="64" type="code_ptr" regnum="64"/>"#));
        let bits: u32 = TARGET_XML
            .split("bitsize=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap().parse::<u32>().unwrap())
            .sum();
        assert_eq!(bits as usize, G_PACKET_BYTES * 8);
        assert!(TARGET_XML.contains("<architecture>powerpc:common64</architecture>"));
    }
}
