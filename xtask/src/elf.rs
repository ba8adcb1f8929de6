//! Just enough of 64-bit ELF for the size benchmark: section sizes and the
//! sizes of function symbols, from files of either byte order (x86_64 and
//! AArch64 are little-endian, the ppc64 kernels big-endian). No tool is
//! needed beyond the file itself: binutils' `nm` reads only some foreign
//! architectures.

/// A 64-bit ELF file held in memory.
pub struct Elf<'a> {
    bytes: &'a [u8],
    big: bool,
}

/// One section header's fields that are used here.
struct Section {
    name: u32,
    kind: u32,
    offset: usize,
    size: u64,
    link: usize,
    entsize: usize,
}

/// `sh_type` of the symbol table.
const SHT_SYMTAB: u32 = 2;
/// `STT_FUNC`, in the low nibble of `st_info`.
const STT_FUNC: u8 = 2;

impl<'a> Elf<'a> {
    /// `bytes` if they start as a 64-bit ELF file.
    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
        if bytes.get(..4)? != b"\x7fELF" || *bytes.get(4)? != 2 {
            return None;
        }
        Some(Self {
            bytes,
            big: *bytes.get(5)? == 2,
        })
    }

    fn uint<const N: usize>(&self, at: usize) -> Option<u64> {
        let s: [u8; N] = self.bytes.get(at..at.checked_add(N)?)?.try_into().ok()?;
        let mut v = 0u64;
        for i in 0..N {
            let byte = if self.big { s[i] } else { s[N - 1 - i] };
            v = v << 8 | u64::from(byte);
        }
        Some(v)
    }

    /// NUL-terminated string at `at`.
    fn string(&self, at: usize) -> Option<String> {
        let rest = self.bytes.get(at..)?;
        let end = rest.iter().position(|&c| c == 0)?;
        Some(String::from_utf8_lossy(&rest[..end]).into_owned())
    }

    fn sections(&self) -> Option<Vec<Section>> {
        // ELF64 header: e_shoff at 0x28, e_shentsize 0x3a, e_shnum 0x3c.
        // Section header: sh_name 0, sh_type 4, sh_offset 0x18, sh_size
        // 0x20, sh_link 0x28, sh_entsize 0x38.
        let shoff = self.uint::<8>(0x28)? as usize;
        let shentsize = self.uint::<2>(0x3a)? as usize;
        let shnum = self.uint::<2>(0x3c)? as usize;
        (0..shnum)
            .map(|i| {
                let h = shoff.checked_add(i.checked_mul(shentsize)?)?;
                Some(Section {
                    name: self.uint::<4>(h)? as u32,
                    kind: self.uint::<4>(h + 4)? as u32,
                    offset: self.uint::<8>(h + 0x18)? as usize,
                    size: self.uint::<8>(h + 0x20)?,
                    link: self.uint::<4>(h + 0x28)? as usize,
                    entsize: self.uint::<8>(h + 0x38)? as usize,
                })
            })
            .collect()
    }

    /// Section names and sizes.
    pub fn section_sizes(&self) -> Option<Vec<(String, u64)>> {
        let sections = self.sections()?;
        // e_shstrndx at 0x3e: the section holding section names.
        let names = sections.get(self.uint::<2>(0x3e)? as usize)?.offset;
        sections
            .iter()
            .map(|s| Some((self.string(names + s.name as usize)?, s.size)))
            .collect()
    }

    /// Function symbols with a size, as (demangled name, bytes), largest
    /// first. Empty when the file has no symbol table (stripped).
    pub fn functions(&self) -> Option<Vec<(String, u64)>> {
        let sections = self.sections()?;
        let mut out = Vec::new();
        for symtab in sections.iter().filter(|s| s.kind == SHT_SYMTAB) {
            let strings = sections.get(symtab.link)?.offset;
            // Elf64_Sym: st_name 0 (4), st_info 4 (1), st_size 0x10 (8).
            let entsize = if symtab.entsize == 0 {
                24
            } else {
                symtab.entsize
            };
            for i in 0..symtab.size as usize / entsize {
                let sym = symtab.offset + i * entsize;
                let info = *self.bytes.get(sym + 4)?;
                let size = self.uint::<8>(sym + 0x10)?;
                if info & 0xf == STT_FUNC && size > 0 {
                    let name = self.string(strings + self.uint::<4>(sym)? as usize)?;
                    out.push((demangle(&name), size));
                }
            }
        }
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Some(out)
    }
}

/// A Rust legacy-mangled name (`_ZN` length-prefixed parts `E`) as a path,
/// without the trailing hash part and with the `$..$` escapes resolved;
/// any other name as it is.
pub fn demangle(name: &str) -> String {
    let Some(mut rest) = name.strip_prefix("_ZN") else {
        return name.to_string();
    };
    let mut parts = Vec::new();
    while !rest.starts_with('E') {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let Ok(len) = rest[..digits].parse::<usize>() else {
            return name.to_string();
        };
        let Some(part) = rest.get(digits..digits + len) else {
            return name.to_string();
        };
        parts.push(part);
        rest = &rest[digits + len..];
    }
    if parts
        .last()
        .is_some_and(|p| p.len() == 17 && p.starts_with('h'))
    {
        parts.pop();
    }
    parts
        .iter()
        .map(|p| {
            unescape(
                p.strip_prefix('_')
                    .filter(|q| q.starts_with('$'))
                    .unwrap_or(p),
            )
        })
        .collect::<Vec<_>>()
        .join("::")
}

/// Resolves the escapes of one legacy-mangled part.
fn unescape(part: &str) -> String {
    const ESCAPES: [(&str, &str); 10] = [
        ("$LT$", "<"),
        ("$GT$", ">"),
        ("$RF$", "&"),
        ("$BP$", "*"),
        ("$C$", ","),
        ("$SP$", "@"),
        ("$u20$", " "),
        ("$u7b$", "{"),
        ("$u7d$", "}"),
        ("$u27$", "'"),
    ];
    let mut s = part.replace("..", "::");
    for (from, to) in ESCAPES {
        s = s.replace(from, to);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demangles_legacy_rust_names() {
        assert_eq!(
            demangle("_ZN12hwbreak_core8registry5admit17h0123456789abcdefE"),
            "hwbreak_core::registry::admit"
        );
        assert_eq!(
            demangle(
                "_ZN12hwbreak_core8registry9admission63_$LT$impl$u20$hwbreak_core..registry..Registry$LT$A$C$P$GT$$GT$5admit17h0123456789abcdefE"
            ),
            "hwbreak_core::registry::admission::<impl hwbreak_core::registry::Registry<A,P>>::admit"
        );
        // Not legacy-mangled, or malformed: left as it is.
        assert_eq!(demangle("_start"), "_start");
        assert_eq!(demangle("_ZN99tooshortE"), "_ZN99tooshortE");
    }

    /// A little-endian ELF64 file with a section name table, a string
    /// table and a symbol table of one function, one object and one
    /// zero-sized function.
    fn tiny_elf(big: bool) -> Vec<u8> {
        let put = |v: &mut Vec<u8>, at: usize, x: u64, n: usize| {
            for i in 0..n {
                let shift = if big { 8 * (n - 1 - i) } else { 8 * i };
                v[at + i] = (x >> shift) as u8;
            }
        };
        let shstr = b"\0.shstrtab\0.strtab\0.symtab\0.text\0";
        let strs = b"\0_ZN1a4main17h0000000000000000E\0DATA\0empty\0";
        let mut f = vec![0u8; 0x40];
        f[..6].copy_from_slice(&[0x7f, b'E', b'L', b'F', 2, if big { 2 } else { 1 }]);
        let shstr_at = f.len();
        f.extend_from_slice(shstr);
        let str_at = f.len();
        f.extend_from_slice(strs);
        let sym_at = f.len();
        f.extend(vec![0u8; 4 * 24]);
        // Symbols 1-3 (0 is the null symbol).
        for (i, (name, info, size)) in [(1u64, 2u64, 300u64), (32, 1, 64), (37, 2, 0)]
            .into_iter()
            .enumerate()
        {
            let s = sym_at + (i + 1) * 24;
            put(&mut f, s, name, 4);
            put(&mut f, s + 4, info, 1);
            put(&mut f, s + 0x10, size, 8);
        }
        let sh_at = f.len();
        f.extend(vec![0u8; 5 * 64]);
        // (name, type, offset, size, link, entsize)
        let headers = [
            (0, 0, 0, 0, 0, 0),
            (1, 3, shstr_at, shstr.len(), 0, 0),
            (11, 3, str_at, strs.len(), 0, 0),
            (19, SHT_SYMTAB as usize, sym_at, 4 * 24, 2, 24),
            (27, 1, 0, 4096, 0, 0),
        ];
        for (i, (name, kind, offset, size, link, entsize)) in headers.into_iter().enumerate() {
            let h = sh_at + i * 64;
            put(&mut f, h, name as u64, 4);
            put(&mut f, h + 4, kind as u64, 4);
            put(&mut f, h + 0x18, offset as u64, 8);
            put(&mut f, h + 0x20, size as u64, 8);
            put(&mut f, h + 0x28, link as u64, 4);
            put(&mut f, h + 0x38, entsize as u64, 8);
        }
        put(&mut f, 0x28, sh_at as u64, 8);
        put(&mut f, 0x3a, 64, 2);
        put(&mut f, 0x3c, 5, 2);
        put(&mut f, 0x3e, 1, 2);
        f
    }

    #[test]
    fn reads_sections_and_sized_functions_in_either_byte_order() {
        for big in [false, true] {
            let f = tiny_elf(big);
            let elf = Elf::parse(&f).unwrap();
            let sections = elf.section_sizes().unwrap();
            assert_eq!(sections[4], (".text".to_string(), 4096), "big {big}");
            assert_eq!(sections[3].0, ".symtab");
            assert_eq!(
                elf.functions().unwrap(),
                [("a::main".to_string(), 300)],
                "big {big}"
            );
        }
        assert!(Elf::parse(b"\x7fELF\x01").is_none());
        assert!(Elf::parse(b"MZ").is_none());
        // Cut short: no panic, no answer.
        let f = tiny_elf(false);
        assert!(Elf::parse(&f[..0x50]).unwrap().section_sizes().is_none());
    }
}
