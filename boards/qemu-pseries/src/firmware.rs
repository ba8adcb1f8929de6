//! What the platform firmware offers this kernel: the hypervisor console
//! (H_PUT_TERM_CHAR), the Open Firmware client interface (VOF) to find RTAS
//! and its tokens in the device tree, and RTAS to power off.

use core::ffi::CStr;
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// H_PUT_TERM_CHAR: write up to 16 bytes to a virtual terminal.
const H_PUT_TERM_CHAR: u64 = 0x58;
/// H_GET_TERM_CHAR: read up to 16 bytes from a virtual terminal.
#[cfg(feature = "gdb")]
const H_GET_TERM_CHAR: u64 = 0x54;
/// PAPR status: a parameter is invalid (here: more than 16 bytes).
const H_PARAMETER: i64 = -4;

/// A PAPR hypervisor call with up to six arguments; returns r3 (the
/// status).
///
/// # Safety
/// Logical partition only; the call must not write memory Rust owns.
pub unsafe fn hcall(op: u64, a: [u64; 6]) -> i64 {
    // SAFETY: the caller's contract.
    unsafe { hcall_r4(op, a) }.0
}

/// A PAPR hypervisor call with up to six arguments; returns r3 (the
/// status) and r4 (the first return value, e.g. H_XIRR's XIRR).
///
/// # Safety
/// As [`hcall`].
pub unsafe fn hcall_r4(op: u64, a: [u64; 6]) -> (i64, u64) {
    // SAFETY: the caller's contract.
    let (status, [r4, _, _]) = unsafe { hcall_r4_r6(op, a) };
    (status, r4)
}

/// A PAPR hypervisor call with up to six arguments; returns r3 (the
/// status) and r4-r6 (the return values, e.g. H_GET_TERM_CHAR's count and
/// bytes).
///
/// # Safety
/// As [`hcall`].
pub unsafe fn hcall_r4_r6(op: u64, a: [u64; 6]) -> (i64, [u64; 3]) {
    let ret: u64;
    let (r4, r5, r6): (u64, u64, u64);
    // SAFETY: `sc 1` follows PAPR: r3 returns the status, r4-r12 return
    // values or scratch; r0, CTR, XER and CR fields 0, 1, 5-7 may change
    // (all declared clobbered).
    unsafe {
        core::arch::asm!(
            "sc 1",
            inlateout("r3") op => ret,
            inlateout("r4") a[0] => r4,
            inlateout("r5") a[1] => r5,
            inlateout("r6") a[2] => r6,
            inlateout("r7") a[3] => _,
            inlateout("r8") a[4] => _,
            inlateout("r9") a[5] => _,
            lateout("r0") _, lateout("r10") _, lateout("r11") _, lateout("r12") _,
            out("ctr") _, out("xer") _,
            out("cr0") _, out("cr1") _, out("cr5") _, out("cr6") _, out("cr7") _,
            options(nostack)
        );
    }
    (ret as i64, [r4, r5, r6])
}

/// Writes bytes to vty 0 (terminal number 0 selects the default vty).
pub fn put_bytes(bytes: &[u8]) {
    for chunk in bytes.chunks(16) {
        // The console has nowhere to report its own failure.
        let _ = put_term_chars(0, chunk);
    }
}

/// Writes up to 16 bytes to the virtual terminal with unit address `term`
/// (H_PUT_TERM_CHAR); more than 16 are refused (`H_PARAMETER`, nothing
/// written). `Err` carries the hypervisor's status (`H_PARAMETER`: no such
/// terminal).
pub fn put_term_chars(term: u64, bytes: &[u8]) -> Result<(), i64> {
    if bytes.len() > 16 {
        return Err(H_PARAMETER);
    }
    let mut buf = [0u8; 16];
    buf[..bytes.len()].copy_from_slice(bytes);
    let [hi, lo] = [&buf[..8], &buf[8..]].map(|half| {
        half.iter()
            .fold(0u64, |word, &b| (word << 8) | u64::from(b))
    });
    // SAFETY: H_PUT_TERM_CHAR only reads its register arguments.
    match unsafe { hcall(H_PUT_TERM_CHAR, [term, bytes.len() as u64, hi, lo, 0, 0]) } {
        0 => Ok(()),
        status => Err(status),
    }
}

/// Reads what the virtual terminal with unit address `term` has received,
/// at most 16 bytes (H_GET_TERM_CHAR): the bytes and how many there are
/// (0: nothing yet). `Err` carries the hypervisor's status.
#[cfg(feature = "gdb")]
pub fn get_term_chars(term: u64) -> Result<([u8; 16], usize), i64> {
    // SAFETY: H_GET_TERM_CHAR only reads its register argument and returns
    // the count in r4 and the bytes, first byte most significant, in r5 and
    // r6.
    let (status, [len, hi, lo]) = unsafe { hcall_r4_r6(H_GET_TERM_CHAR, [term, 0, 0, 0, 0, 0]) };
    if status != 0 {
        return Err(status);
    }
    let mut buf = [0u8; 16];
    buf[..8].copy_from_slice(&hi.to_be_bytes());
    buf[8..].copy_from_slice(&lo.to_be_bytes());
    Ok((buf, (len as usize).min(16)))
}

/// The console as a `fmt::Write`.
pub struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        put_bytes(s.as_bytes());
        Ok(())
    }
}

/// Calls the Open Firmware client interface at `entry` with `args`
/// (32-bit big-endian cells: service, nargs, nret, args..., rets...).
///
/// # Safety
/// `entry` must be the client-interface entry the firmware passed in r5,
/// before the vectors were overwritten.
unsafe fn of_enter(entry: u64, args: *mut u32) -> u32 {
    let ret: u64;
    // SAFETY: VOF's entry is C code following the ELF ABI (it may use the
    // stack below r1 and its own TOC, restored here). Volatile registers, LR and CTR are declared clobbered.
    unsafe {
        core::arch::asm!(
            // The firmware's C code runs with its own TOC in r2: keep ours
            // in a non-volatile register across the call.
            "mr {toc}, 2",
            "mtctr {e}",
            "bctrl",
            "mr 2, {toc}",
            e = in(reg) entry,
            toc = inout(reg) 0u64 => _,
            inlateout("r3") args as u64 => ret,
            lateout("r0") _, lateout("r4") _, lateout("r5") _, lateout("r6") _,
            lateout("r7") _, lateout("r8") _, lateout("r9") _, lateout("r10") _,
            lateout("r11") _, lateout("r12") _,
            out("lr") _, out("ctr") _, out("xer") _,
            out("cr0") _, out("cr1") _, out("cr5") _, out("cr6") _, out("cr7") _,
        );
    }
    ret as u32
}

/// The Open Firmware client interface.
pub struct Of {
    entry: u64,
}

impl Of {
    /// The client interface at `entry` (r5 at boot).
    ///
    /// # Safety
    /// As [`of_enter`].
    pub unsafe fn new(entry: u64) -> Self {
        Self { entry }
    }

    fn call<const R: usize>(&self, service: &CStr, args: &[u32]) -> Option<[u32; R]> {
        let mut cells = [0u32; 16];
        cells[0] = service.as_ptr() as usize as u32;
        cells[1] = args.len() as u32;
        cells[2] = R as u32;
        cells[3..3 + args.len()].copy_from_slice(args);
        // SAFETY: `new`'s contract; the cell array lives on our stack below 4 GiB.
        let status = unsafe { of_enter(self.entry, cells.as_mut_ptr()) };
        if status != 0 {
            return None;
        }
        let mut rets = [0u32; R];
        rets.copy_from_slice(&cells[3 + args.len()..3 + args.len() + R]);
        Some(rets)
    }

    fn finddevice(&self, path: &CStr) -> Option<u32> {
        let [ph] = self.call::<1>(c"finddevice", &[path.as_ptr() as usize as u32])?;
        Self::node(ph)
    }

    /// A phandle answer: 0 (no such node) and -1 (error) are none.
    fn node(ph: u32) -> Option<u32> {
        (ph != 0 && ph != u32::MAX).then_some(ph)
    }

    /// The first child of `ph`.
    fn child(&self, ph: u32) -> Option<u32> {
        Self::node(self.call::<1>(c"child", &[ph])?[0])
    }

    /// The next sibling of `ph`.
    fn peer(&self, ph: u32) -> Option<u32> {
        Self::node(self.call::<1>(c"peer", &[ph])?[0])
    }

    /// Reads property `name` of `ph` into `buf`; the property's length
    /// (which may exceed `buf`, whose contents are then a prefix).
    fn getprop(&self, ph: u32, name: &CStr, buf: &mut [u8]) -> Option<usize> {
        let [len] = self.call::<1>(
            c"getprop",
            &[
                ph,
                name.as_ptr() as usize as u32,
                buf.as_mut_ptr() as usize as u32,
                buf.len() as u32,
            ],
        )?;
        // -1: no such property.
        (len != u32::MAX).then_some(len as usize)
    }

    fn getprop_u32(&self, ph: u32, name: &CStr) -> Option<u32> {
        let mut buf = [0u8; 4];
        let len = self.getprop(ph, name, &mut buf)?;
        (len == 4).then_some(u32::from_be_bytes(buf))
    }

    /// The interrupt server numbers of every hardware thread under
    /// `/cpus` (nodes whose `device_type` is `cpu`, one server per thread in
    /// `ibm,ppc-interrupt-server#s`), in device-tree order.
    ///
    /// # Errors
    /// No `/cpus`, a cpu node without servers, or more threads than
    /// [`MAX_CPUS`].
    pub fn cpus(&self) -> Result<CpuServers, &'static str> {
        let cpus = self.finddevice(c"/cpus").ok_or("no /cpus node")?;
        let mut out = CpuServers {
            servers: [0; MAX_CPUS],
            count: 0,
        };
        let mut node = self.child(cpus);
        while let Some(ph) = node {
            let mut kind = [0u8; 8];
            let is_cpu = self
                .getprop(ph, c"device_type", &mut kind)
                .is_some_and(|len| len == 4 && kind[..4] == *b"cpu\0");
            if is_cpu {
                let mut raw = [0u8; 4 * 8];
                let len = self
                    .getprop(ph, c"ibm,ppc-interrupt-server#s", &mut raw)
                    .ok_or("cpu node without ibm,ppc-interrupt-server#s")?;
                if len == 0 || len % 4 != 0 || len > raw.len() {
                    return Err("malformed ibm,ppc-interrupt-server#s");
                }
                for cell in raw[..len].chunks_exact(4) {
                    if out.count == MAX_CPUS {
                        return Err("more hardware threads than the kernel serves");
                    }
                    out.servers[out.count] =
                        u32::from_be_bytes([cell[0], cell[1], cell[2], cell[3]]);
                    out.count += 1;
                }
            }
            node = self.peer(ph);
        }
        if out.count == 0 {
            return Err("no cpu under /cpus");
        }
        Ok(out)
    }

    /// Finds RTAS in the device tree, instantiates it at `base` and reads
    /// the tokens this kernel uses.
    pub fn rtas(&self, base: u64) -> Option<Rtas> {
        let ph = self.finddevice(c"/rtas")?;
        let tokens = RtasTokens {
            power_off: self.getprop_u32(ph, c"power-off")?,
            os_term: self.getprop_u32(ph, c"ibm,os-term")?,
            start_cpu: self.getprop_u32(ph, c"start-cpu")?,
            stop_self: self.getprop_u32(ph, c"stop-self")?,
            query_cpu_stopped_state: self.getprop_u32(ph, c"query-cpu-stopped-state")?,
        };
        let size = self.getprop_u32(ph, c"rtas-size").unwrap_or(0);
        if u64::from(size) > RTAS_AREA_SIZE {
            return None;
        }
        let [ih] = self.call::<1>(c"open", &[c"/rtas".as_ptr() as usize as u32])?;
        let [catch, entry] = self.call::<2>(
            c"call-method",
            &[
                c"instantiate-rtas".as_ptr() as usize as u32,
                ih,
                base as u32,
            ],
        )?;
        if catch != 0 {
            return None;
        }
        Some(Rtas {
            entry: u64::from(entry),
            base,
            tokens,
        })
    }
}

/// Hardware threads this kernel can run (the registry's `CPUS`).
pub const MAX_CPUS: usize = 4;

/// The interrupt server numbers of the machine's hardware threads.
#[derive(Copy, Clone, Debug)]
pub struct CpuServers {
    /// Server numbers, `count` of them valid.
    pub servers: [u32; MAX_CPUS],
    /// Threads found.
    pub count: usize,
}

/// The RTAS services this kernel calls.
#[derive(Copy, Clone, Debug)]
pub struct RtasTokens {
    /// `power-off`.
    pub power_off: u32,
    /// `ibm,os-term`.
    pub os_term: u32,
    /// `start-cpu`.
    pub start_cpu: u32,
    /// `stop-self`.
    pub stop_self: u32,
    /// `query-cpu-stopped-state`.
    pub query_cpu_stopped_state: u32,
}

/// The instantiated RTAS and the tokens this kernel uses.
#[derive(Copy, Clone, Debug)]
pub struct Rtas {
    /// Entry point.
    pub entry: u64,
    /// Where it was instantiated.
    pub base: u64,
    /// Its services.
    pub tokens: RtasTokens,
}

/// Bytes the kernel sets aside for RTAS.
pub const RTAS_AREA_SIZE: u64 = 0x10000;

static RTAS_ENTRY: AtomicU64 = AtomicU64::new(0);
static RTAS_BASE: AtomicU64 = AtomicU64::new(0);
static TOKEN_POWER_OFF: AtomicU32 = AtomicU32::new(0);
static TOKEN_OS_TERM: AtomicU32 = AtomicU32::new(0);
static TOKEN_START_CPU: AtomicU32 = AtomicU32::new(0);
static TOKEN_STOP_SELF: AtomicU32 = AtomicU32::new(0);
static TOKEN_QUERY_STOPPED: AtomicU32 = AtomicU32::new(0);

/// RTAS is not re-entrant (PAPR): one CPU in it at a time. Held with
/// interrupts off and never while waiting for another CPU.
static RTAS_LOCK: AtomicBool = AtomicBool::new(false);

impl Rtas {
    /// Remembers this RTAS for the calls below.
    pub fn publish(&self) {
        RTAS_BASE.store(self.base, Ordering::Relaxed);
        TOKEN_POWER_OFF.store(self.tokens.power_off, Ordering::Relaxed);
        TOKEN_OS_TERM.store(self.tokens.os_term, Ordering::Relaxed);
        TOKEN_START_CPU.store(self.tokens.start_cpu, Ordering::Relaxed);
        TOKEN_STOP_SELF.store(self.tokens.stop_self, Ordering::Relaxed);
        TOKEN_QUERY_STOPPED.store(self.tokens.query_cpu_stopped_state, Ordering::Relaxed);
        RTAS_ENTRY.store(self.entry, Ordering::Release);
    }
}

/// Enters RTAS with `token` and `args`; fills `rets` and returns the
/// status (the first return cell), or -1 when RTAS is not instantiated.
/// The caller serialises (see [`rtas_call`]) and has interrupts off.
fn rtas_enter(token: u32, args: &[u32], rets: &mut [u32]) -> i32 {
    let entry = RTAS_ENTRY.load(Ordering::Acquire);
    if entry == 0 {
        return -1;
    }
    let mut cells = [0u32; 12];
    let nret = rets.len() + 1;
    cells[0] = token;
    cells[1] = args.len() as u32;
    cells[2] = nret as u32;
    cells[3..3 + args.len()].copy_from_slice(args);
    // SAFETY: RTAS is entered with r3 = argument cells, r4 = its base, in
    // real mode with interrupts off; it returns with `blr`. Volatile
    // registers, LR and CTR are declared clobbered.
    unsafe {
        core::arch::asm!(
            "mr {toc}, 2",
            "mtctr {e}",
            "bctrl",
            "mr 2, {toc}",
            e = in(reg) entry,
            toc = inout(reg) 0u64 => _,
            inlateout("r3") cells.as_mut_ptr() as u64 => _,
            inlateout("r4") RTAS_BASE.load(Ordering::Relaxed) => _,
            lateout("r0") _, lateout("r5") _, lateout("r6") _,
            lateout("r7") _, lateout("r8") _, lateout("r9") _, lateout("r10") _,
            lateout("r11") _, lateout("r12") _,
            out("lr") _, out("ctr") _, out("xer") _,
            out("cr0") _, out("cr1") _, out("cr5") _, out("cr6") _, out("cr7") _,
        );
    }
    let out = 3 + args.len();
    rets.copy_from_slice(&cells[out + 1..out + nret]);
    cells[out] as i32
}

/// Calls RTAS under [`RTAS_LOCK`] with interrupts off: the status and
/// `R` further return cells.
fn rtas_call<const R: usize>(token: u32, args: &[u32]) -> (i32, [u32; R]) {
    let msr = crate::platform::interrupts_off();
    while RTAS_LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    let mut rets = [0u32; R];
    let status = rtas_enter(token, args, &mut rets);
    RTAS_LOCK.store(false, Ordering::Release);
    crate::platform::interrupts_restore(msr);
    (status, rets)
}

/// RTAS `start-cpu`: starts the stopped thread `server` at the real
/// address `entry` in 64-bit real mode with `r3` in r3. The status (0:
/// started).
pub fn start_cpu(server: u32, entry: u64, r3: u64) -> i32 {
    let token = TOKEN_START_CPU.load(Ordering::Relaxed);
    rtas_call::<0>(token, &[server, entry as u32, r3 as u32]).0
}

/// RTAS `query-cpu-stopped-state` of `server`: `Ok(0)` stopped, `Ok(1)`
/// stopping, `Ok(2)` running; `Err(status)` when RTAS refused.
pub fn query_cpu_stopped_state(server: u32) -> Result<u32, i32> {
    let token = TOKEN_QUERY_STOPPED.load(Ordering::Relaxed);
    match rtas_call::<1>(token, &[server]) {
        (0, [state]) => Ok(state),
        (status, _) => Err(status),
    }
}

/// RTAS `stop-self`: stops the calling thread until a `start-cpu`, which
/// restarts it from the entry given there. Called without [`RTAS_LOCK`]:
/// the call does not return, so it could never release it (PAPR allows
/// stop-self beside another CPU's RTAS call).
///
/// # Safety
/// Interrupts off, and everything this CPU owns handed over: nothing of
/// its stack is used again.
pub unsafe fn stop_self() -> ! {
    rtas_enter(TOKEN_STOP_SELF.load(Ordering::Relaxed), &[], &mut []);
    halt()
}

/// Powers the machine off: QEMU exits with status 0.
pub fn power_off() -> ! {
    rtas_call::<0>(TOKEN_POWER_OFF.load(Ordering::Relaxed), &[0, 0]);
    halt()
}

/// Terminates the OS with a message: with `-action panic=exit-failure`
/// QEMU exits with status 1.
pub fn os_term(msg: &CStr) -> ! {
    rtas_call::<0>(
        TOKEN_OS_TERM.load(Ordering::Relaxed),
        &[msg.as_ptr() as usize as u32],
    );
    halt()
}

fn halt() -> ! {
    loop {
        core::hint::spin_loop();
    }
}
