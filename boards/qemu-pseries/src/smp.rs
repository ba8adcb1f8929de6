//! The other hardware threads: bring-up by RTAS, cross-CPU calls by XICS
//! IPI, work for scenarios, hotplug and a debugger's round-up.
//!
//! # CPUs
//! The boot code reads every thread's interrupt server number from the
//! device tree (`/cpus/*/ibm,ppc-interrupt-server#s`) through the firmware
//! client interface. The boot thread (its PIR) becomes CPU 0, the others
//! 1.. in device-tree order. [`this_cpu`] reads PIR and looks it up: no
//! lock, so the debug exception and context switches can use it.
//!
//! # Bring-up
//! RTAS `start-cpu` starts a stopped thread at `hwb_secondary_entry` in
//! 64-bit real mode with r3 = its CPU index. The entry enables FP and
//! takes the CPU's own stack; [`hwb_secondary_start`] points SPRG0 at the
//! CPU's exception area (its own exception stack), clears any stale IPI
//! and opens its XICS priority (`H_IPI` with 0xFF, `H_CPPR` 0xFF), opens
//! its mailboxes, calls the registry's `cpu_online` and idles. The
//! exception vectors are shared (real mode, below 0x1000) and need no
//! per-CPU setup; MSR\[SE\] is per CPU and starts clear.
//!
//! # Cross-CPU calls
//! Every CPU has one mailbox slot per possible caller
//! (`calls[target][caller]`): empty, closed (the target is offline) or a
//! pointer to the caller's [`Call`]. [`run_on_each_cpu`] posts its call
//! into every other CPU's slot with a compare-and-swap from empty (a
//! closed slot refuses it: that CPU is offline and not waited for), sends
//! the IPI (`H_IPI`), runs the function itself with interrupts off, then
//! waits until every target has run it. A target takes the IPI at 0x500
//! (`H_XIRR` to accept, `H_IPI` 0xFF to clear, then the mailboxes, then
//! `H_EOI`) and runs each posted function with interrupts off.
//!
//! Why two concurrent callers cannot deadlock: a CPU waiting for others
//! (cross-call, round-up, hotplug) polls its own mailboxes and its stop
//! request in the wait loop, so it answers the other caller while it
//! waits. Nothing waits for another CPU inside a critical section (see
//! [`crate::platform`]): a CPU with interrupts off in one leaves it in
//! bounded time and then answers.
//!
//! # Idle and work
//! A secondary with nothing to do checks its work mailbox with interrupts
//! off and cedes the thread (`H_CEDE`, which turns MSR\[EE\] on), so idle
//! threads do not spin on the host; an IPI (or the decrementer) wakes it.
//! [`Smp::spawn`](hwbreak_suite::Smp::spawn) writes the work, then IPIs.
//!
//! # Hotplug
//! Going down, the CPU closes its mailboxes (answering whatever was
//! posted), then calls the registry's `cpu_offline`, masks its XICS
//! priority (`H_CPPR` 0) and calls RTAS `stop-self`. The caller waits
//! until RTAS `query-cpu-stopped-state` says stopped. QEMU 10 keeps the
//! debug registers across `stop-self` and `start-cpu` (a DAWR0 armed before
//! the stop was seen to trap after the start, before any bring-up code
//! touched it); the bring-up does not touch them either: the registry's
//! `cpu_offline` cleared them and its `cpu_online` rewrites them from its
//! tables.
//!
//! # Round-up
//! [`Smp::stop_others`](hwbreak_suite::Smp::stop_others): one CPU at a
//! time owns a round-up (a CPU that loses the race answers the owner's
//! stop while it retries). The owner sets each online CPU's stop request
//! and IPIs it; the CPU acknowledges and spins with interrupts off until
//! released, answering the owner's cross-CPU calls meanwhile (so the owner
//! may change breakpoints through the registry, as a debugger does; other
//! CPUs' calls wait for the release), then calls the registry's
//! `refresh`. A CPU between `start-cpu`
//! and opening its mailboxes is not online yet and is not stopped.

use core::fmt::Write;
use core::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use hwbreak::Zone;
use hwbreak_suite::Work;

use crate::entry::ExceptionArea;
use crate::firmware::{self, hcall, hcall_r4, CpuServers, MAX_CPUS};
use crate::platform::{interrupts_off, interrupts_on, interrupts_restore};
use crate::{println, REGISTRY};

/// H_EOI: end of interrupt (XIRR).
const H_EOI: u64 = 0x64;
/// H_IPI: set a server's MFRR (raises an IPI if more favoured than its CPPR).
const H_IPI: u64 = 0x6c;
/// H_CPPR: set this thread's current processor priority.
const H_CPPR: u64 = 0x68;
/// H_XIRR: accept the most favoured pending interrupt.
const H_XIRR: u64 = 0x74;
/// H_CEDE: give the thread up until an interrupt.
const H_CEDE: u64 = 0xe0;

/// XICS source number of the inter-processor interrupt.
const XICS_IPI: u64 = 2;
/// Priority IPIs are raised at (0 is the most favoured).
const IPI_PRIORITY: u64 = 5;
/// Least favoured priority: as MFRR, no IPI; as CPPR, accept everything.
const PRIORITY_LEAST: u64 = 0xff;

/// A secondary's normal stack.
const STACK_SIZE: usize = 0x10000;
/// Every CPU's exception stack.
const EXCEPTION_STACK_SIZE: usize = 0x8000;

#[repr(C, align(16))]
struct Stack<const N: usize>([u8; N]);

/// The secondaries' stacks (CPU 0 runs on the boot stack).
static mut STACKS: [Stack<STACK_SIZE>; MAX_CPUS - 1] =
    [const { Stack([0; STACK_SIZE]) }; MAX_CPUS - 1];
/// Exception stacks, one per CPU.
static mut EXCEPTION_STACKS: [Stack<EXCEPTION_STACK_SIZE>; MAX_CPUS] =
    [const { Stack([0; EXCEPTION_STACK_SIZE]) }; MAX_CPUS];
/// What SPRG0 points at on each CPU.
static mut EXCEPTION_AREAS: [ExceptionArea; MAX_CPUS] =
    [const { ExceptionArea::new(0, 0) }; MAX_CPUS];

/// Stack tops `hwb_secondary_entry` loads, by CPU index.
#[export_name = "hwb_cpu_stack_tops"]
static STACK_TOPS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// A mailbox slot: nothing posted.
const EMPTY: usize = 0;
/// A mailbox slot of an offline CPU: posting fails.
const CLOSED: usize = 1;

/// CPU states (`Mailboxes::state`).
const OFFLINE: u32 = 0;
const STARTING: u32 = 1;
const IDLE: u32 = 2;
/// `spawn` owns the work mailbox.
const CLAIMED: u32 = 3;
/// Work posted, not yet taken.
const WORK: u32 = 4;
const RUNNING: u32 = 5;
/// `offline` asked the CPU to go down.
const GOING_DOWN: u32 = 6;

/// Stop requests (`Mailboxes::stop`); [`CLOSED`] while offline.
const RUN: usize = EMPTY;
const STOP_REQUESTED: usize = 2;
const STOP_ARRIVED: usize = 3;

/// No round-up owner.
const NO_OWNER: u32 = u32::MAX;

/// Everything CPUs tell each other, in one static so it is one
/// no-breakpoint zone (the IPI path touches it with slots armed).
struct Mailboxes {
    servers: [AtomicU32; MAX_CPUS],
    count: AtomicU32,
    state: [AtomicU32; MAX_CPUS],
    work: [AtomicUsize; MAX_CPUS],
    work_arg: [AtomicUsize; MAX_CPUS],
    calls: [[AtomicUsize; MAX_CPUS]; MAX_CPUS],
    stop: [AtomicUsize; MAX_CPUS],
    roundup_owner: AtomicU32,
    stopped: AtomicU32,
}

static MAILBOXES: Mailboxes = Mailboxes {
    servers: [const { AtomicU32::new(u32::MAX) }; MAX_CPUS],
    count: AtomicU32::new(1),
    state: [const { AtomicU32::new(OFFLINE) }; MAX_CPUS],
    work: [const { AtomicUsize::new(0) }; MAX_CPUS],
    work_arg: [const { AtomicUsize::new(0) }; MAX_CPUS],
    calls: [const { [const { AtomicUsize::new(CLOSED) }; MAX_CPUS] }; MAX_CPUS],
    stop: [const { AtomicUsize::new(CLOSED) }; MAX_CPUS],
    roundup_owner: AtomicU32::new(NO_OWNER),
    stopped: AtomicU32::new(0),
};

/// A cross-CPU call in flight, on its caller's stack.
struct Call<'a> {
    f: &'a (dyn Fn() + Sync),
    /// Targets that have not run `f` yet.
    remaining: AtomicU32,
}

fn mfpir() -> u32 {
    let pir: u64;
    // SAFETY: reading PIR (SPR 1023) has no side effect.
    unsafe { core::arch::asm!("mfspr {0}, 1023", out(reg) pir, options(nomem, nostack)) };
    pir as u32
}

/// The CPU index of the caller: PIR looked up among the server numbers.
/// Before [`init`] only the boot CPU runs, and it is 0.
pub fn this_cpu() -> usize {
    let pir = mfpir();
    let m = &MAILBOXES;
    (0..MAX_CPUS)
        .find(|&i| m.servers[i].load(Ordering::Relaxed) == pir)
        .unwrap_or(0)
}

/// CPUs the machine has (all of them are brought up).
pub fn cpu_count() -> u32 {
    MAILBOXES.count.load(Ordering::Relaxed)
}

fn server(cpu: usize) -> u64 {
    u64::from(MAILBOXES.servers[cpu].load(Ordering::Relaxed))
}

/// `[start, end)` of `cpu`'s exception stack.
pub fn exception_stack(cpu: usize) -> (u64, u64) {
    let start = core::ptr::addr_of!(EXCEPTION_STACKS) as u64 + (cpu * EXCEPTION_STACK_SIZE) as u64;
    (start, start + EXCEPTION_STACK_SIZE as u64)
}

/// The no-breakpoint zones of this module: the secondaries' stacks, the
/// exception stacks, the exception areas and the mailboxes.
pub fn zones() -> [Zone; 4] {
    fn zone_of<T>(p: *const T) -> Zone {
        Zone::new(p as u64, p as u64 + core::mem::size_of::<T>() as u64)
    }
    [
        zone_of(core::ptr::addr_of!(STACKS)),
        zone_of(core::ptr::addr_of!(EXCEPTION_STACKS)),
        zone_of(core::ptr::addr_of!(EXCEPTION_AREAS)),
        Zone::of(&MAILBOXES),
    ]
}

/// Records the machine's threads (the boot thread becomes CPU 0), sets
/// every CPU's stacks, and sets up the boot CPU: its exception area, its
/// mailboxes, its XICS priority.
///
/// # Errors
/// The boot thread's PIR is none of `cpus`' servers.
///
/// # Safety
/// Once, on the boot CPU, before any other CPU runs and before the
/// exception vectors are installed.
pub unsafe fn init(cpus: &CpuServers) -> Result<(), &'static str> {
    let pir = mfpir();
    let boot = cpus.servers[..cpus.count]
        .iter()
        .position(|&s| s == pir)
        .ok_or("the boot thread's PIR is no interrupt server of /cpus")?;
    let mut servers = cpus.servers;
    servers.swap(0, boot);
    let m = &MAILBOXES;
    for (i, &s) in servers[..cpus.count].iter().enumerate() {
        m.servers[i].store(s, Ordering::Relaxed);
    }
    m.count.store(cpus.count as u32, Ordering::Relaxed);
    for (cpu, stack_top) in STACK_TOPS.iter().enumerate() {
        let (bottom, top) = exception_stack(cpu);
        // SAFETY: no other CPU runs yet and no exception is taken (the
        // vectors are not installed), so nothing reads the areas.
        unsafe {
            (*core::ptr::addr_of_mut!(EXCEPTION_AREAS))[cpu] = ExceptionArea::new(bottom, top);
        }
        if cpu > 0 {
            let base = core::ptr::addr_of!(STACKS) as u64 + ((cpu - 1) * STACK_SIZE) as u64;
            stack_top.store(base + STACK_SIZE as u64, Ordering::Relaxed);
        }
    }
    // SAFETY: this CPU's area, set up above.
    unsafe { crate::entry::set_exception_area(exception_area(0)) };
    open_mailboxes(0);
    m.state[0].store(RUNNING, Ordering::Release);
    xics_open(0);
    Ok(())
}

fn exception_area(cpu: usize) -> *mut ExceptionArea {
    // SAFETY: in bounds; only the pointer is formed.
    unsafe { core::ptr::addr_of_mut!(EXCEPTION_AREAS[cpu]) }
}

/// Clears a stale IPI and accepts every interrupt priority on `cpu`
/// (the caller).
fn xics_open(cpu: usize) {
    // SAFETY: XICS hcalls read only their register arguments.
    unsafe {
        hcall(H_IPI, [server(cpu), PRIORITY_LEAST, 0, 0, 0, 0]);
        hcall(H_CPPR, [PRIORITY_LEAST, 0, 0, 0, 0, 0]);
    }
}

fn send_ipi(cpu: usize) {
    // The mailbox write must be visible before the target can see the IPI.
    fence(Ordering::SeqCst);
    // SAFETY: H_IPI reads only its register arguments.
    unsafe { hcall(H_IPI, [server(cpu), IPI_PRIORITY, 0, 0, 0, 0]) };
}

fn open_mailboxes(me: usize) {
    let m = &MAILBOXES;
    for slot in &m.calls[me] {
        slot.store(EMPTY, Ordering::Relaxed);
    }
    m.stop[me].store(RUN, Ordering::Release);
}

/// Runs every call posted to `me`, with interrupts off (the caller's
/// state).
fn answer_calls(me: usize) {
    for slot in &MAILBOXES.calls[me] {
        answer_call(slot);
    }
}

/// Runs the call posted in `slot`, if any, with interrupts off (the
/// caller's state).
fn answer_call(slot: &AtomicUsize) {
    let posted = slot.load(Ordering::Acquire);
    if posted > CLOSED {
        // Empty first: the caller posts again only after `remaining`
        // reached 0, which happens after this store.
        slot.store(EMPTY, Ordering::Relaxed);
        // SAFETY: a posted pointer is a `Call` its caller keeps alive
        // until `remaining` reaches 0, which only the decrement below can
        // make it do for this target.
        let call = unsafe { &*(posted as *const Call<'_>) };
        (call.f)();
        call.remaining.fetch_sub(1, Ordering::Release);
    }
}

/// Spins until the round-up owner releases `me`, then refreshes this
/// CPU's registers from the registry. Meanwhile it answers the owner's
/// cross-CPU calls, and only the owner's: a debugger serving with the
/// world stopped changes breakpoints through the registry, whose updates
/// reach every CPU by cross-call, while a call another CPU posted just
/// before it stopped waits for the release, so nothing but the owner's
/// work runs while the world is stopped.
fn stop_here(me: usize) {
    let m = &MAILBOXES;
    let stop = &m.stop[me];
    stop.store(STOP_ARRIVED, Ordering::Release);
    while stop.load(Ordering::Acquire) == STOP_ARRIVED {
        // The owner set our stop request before we got here, and changes
        // only after releasing us.
        let owner = m.roundup_owner.load(Ordering::Acquire) as usize;
        if let Some(slot) = m.calls[me].get(owner) {
            answer_call(slot);
        }
        core::hint::spin_loop();
    }
    REGISTRY.refresh();
}

/// Answers everything other CPUs asked of `me`: calls, then a stop.
fn answer(me: usize) {
    answer_calls(me);
    if MAILBOXES.stop[me].load(Ordering::Acquire) == STOP_REQUESTED {
        stop_here(me);
    }
}

/// Waits until `done`, answering other CPUs meanwhile (so that two CPUs
/// waiting for each other both progress).
fn wait_until(me: usize, done: impl Fn() -> bool) {
    while !done() {
        answer(me);
        core::hint::spin_loop();
    }
}

/// `Platform::run_on_each_cpu`: runs `f` here and on every other online
/// CPU, each with interrupts off, and returns when all have run it.
pub fn run_on_each_cpu(f: &(dyn Fn() + Sync)) {
    let was_on = interrupts_off();
    let me = this_cpu();
    let call = Call {
        f,
        remaining: AtomicU32::new(0),
    };
    let posted = core::ptr::addr_of!(call) as usize;
    for cpu in (0..cpu_count() as usize).filter(|&c| c != me) {
        call.remaining.fetch_add(1, Ordering::Relaxed);
        let slot = &MAILBOXES.calls[cpu][me];
        if slot
            .compare_exchange(EMPTY, posted, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            send_ipi(cpu);
        } else {
            // Closed: the CPU is offline.
            call.remaining.fetch_sub(1, Ordering::Relaxed);
        }
    }
    f();
    wait_until(me, || call.remaining.load(Ordering::Acquire) == 0);
    interrupts_restore(was_on);
}

/// The external interrupt (vector 0x500): accepts it, and if it is the
/// IPI clears it and answers this CPU's mailboxes.
pub fn on_external_interrupt() {
    let me = this_cpu();
    // SAFETY: H_XIRR only returns the accepted XIRR in r4.
    let (status, xirr) = unsafe { hcall_r4(H_XIRR, [0; 6]) };
    let source = xirr & 0x00ff_ffff;
    if status == 0 && source == XICS_IPI {
        // Clear before reading the mailboxes: a post after this raises a
        // new IPI, one before it is seen below.
        // SAFETY: as in `xics_open`.
        unsafe { hcall(H_IPI, [server(me), PRIORITY_LEAST, 0, 0, 0, 0]) };
        fence(Ordering::SeqCst);
    }
    answer(me);
    if status == 0 && source != 0 {
        // SAFETY: H_EOI reads only its register argument.
        unsafe { hcall(H_EOI, [xirr & 0xffff_ffff, 0, 0, 0, 0, 0]) };
    }
}

/// Starts every secondary and waits until each idles.
///
/// # Errors
/// RTAS refused to start one.
pub fn start_secondaries() -> Result<(), &'static str> {
    for cpu in 1..cpu_count() {
        online(cpu)?;
    }
    Ok(())
}

/// Rust entry of a secondary, from `hwb_secondary_entry` on its own stack.
#[no_mangle]
pub extern "C" fn hwb_secondary_start(cpu: u64) -> ! {
    let me = cpu as usize;
    // SAFETY: this CPU's area, set up by `init`; nothing before this point
    // can take an exception (MSR[EE] and MSR[SE] are off).
    unsafe { crate::entry::set_exception_area(exception_area(me)) };
    if this_cpu() != me {
        println!("cpu {me}: PIR {:#x} is not its server", mfpir());
        firmware::os_term(c"hwbreak: secondary started with a wrong index");
    }
    xics_open(me);
    // Open before `cpu_online`: an update published after the registry
    // loaded this CPU reaches it by cross-call.
    open_mailboxes(me);
    if let Err(e) = REGISTRY.cpu_online() {
        println!("cpu {me}: cpu_online failed: {e}");
        firmware::os_term(c"hwbreak: secondary bring-up failed");
    }
    MAILBOXES.state[me].store(IDLE, Ordering::Release);
    idle(me)
}

/// The idle loop: runs posted work, goes down when asked, else cedes the
/// thread until an interrupt.
fn idle(me: usize) -> ! {
    let m = &MAILBOXES;
    loop {
        interrupts_off();
        match m.state[me].load(Ordering::Acquire) {
            WORK => {
                let work = m.work[me].load(Ordering::Relaxed);
                let arg = m.work_arg[me].load(Ordering::Relaxed);
                m.state[me].store(RUNNING, Ordering::Relaxed);
                // SAFETY: `spawn` stored a `Work` here before WORK.
                let work: Work = unsafe { core::mem::transmute::<usize, Work>(work) };
                interrupts_on();
                work(arg);
                m.state[me].store(IDLE, Ordering::Release);
            }
            GOING_DOWN => go_down(me),
            _ => {
                // SAFETY: H_CEDE turns MSR[EE] on and returns after an
                // interrupt (a pending one returns at once), so a post
                // made since the check above is not slept through.
                unsafe { hcall(H_CEDE, [0; 6]) };
            }
        }
    }
}

/// Takes this CPU down (interrupts off): closes its mailboxes, leaves the
/// registry, stops in RTAS.
fn go_down(me: usize) -> ! {
    let m = &MAILBOXES;
    for slot in &m.calls[me] {
        while slot
            .compare_exchange(EMPTY, CLOSED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            answer_calls(me);
        }
    }
    while m.stop[me]
        .compare_exchange(RUN, CLOSED, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        answer(me);
    }
    if let Err(e) = REGISTRY.cpu_offline() {
        println!("cpu {me}: cpu_offline failed: {e}");
        firmware::os_term(c"hwbreak: cpu_offline failed");
    }
    // SAFETY: H_CPPR reads only its register argument; 0 masks every
    // interrupt of this thread while it is stopped.
    unsafe { hcall(H_CPPR, [0, 0, 0, 0, 0, 0]) };
    m.state[me].store(OFFLINE, Ordering::Release);
    // SAFETY: interrupts are off; the stack is not used again (a restart
    // enters at the top of it).
    unsafe { firmware::stop_self() }
}

/// Checks that `cpu` is a secondary other than the caller.
fn other_secondary(cpu: u32) -> Result<usize, &'static str> {
    let cpu = cpu as usize;
    if cpu >= cpu_count() as usize {
        Err("no such CPU")
    } else if cpu == this_cpu() {
        Err("the calling CPU")
    } else if cpu == 0 {
        Err("the boot CPU")
    } else {
        Ok(cpu)
    }
}

fn not_idle(state: u32) -> &'static str {
    if state == OFFLINE {
        "CPU offline"
    } else {
        "CPU busy"
    }
}

/// Brings `cpu` up by RTAS `start-cpu` and waits until it idles.
fn online(cpu: u32) -> Result<(), &'static str> {
    let cpu = cpu as usize;
    if cpu >= cpu_count() as usize {
        return Err("no such CPU");
    }
    let m = &MAILBOXES;
    m.state[cpu]
        .compare_exchange(OFFLINE, STARTING, Ordering::AcqRel, Ordering::Relaxed)
        .map_err(|_| "CPU already online")?;
    let status = firmware::start_cpu(
        server(cpu) as u32,
        crate::entry::secondary_entry(),
        cpu as u64,
    );
    if status != 0 {
        m.state[cpu].store(OFFLINE, Ordering::Release);
        return Err("RTAS start-cpu failed");
    }
    let was_on = interrupts_off();
    wait_until(this_cpu(), || m.state[cpu].load(Ordering::Acquire) == IDLE);
    interrupts_restore(was_on);
    Ok(())
}

/// Whether `cpu` takes part in cross-CPU calls and round-ups: brought up
/// (its mailboxes open) and not gone down.
#[cfg(feature = "gdb")]
pub fn is_online(cpu: usize) -> bool {
    cpu < cpu_count() as usize && MAILBOXES.stop[cpu].load(Ordering::Acquire) != CLOSED
}

/// Whether `cpu` owns the round-up (it stopped the others and has not
/// released them).
#[cfg(feature = "gdb")]
pub fn stopped_by(cpu: usize) -> bool {
    MAILBOXES.roundup_owner.load(Ordering::Acquire) == cpu as u32
}

/// The board's [`hwbreak_suite::Smp`].
pub struct PseriesSmp;

impl hwbreak_suite::Smp for PseriesSmp {
    fn cpu_count(&self) -> u32 {
        cpu_count()
    }

    fn spawn(&self, cpu: u32, work: Work, arg: usize) -> Result<(), &'static str> {
        let cpu = other_secondary(cpu)?;
        let m = &MAILBOXES;
        m.state[cpu]
            .compare_exchange(IDLE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            .map_err(not_idle)?;
        m.work[cpu].store(work as usize, Ordering::Relaxed);
        m.work_arg[cpu].store(arg, Ordering::Relaxed);
        m.state[cpu].store(WORK, Ordering::Release);
        send_ipi(cpu);
        Ok(())
    }

    fn is_idle(&self, cpu: u32) -> bool {
        (cpu as usize) < MAX_CPUS && MAILBOXES.state[cpu as usize].load(Ordering::Acquire) == IDLE
    }

    fn offline(&self, cpu: u32) -> Result<(), &'static str> {
        let cpu = other_secondary(cpu)?;
        let m = &MAILBOXES;
        m.state[cpu]
            .compare_exchange(IDLE, GOING_DOWN, Ordering::AcqRel, Ordering::Relaxed)
            .map_err(not_idle)?;
        send_ipi(cpu);
        let was_on = interrupts_off();
        let me = this_cpu();
        wait_until(me, || m.state[cpu].load(Ordering::Acquire) == OFFLINE);
        // It has left the kernel; wait until RTAS has it stopped, so that
        // `start-cpu` can restart it.
        let stopped = loop {
            match firmware::query_cpu_stopped_state(server(cpu) as u32) {
                Ok(0) => break Ok(()),
                Ok(_) => answer(me),
                Err(_) => break Err("RTAS query-cpu-stopped-state failed"),
            }
        };
        interrupts_restore(was_on);
        stopped
    }

    fn online(&self, cpu: u32) -> Result<(), &'static str> {
        online(cpu)
    }

    fn stop_others(&self) {
        let was_on = interrupts_off();
        let me = this_cpu();
        let m = &MAILBOXES;
        while m
            .roundup_owner
            .compare_exchange(NO_OWNER, me as u32, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            answer(me);
            core::hint::spin_loop();
        }
        let mut stopped = 0u32;
        for cpu in (0..cpu_count() as usize).filter(|&c| c != me) {
            if m.stop[cpu]
                .compare_exchange(RUN, STOP_REQUESTED, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                stopped |= 1 << cpu;
                send_ipi(cpu);
            }
        }
        for cpu in (0..MAX_CPUS).filter(|&c| stopped & (1 << c) != 0) {
            while m.stop[cpu].load(Ordering::Acquire) != STOP_ARRIVED {
                answer_calls(me);
                core::hint::spin_loop();
            }
        }
        m.stopped.store(stopped, Ordering::Relaxed);
        interrupts_restore(was_on);
    }

    fn resume_others(&self) {
        let m = &MAILBOXES;
        if m.roundup_owner.load(Ordering::Relaxed) != this_cpu() as u32 {
            return;
        }
        let stopped = m.stopped.swap(0, Ordering::Relaxed);
        for cpu in (0..MAX_CPUS).filter(|&c| stopped & (1 << c) != 0) {
            m.stop[cpu].store(RUN, Ordering::Release);
        }
        m.roundup_owner.store(NO_OWNER, Ordering::Release);
    }
}
