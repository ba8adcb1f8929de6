//! The GDB adapter driven through real gdbstub packets: `Z`/`z` packets in,
//! replies and stop reasons out, the registry and the model machine checked
//! in between.

mod common;

use common::{rig, Rig};
use gdbstub::common::Signal;
use gdbstub::conn::Connection;
use gdbstub::stub::state_machine::GdbStubStateMachine;
use gdbstub::stub::{GdbStubBuilder, SingleThreadStopReason};
use gdbstub::target::ext::base::singlethread::{
    SingleThreadBase, SingleThreadResume, SingleThreadResumeOps,
};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::breakpoints::{Breakpoints, HwBreakpointOps, HwWatchpointOps};
use gdbstub::target::{Target, TargetResult};
use gdbstub_arch::x86::reg::X86_64CoreRegs;
use gdbstub_arch::x86::X86_64_SSE;
use hwbreak_core::gdb::{GdbBreakpoints, GdbStop, StopLatch, WatchKind};
use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform};
use hwbreak_core::{AccessKind, ErrorKind, PoolId, Registry, Request, Space};

/// A kernel address, as a stub would watch.
const VAR: u64 = 0xffff_8000_0020_0000;

/// Slots in use in `pool`.
fn used(r: &Rig, pool: PoolId) -> u32 {
    r.reg.pool_usage(pool).0
}

/// The stub's side of the wire.
#[derive(Default)]
struct Wire {
    out: Vec<u8>,
}

impl Connection for Wire {
    type Error = ();

    fn write(&mut self, byte: u8) -> Result<(), ()> {
        self.out.push(byte);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ()> {
        Ok(())
    }
}

/// A kernel target whose only real part is the breakpoint adapter.
struct Kernel<'r, const N: usize> {
    hw: GdbBreakpoints<'r, ModelArch, ModelPlatform, 64, 4, 8, N>,
}

impl<'r, const N: usize> Target for Kernel<'r, N> {
    type Arch = X86_64_SSE;
    type Error = ();

    fn base_ops(&mut self) -> BaseOps<'_, X86_64_SSE, ()> {
        BaseOps::SingleThread(self)
    }

    // GDB's `break` puts software breakpoints in memory itself; this
    // target only offers hardware ones.
    fn guard_rail_implicit_sw_breakpoints(&self) -> bool {
        true
    }

    fn support_breakpoints(
        &mut self,
    ) -> Option<gdbstub::target::ext::breakpoints::BreakpointsOps<'_, Self>> {
        Some(self)
    }
}

impl<const N: usize> SingleThreadBase for Kernel<'_, N> {
    fn read_registers(&mut self, _regs: &mut X86_64CoreRegs) -> TargetResult<(), Self> {
        Ok(())
    }

    fn write_registers(&mut self, _regs: &X86_64CoreRegs) -> TargetResult<(), Self> {
        Ok(())
    }

    fn read_addrs(&mut self, _start: u64, data: &mut [u8]) -> TargetResult<usize, Self> {
        data.fill(0);
        Ok(data.len())
    }

    fn write_addrs(&mut self, _start: u64, _data: &[u8]) -> TargetResult<(), Self> {
        Ok(())
    }

    fn support_resume(&mut self) -> Option<SingleThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

impl<const N: usize> SingleThreadResume for Kernel<'_, N> {
    fn resume(&mut self, _signal: Option<Signal>) -> Result<(), ()> {
        Ok(())
    }
}

impl<const N: usize> Breakpoints for Kernel<'_, N> {
    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

hwbreak_core::gdb_hw_extensions!(impl['r, const N: usize] Kernel<'r, N> => hw);

/// A gdbstub session over [`Wire`], fed one packet at a time.
struct Session<'a, 'r, const N: usize> {
    sm: Option<GdbStubStateMachine<'a, Kernel<'r, N>, Wire>>,
}

fn frame(payload: &str) -> String {
    let sum = payload.bytes().fold(0u8, |a, b| a.wrapping_add(b));
    format!("${payload}#{sum:02x}")
}

impl<'a, 'r, const N: usize> Session<'a, 'r, N> {
    fn new(target: &mut Kernel<'r, N>, buf: &'a mut [u8]) -> Self {
        let stub = GdbStubBuilder::new(Wire::default())
            .with_packet_buffer(buf)
            .build()
            .unwrap();
        Self {
            sm: Some(stub.run_state_machine(target).unwrap()),
        }
    }

    fn take_output(&mut self) -> String {
        let conn = match self.sm.as_mut().unwrap() {
            GdbStubStateMachine::Idle(g) => g.borrow_conn(),
            GdbStubStateMachine::Running(g) => g.borrow_conn(),
            GdbStubStateMachine::CtrlCInterrupt(g) => g.borrow_conn(),
            GdbStubStateMachine::Disconnected(g) => g.borrow_conn(),
        };
        let s = String::from_utf8(std::mem::take(&mut conn.out)).unwrap();
        // Acknowledgements are not replies.
        s.trim_start_matches('+').to_string()
    }

    /// Sends one packet; returns the reply's payload.
    fn packet(&mut self, target: &mut Kernel<'r, N>, payload: &str) -> String {
        for b in frame(payload).bytes() {
            self.sm = Some(match self.sm.take().unwrap() {
                GdbStubStateMachine::Idle(g) => g.incoming_data(target, b).unwrap(),
                GdbStubStateMachine::Running(g) => g.incoming_data(target, b).unwrap(),
                other => panic!("stub not accepting packets: {}", state_name(&other)),
            });
        }
        payload_of(&self.take_output())
    }

    /// Reports a stop to a resumed stub; returns the stop packet's payload.
    fn stop(&mut self, target: &mut Kernel<'r, N>, reason: SingleThreadStopReason<u64>) -> String {
        self.sm = Some(match self.sm.take().unwrap() {
            GdbStubStateMachine::Running(g) => g.report_stop(target, reason).unwrap(),
            other => panic!("stub not running: {}", state_name(&other)),
        });
        payload_of(&self.take_output())
    }
}

fn state_name<T: Target, C: Connection>(sm: &GdbStubStateMachine<'_, T, C>) -> &'static str {
    match sm {
        GdbStubStateMachine::Idle(_) => "idle",
        GdbStubStateMachine::Running(_) => "running",
        GdbStubStateMachine::CtrlCInterrupt(_) => "ctrl-c",
        GdbStubStateMachine::Disconnected(_) => "disconnected",
    }
}

/// `$payload#cs` -> `payload`, run-length encoding expanded (empty for no
/// reply).
fn payload_of(wire: &str) -> String {
    let raw = match (wire.find('$'), wire.rfind('#')) {
        (Some(a), Some(b)) if a < b => &wire[a + 1..b],
        _ => return String::new(),
    };
    let mut out = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '*' {
            // `X*n`: X repeated (n - 29) more times.
            let n = chars.next().expect("run length") as usize - 29;
            let last = out.chars().last().expect("a character to repeat");
            out.extend(std::iter::repeat_n(last, n));
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn z2_watch_arms_the_registry_and_a_write_reports_the_address_gdb_asked_for() {
    static LATCH: StopLatch<4> = StopLatch::new();
    let r = rig(Config::arm_like(2));
    let mut k = Kernel::<4> {
        hw: GdbBreakpoints::new(&r.reg, &LATCH),
    };
    let mut buf = [0u8; 4096];
    let mut s = Session::new(&mut k, &mut buf);

    assert_eq!(s.packet(&mut k, &format!("Z2,{VAR:x},4")), "OK");
    assert_eq!(used(&r, PoolId::SECOND), 1);
    assert_eq!(s.packet(&mut k, "c"), "");

    // A write beside the watched bytes does not stop GDB.
    assert!(r.access(1, VAR + 4, 4, AccessKind::Write).is_none());
    assert_eq!(on_cpu(1, || k.hw.take_stop()), None);
    // A write into them does, on the CPU that made it.
    assert!(r.access(1, VAR + 2, 2, AccessKind::Write).is_some());
    assert_eq!(on_cpu(0, || k.hw.take_stop()), None, "not CPU 0's hit");
    let stop = on_cpu(1, || k.hw.take_stop()).expect("a stop");
    assert_eq!(
        stop,
        GdbStop::Watch {
            kind: WatchKind::Write,
            addr: VAR + 2
        }
    );
    assert_eq!(on_cpu(1, || k.hw.take_stop()), None, "taken once");
    let reply = s.stop(&mut k, stop.into());
    assert!(
        reply.starts_with("T05") && reply.contains(&format!("watch:{:x};", VAR + 2)),
        "{reply}"
    );

    // Removal must match exactly.
    assert_eq!(s.packet(&mut k, &format!("z2,{VAR:x},8")), "E16");
    assert_eq!(s.packet(&mut k, &format!("z3,{VAR:x},4")), "E16");
    assert_eq!(used(&r, PoolId::SECOND), 1);
    assert_eq!(s.packet(&mut k, &format!("z2,{VAR:x},4")), "OK");
    assert_eq!(used(&r, PoolId::SECOND), 0);
    assert!(r.access(1, VAR, 4, AccessKind::Write).is_none());
}

#[test]
fn a_read_watch_on_a_machine_without_read_watches_is_refused_not_widened() {
    static LATCH: StopLatch<4> = StopLatch::new();
    let r = rig(Config::x86_like(2));
    let mut k = Kernel::<4> {
        hw: GdbBreakpoints::new(&r.reg, &LATCH),
    };
    let mut buf = [0u8; 4096];
    let mut s = Session::new(&mut k, &mut buf);

    assert_eq!(s.packet(&mut k, &format!("Z3,{VAR:x},8")), "E16");
    assert_eq!(k.hw.last_refusal(), Some(ErrorKind::UnsupportedKind));
    assert_eq!(used(&r, PoolId::FIRST), 0);
    assert!(k.hw.is_empty());
    assert!(r.access(0, VAR, 8, AccessKind::ReadWrite).is_none());
    // awatch is what x86 offers instead, and GDB may ask for it.
    assert_eq!(s.packet(&mut k, &format!("Z4,{VAR:x},8")), "OK");
    assert!(r.access(0, VAR, 8, AccessKind::Read).is_some());
    // x86 reports no address: the stop names the start of GDB's range.
    assert_eq!(
        on_cpu(0, || k.hw.take_stop()),
        Some(GdbStop::Watch {
            kind: WatchKind::ReadWrite,
            addr: VAR
        })
    );
}

#[test]
fn an_odd_length_watch_is_covered_exactly_and_hits_outside_it_are_filtered() {
    static LATCH: StopLatch<4> = StopLatch::new();
    let r = rig(Config::x86_like(2));
    let mut k = Kernel::<4> {
        hw: GdbBreakpoints::new(&r.reg, &LATCH),
    };
    let mut buf = [0u8; 4096];
    let mut s = Session::new(&mut k, &mut buf);

    // 13 bytes at VAR+3: 1 + 4 + 8 on an x86-like machine (aligned powers
    // of two): three slots, no byte more.
    let start = VAR + 3;
    assert_eq!(s.packet(&mut k, &format!("Z2,{start:x},d")), "OK");
    assert_eq!(used(&r, PoolId::FIRST), 3);
    assert!(r.access(0, VAR + 2, 1, AccessKind::Write).is_none());
    assert!(r.access(0, VAR + 16, 1, AccessKind::Write).is_none());
    for byte in [start, start + 5, start + 12] {
        assert!(
            r.access(0, byte, 1, AccessKind::Write).is_some(),
            "{byte:#x}"
        );
        assert!(matches!(
            on_cpu(0, || k.hw.take_stop()),
            Some(GdbStop::Watch { addr, .. }) if (start..start + 13).contains(&addr)
        ));
    }
    // 2 slots left: a second 13-byte watch cannot be covered: refused, and
    // the first is untouched.
    assert_eq!(s.packet(&mut k, &format!("Z2,{:x},d", VAR + 0x103)), "E16");
    assert_eq!(k.hw.last_refusal(), Some(ErrorKind::NoSlot));
    assert_eq!(used(&r, PoolId::FIRST), 3);
    assert_eq!(s.packet(&mut k, &format!("z2,{start:x},d")), "OK");
    assert_eq!(used(&r, PoolId::FIRST), 0);
}

#[test]
fn z1_hbreak_reports_a_hardware_breakpoint_stop() {
    static LATCH: StopLatch<4> = StopLatch::new();
    const CODE: u64 = 0xffff_8000_0000_1000;
    let r = rig(Config::arm_like(2));
    let mut k = Kernel::<4> {
        hw: GdbBreakpoints::new(&r.reg, &LATCH),
    };
    let mut buf = [0u8; 4096];
    let mut s = Session::new(&mut k, &mut buf);

    assert_eq!(s.packet(&mut k, &format!("Z1,{CODE:x},1")), "OK");
    assert_eq!(used(&r, PoolId::FIRST), 1);
    assert_eq!(s.packet(&mut k, "c"), "");
    assert!(r.access(0, CODE, 1, AccessKind::Execute).is_some());
    let stop = on_cpu(0, || k.hw.take_stop()).unwrap();
    assert_eq!(stop, GdbStop::HwBreak { addr: CODE });
    let reply = s.stop(&mut k, stop.into());
    assert!(
        reply.starts_with("T05") && reply.contains("hwbreak:"),
        "{reply}"
    );
    assert_eq!(s.packet(&mut k, &format!("z1,{CODE:x},1")), "OK");
    assert_eq!(s.packet(&mut k, &format!("z1,{CODE:x},1")), "E16");
    assert_eq!(used(&r, PoolId::FIRST), 0);
}

#[test]
fn a_watch_shared_with_the_kernel_keeps_trapping_for_the_kernel_after_gdb_removes_it() {
    static LATCH: StopLatch<4> = StopLatch::new();
    static KERNEL_HITS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    fn kernel_handler(_: &hwbreak_core::Event) {
        KERNEL_HITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let r = rig(Config::x86_like(2));
    let kernel = r
        .reg
        .register(&Request::write(VAR, 8).handler(kernel_handler, 0))
        .unwrap();
    let mut k = Kernel::<4> {
        hw: GdbBreakpoints::new(&r.reg, &LATCH),
    };
    let mut buf = [0u8; 4096];
    let mut s = Session::new(&mut k, &mut buf);

    assert_eq!(s.packet(&mut k, &format!("Z2,{VAR:x},8")), "OK");
    assert_eq!(used(&r, PoolId::FIRST), 1, "one slot serves both");
    assert!(r.access(0, VAR, 8, AccessKind::Write).is_some());
    assert_eq!(KERNEL_HITS.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert!(on_cpu(0, || k.hw.take_stop()).is_some());

    assert_eq!(s.packet(&mut k, &format!("z2,{VAR:x},8")), "OK");
    assert_eq!(used(&r, PoolId::FIRST), 1, "the kernel's watch stays");
    assert!(r.access(0, VAR, 8, AccessKind::Write).is_some());
    assert_eq!(KERNEL_HITS.load(std::sync::atomic::Ordering::Relaxed), 2);
    assert_eq!(on_cpu(0, || k.hw.take_stop()), None, "GDB's is gone");
    r.reg.unregister(kernel).unwrap();
    assert_eq!(used(&r, PoolId::FIRST), 0);
}

#[test]
fn a_full_adapter_refuses_and_dropping_it_releases_every_slot() {
    static LATCH: StopLatch<4> = StopLatch::new();
    let r = rig(Config::arm_like(2));
    {
        let mut gdb = GdbBreakpoints::<_, _, 64, 4, 8, 2>::new(&r.reg, &LATCH);
        assert!(gdb.add_hw_watchpoint(VAR, 8, WatchKind::Write));
        assert!(gdb.add_hw_breakpoint(0xffff_8000_0000_1000));
        assert!(!gdb.add_hw_watchpoint(VAR + 64, 8, WatchKind::Read));
        assert_eq!(gdb.last_refusal(), Some(ErrorKind::TableFull));
        assert_eq!(gdb.len(), 2);
        assert_eq!(used(&r, PoolId::SECOND), 1);
        assert_eq!(used(&r, PoolId::FIRST), 1);
    }
    assert_eq!(used(&r, PoolId::SECOND), 0);
    assert_eq!(used(&r, PoolId::FIRST), 0);
}

#[test]
fn a_hit_of_a_breakpoint_gdb_removed_is_not_reported() {
    static LATCH: StopLatch<1> = StopLatch::new();
    let machine = Machine::new(Config::arm_like(1));
    let reg: Box<Registry<ModelArch, ModelPlatform, 16, 1, 4>> = Box::new(Registry::new(
        ModelArch::new(machine.clone()),
        ModelPlatform::new(machine.clone()),
    ));
    reg.init().unwrap();
    on_cpu(0, || reg.cpu_online().unwrap());
    let mut gdb = GdbBreakpoints::<_, _, 16, 1, 4>::new(&reg, &LATCH);
    assert!(gdb.add_hw_watchpoint(VAR, 4, WatchKind::ReadWrite));
    let trap = machine
        .access(0, VAR, 4, AccessKind::Read, Space::Kernel)
        .unwrap();
    on_cpu(0, || reg.on_debug_exception(&trap));
    assert!(gdb.remove_hw_watchpoint(VAR, 4, WatchKind::ReadWrite));
    assert_eq!(on_cpu(0, || gdb.take_stop()), None);
    // The latch is free again: the next hit is reported.
    assert!(gdb.add_hw_watchpoint(VAR, 4, WatchKind::ReadWrite));
    let trap = machine
        .access(0, VAR + 1, 1, AccessKind::Write, Space::Kernel)
        .unwrap();
    on_cpu(0, || reg.on_debug_exception(&trap));
    assert_eq!(
        on_cpu(0, || gdb.take_stop()),
        Some(GdbStop::Watch {
            kind: WatchKind::ReadWrite,
            addr: VAR + 1
        })
    );
}

/// With several breakpoints inserted, a stop names the one that was hit,
/// and the adapter counts what it holds.
#[test]
fn a_stop_names_the_breakpoint_that_was_hit_among_several() {
    static LATCH: StopLatch<1> = StopLatch::new();
    let machine = Machine::new(Config::arm_like(1));
    let reg: Box<Registry<ModelArch, ModelPlatform, 16, 1, 4>> = Box::new(Registry::new(
        ModelArch::new(machine.clone()),
        ModelPlatform::new(machine.clone()),
    ));
    reg.init().unwrap();
    on_cpu(0, || reg.cpu_online().unwrap());
    let mut gdb = GdbBreakpoints::<_, _, 16, 1, 4>::new(&reg, &LATCH);
    assert!(gdb.is_empty());
    assert!(gdb.add_hw_watchpoint(VAR, 4, WatchKind::Write));
    assert!(!gdb.is_empty());
    assert!(gdb.add_hw_watchpoint(VAR + 64, 4, WatchKind::Write));
    assert!(gdb.add_hw_breakpoint(VAR + 128));
    assert_eq!(gdb.len(), 3);
    let hit = |addr: u64, kind: AccessKind| {
        let trap = machine.access(0, addr, 1, kind, Space::Kernel).unwrap();
        on_cpu(0, || reg.on_debug_exception(&trap));
        on_cpu(0, || {
            reg.on_debug_exception(&hwbreak_core::model::ModelTrap {
                step: true,
                ..Default::default()
            })
        });
        on_cpu(0, || gdb.take_stop())
    };
    assert_eq!(
        hit(VAR + 65, AccessKind::Write),
        Some(GdbStop::Watch {
            kind: WatchKind::Write,
            addr: VAR + 65
        })
    );
    assert_eq!(
        hit(VAR + 128, AccessKind::Execute),
        Some(GdbStop::HwBreak { addr: VAR + 128 })
    );
    assert_eq!(
        hit(VAR + 2, AccessKind::Write),
        Some(GdbStop::Watch {
            kind: WatchKind::Write,
            addr: VAR + 2
        })
    );
}
