//! The host side of a kernel console made of defmt frames (a variant with
//! `console = "defmt"` in its `board.toml`).
//!
//! The kernel writes defmt frames, rzcobs-encoded (defmt's default), each
//! ended by a zero byte; defmt also writes one zero byte before its first
//! frame. [`Console`] turns QEMU's serial bytes back into the lines the text
//! console would have printed, so the usual pass/fail parsing applies:
//!
//! - bytes before the first zero byte come from the firmware (SeaBIOS
//!   prints its banner on the same UART before the kernel starts) and are
//!   shown as text lines, as a text console shows them;
//! - a frame whose format is exactly `{=str}` with no level is a fragment
//!   of console text (the board's `core::fmt::Write` sink writes one per
//!   `write_str`): fragments are joined and split into lines at `\n`;
//! - any other frame (`info!`, `println!("x = {}", x)`, ...) is one line,
//!   rendered as defmt-print does without colours (`INFO message`);
//! - a frame that fails to decode is never dropped: it gives a line saying
//!   so, and [`Console::result`] is an error, as it is for an output that
//!   ends inside a frame.

use defmt_decoder::{DecodeError, Encoding, Table};
use defmt_parser::{Fragment, Type};
use std::path::Path;

/// Decoding state of one run.
pub struct Console {
    table: Table,
    /// No zero byte seen yet: the bytes are firmware text.
    before_first_frame: bool,
    /// Firmware text not yet ended by a newline.
    firmware: Vec<u8>,
    /// Bytes of the frame being received.
    frame: Vec<u8>,
    /// Console text not yet ended by a newline.
    text: String,
    /// Frames decoded.
    frames: usize,
    /// Why each failing frame failed.
    errors: Vec<String>,
}

impl Console {
    /// Reads the defmt table of the kernel ELF at `elf`.
    pub fn from_elf(elf: &Path) -> Result<Self, String> {
        let bytes =
            std::fs::read(elf).map_err(|e| format!("cannot read {}: {e}", elf.display()))?;
        Self::from_elf_bytes(&bytes).map_err(|e| format!("{}: {e}", elf.display()))
    }

    /// Reads the defmt table of a kernel ELF image.
    pub fn from_elf_bytes(elf: &[u8]) -> Result<Self, String> {
        let table = Table::parse(elf)
            .map_err(|e| format!("cannot read its defmt table: {e}"))?
            .ok_or(
                "it has no `.defmt` section (built without the board's defmt \
                 feature, or linked without defmt.x?)",
            )?;
        if table.encoding() != Encoding::Rzcobs {
            return Err(format!(
                "its defmt frames are {:?}-encoded; this console reads rzcobs, \
                 defmt's default (is DEFMT_ENCODING set?)",
                table.encoding()
            ));
        }
        Ok(Self {
            table,
            before_first_frame: true,
            firmware: Vec::new(),
            frame: Vec::new(),
            text: String::new(),
            frames: 0,
            errors: Vec::new(),
        })
    }

    /// Takes serial bytes; returns the lines they completed.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        for &b in bytes {
            if self.before_first_frame {
                if b == 0 {
                    self.before_first_frame = false;
                    flush_firmware(&mut self.firmware, &mut lines);
                } else {
                    self.firmware.push(b);
                    if b == b'\n' {
                        flush_firmware(&mut self.firmware, &mut lines);
                    }
                }
            } else if b != 0 {
                self.frame.push(b);
            } else if !self.frame.is_empty() {
                // Consecutive zero bytes end no frame: nothing to decode.
                let frame = std::mem::take(&mut self.frame);
                self.decode(&frame, &mut lines);
            }
        }
        lines
    }

    /// The output has ended: returns the last lines (text not ended by a
    /// newline); an unfinished frame is an error of [`Console::result`].
    pub fn finish(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        flush_firmware(&mut self.firmware, &mut lines);
        if !self.text.is_empty() {
            lines.push(std::mem::take(&mut self.text));
        }
        if !self.frame.is_empty() {
            let n = self.frame.len();
            self.frame.clear();
            self.errors
                .push(format!("the output ended inside a frame ({n} bytes)"));
        }
        lines
    }

    /// Frames decoded, or why some failed.
    pub fn result(&self) -> Result<usize, String> {
        if self.errors.is_empty() {
            Ok(self.frames)
        } else {
            Err(format!(
                "{} defmt frame(s) failed to decode (first: {})",
                self.errors.len(),
                self.errors[0]
            ))
        }
    }

    /// Decodes one frame (without its zero byte) into `lines`.
    fn decode(&mut self, frame: &[u8], lines: &mut Vec<String>) {
        let mut stream = self.table.new_stream_decoder();
        stream.received(frame);
        stream.received(&[0]);
        let decoded = match stream.decode() {
            Ok(f) => {
                let fragment = f.level().is_none()
                    && matches!(
                        f.fragments().as_slice(),
                        [Fragment::Parameter(p)] if p.ty == Type::Str
                    );
                Ok(if fragment {
                    Piece::Text(f.display_message().to_string())
                } else {
                    Piece::Line(f.display(false).to_string())
                })
            }
            Err(e) => Err(e),
        };
        match decoded {
            Ok(Piece::Text(t)) => {
                self.frames += 1;
                self.text.push_str(&t);
                while let Some(i) = self.text.find('\n') {
                    let rest = self.text.split_off(i + 1);
                    let line = std::mem::replace(&mut self.text, rest);
                    lines.push(line.trim_end_matches(['\n', '\r']).to_string());
                }
            }
            Ok(Piece::Line(l)) => {
                self.frames += 1;
                lines.extend(l.lines().map(String::from));
            }
            Err(e) => {
                let why = match e {
                    DecodeError::Malformed => "malformed",
                    DecodeError::UnexpectedEof => "too short",
                };
                let shown: Vec<String> =
                    frame.iter().take(16).map(|b| format!("{b:02x}")).collect();
                let msg = format!(
                    "frame {} {why}: {} bytes [{}{}]",
                    self.frames + self.errors.len() + 1,
                    frame.len(),
                    shown.join(" "),
                    if frame.len() > 16 { " ..." } else { "" }
                );
                lines.push(format!("xtask: defmt: {msg}"));
                self.errors.push(msg);
            }
        }
    }
}

/// What one decoded frame adds.
enum Piece {
    /// Console text, to be joined.
    Text(String),
    /// A line of its own.
    Line(String),
}

/// Firmware text as lines, as the text console shows it.
fn flush_firmware(buf: &mut Vec<u8>, lines: &mut Vec<String>) {
    if buf.is_empty() {
        return;
    }
    let s = String::from_utf8_lossy(buf);
    lines.push(s.trim_end_matches(['\n', '\r']).to_string());
    buf.clear();
}

#[cfg(test)]
mod tests {
    //! `testdata/x86_64-defmt.serial` is what QEMU printed for one run of
    //! `cargo xtask qemu x86_64-defmt`; `testdata/x86_64-defmt.elf` is that
    //! kernel ELF cut down to its defmt table and symbols
    //! (`objcopy -j .defmt <kernel> x86_64-defmt.elf`). To refresh them,
    //! build the variant, run its QEMU command with stdout to the `.serial`
    //! file, and cut the same ELF again.

    use super::*;

    /// Read, not `include_bytes!`: the ELF reader wants its header aligned.
    fn elf() -> Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/x86_64-defmt.elf"
        ))
        .expect("fixture")
    }

    const SERIAL: &[u8] = include_bytes!("../testdata/x86_64-defmt.serial");

    /// Printed by the board through the derived `defmt::Format` impls of
    /// `hwbreak::Request` (and the types in it) and `hwbreak::Error`.
    const REQUEST: &str = "INFO defmt: request Request { addr: ";
    const REFUSED: &str = "INFO defmt: refused Read: Error { kind: UnsupportedKind }";

    fn decode_in_chunks(serial: &[u8], chunk: usize) -> (Vec<String>, Result<usize, String>) {
        let mut c = Console::from_elf_bytes(&elf()).expect("the fixture has a defmt table");
        let mut lines = Vec::new();
        for part in serial.chunks(chunk) {
            lines.extend(c.feed(part));
        }
        lines.extend(c.finish());
        (lines, c.result())
    }

    fn contains(hay: &[u8], needle: &str) -> bool {
        hay.windows(needle.len()).any(|w| w == needle.as_bytes())
    }

    #[test]
    fn decodes_a_real_run() {
        let (lines, result) = decode_in_chunks(SERIAL, 4096);
        let frames = result.expect("every frame decodes");
        assert!(frames > 100, "{frames} frames");
        // SeaBIOS's banner, before the first frame, stays text.
        assert!(lines[0].contains("SeaBIOS"), "{:?}", &lines[..3]);
        assert_eq!(lines[1], "Booting from ROM..");
        // Console text joined from `{=str}` fragments into whole lines.
        assert_eq!(lines[2], "hwbreak qemu-x86_64 board: microvm, PVH boot");
        assert!(lines.contains(&"test x86_smoke_write_each_slot ... ok".to_string()));
        assert!(lines.contains(&"test x86_io_breakpoint ... ok".to_string()));
        assert_eq!(
            lines.last().map(String::as_str),
            Some("53 passed, 0 failed, 0 skipped")
        );
        // Lines rendered from the library's Format impls: their text is
        // interned in the ELF, never sent, so only decoding produces it.
        assert!(lines.iter().any(|l| l.starts_with(REQUEST)), "{lines:?}");
        assert!(lines.iter().any(|l| l == REFUSED), "{lines:?}");
        assert!(!contains(SERIAL, "UnsupportedKind"));
        assert!(!contains(SERIAL, "Request {"));
    }

    #[test]
    fn chunking_does_not_matter() {
        let whole = decode_in_chunks(SERIAL, SERIAL.len());
        assert_eq!(decode_in_chunks(SERIAL, 1), whole);
        assert_eq!(decode_in_chunks(SERIAL, 7), whole);
    }

    #[test]
    fn a_frame_that_does_not_decode_fails_the_run() {
        let (good, _) = decode_in_chunks(SERIAL, 4096);
        // Cut one byte out of the middle of the output: one frame breaks,
        // rzcobs resynchronises at the next zero byte.
        let mut bad = SERIAL.to_vec();
        let at = (SERIAL.len() / 2..)
            .find(|&i| SERIAL[i] != 0 && SERIAL[i + 1] != 0)
            .unwrap();
        bad.remove(at);
        let (lines, result) = decode_in_chunks(&bad, 4096);
        let err = result.expect_err("a broken frame is an error");
        assert!(err.contains("failed to decode"), "{err}");
        assert!(lines.iter().any(|l| l.starts_with("xtask: defmt: frame ")));
        // The frames after it still decode.
        assert_eq!(lines.last(), good.last());
    }

    #[test]
    fn output_ending_inside_a_frame_fails() {
        let cut = &SERIAL[..SERIAL.len() - 3];
        let (_, result) = decode_in_chunks(cut, 4096);
        assert!(result.unwrap_err().contains("ended inside a frame"));
    }

    #[test]
    fn garbage_instead_of_a_frame_fails() {
        // Text written raw after defmt started (e.g. a second writer on the
        // UART) is no frame.
        let mut bad = SERIAL.to_vec();
        bad.extend_from_slice(b"plain text\n\0");
        let (lines, result) = decode_in_chunks(&bad, 4096);
        assert!(result.unwrap_err().contains("1 defmt frame(s) failed"));
        assert!(!lines.iter().any(|l| l.contains("plain text")));
    }

    #[test]
    fn an_elf_without_defmt_is_refused() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let err = Console::from_elf_bytes(&me).err().expect("no table");
        assert!(err.contains("no `.defmt` section"), "{err}");
    }
}
