//! Four CPUs: start and stop through PSCI, cross-CPU calls and the
//! debugger's round-up through GICv2 SGIs, and the suite's
//! [`Smp`](hwbreak_suite::Smp) services.
//!
//! # CPUs
//! CPU n is the one whose MPIDR_EL1 has Aff1 = n / 8 and Aff0 = n % 8:
//! QEMU `virt` numbers its CPUs that way with a GICv2 (clusters of 8), so
//! here (at most [`CPUS`] = 4) MPIDR = n. At boot the boot CPU asks PSCI
//! `AFFINITY_INFO` about CPUs 1, 2, ... until it answers "no such CPU"
//! (or [`CPUS`] is reached): that is the count the registry serves.
//!
//! # Bring-up
//! [`online`] calls PSCI `CPU_ON` with `_secondary_start` (boot.rs) as entry
//! point and the CPU number as context id. QEMU resets the core first, so it
//! starts with its debug registers, MDSCR_EL1 and the OS lock in their reset
//! state. `_secondary_start` sets its own stacks and the vectors; then
//! `hwbreak_secondary_main` unmasks debug exceptions (PSTATE.D), enables
//! its GIC CPU interface, joins the cross-CPU calls, calls the registry's
//! `cpu_online` (which writes every slot from the tables and, once one is
//! armed, clears the OS lock and sets MDSCR_EL1.MDE/KDE), unmasks
//! interrupts and idles in `wfi`.
//!
//! It joins the calls *before* `cpu_online`: an update whose cross-call
//! did not include it committed its tables before that call read the
//! online set, so `cpu_online`, later, loads them; an update whose call
//! includes it reaches it once it unmasks interrupts, and its `refresh`
//! then runs after `cpu_online`. Either way no update is missed.
//!
//! # Cross-CPU calls ([`run_on_each_cpu`])
//! One call at a time, system-wide: the caller takes the call lock, posts
//! its function in one mailbox with the set of CPUs that must run it (the
//! online CPUs but itself), sends them the mailbox SGI, runs the function
//! itself and waits until every target has cleared its bit; all of it with
//! its interrupts masked. A target's IRQ handler runs the function with
//! interrupts masked (exception entry masks them) and clears its bit; the
//! last one sends the caller an SGI, which ends the caller's `wfi`.
//!
//! Why this cannot deadlock: every loop in this module that waits for
//! another CPU to do something (for the call lock, for the round-up's
//! owner, for a hotplug step) runs with interrupts masked and *polls* both
//! requests another CPU may be waiting on: a call posted to this CPU (it
//! runs it) and a stop request (it enters the stop loop). So a CPU never
//! waits for a CPU that is itself waiting on it. The caller of a call,
//! which holds the call lock, can receive neither (both need the lock), so
//! it only sleeps. The one lock no loop polls in is the critical section
//! (platform.rs): it is only ever held for bounded work that waits for no
//! other CPU. The registry never calls [`run_on_each_cpu`] inside its
//! critical section, and nothing in this board does either.
//!
//! # Round-up ([`stop_others`], [`resume_others`])
//! The stopper takes the round-up (one at a time; a second stopper is
//! stopped by the first while it waits) and the call lock, which it keeps
//! until [`resume_others`]: no call is in flight then, none starts but the
//! stopper's own, and the online set stays as it read it. It asks every
//! other online CPU to stop, sends them the SGI and waits until all are in
//! the stop loop, where they spin with interrupts masked. Whatever they were
//! doing (a registration waiting for the call lock included) is frozen,
//! but they still answer the stopper's cross-CPU calls, so a debugger with
//! the world stopped may update breakpoints through the registry's normal
//! path as well as its lockless one (a stopped CPU never holds the critical
//! section: it masks interrupts and never waits). Released, each CPU calls
//! the registry's `refresh` (for the lockless path's changes) before it
//! returns to what it was doing; [`resume_others`] returns once all have.
//! A CPU coming online waits for the call lock, so it joins after the
//! round-up; [`online`] and [`offline`] refuse to run on the stopper.
//!
//! # Hotplug ([`offline`], [`online`])
//! [`offline`] marks the idle CPU going down and wakes it; it leaves the
//! cross-CPU calls itself (under the call lock, so no call is in flight to
//! it afterwards and every earlier one has been answered), calls the
//! registry's `cpu_offline`, disables its GIC CPU interface and calls PSCI
//! `CPU_OFF`. [`offline`] returns when PSCI `AFFINITY_INFO` reports it off.
//!
//! Memory: the MMU is off, so under QEMU every access is to (its model of)
//! device memory, where QEMU still implements exclusives and barriers; a
//! kernel on hardware would enable the MMU before using atomics.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

#[cfg(not(feature = "gdb"))]
use hwbreak_suite::Smp;
use hwbreak_suite::Work;

use crate::gic;
use crate::psci;
use crate::{kprintln, CPUS, REGISTRY};

/// No CPU (free locks, no round-up).
const NONE: u32 = u32::MAX;

/// Powered off (or never started).
const OFF: u32 = 0;
/// `CPU_ON` sent, bring-up not finished.
const BOOTING: u32 = 1;
/// Online, in the idle loop.
const IDLE: u32 = 2;
/// A spawner is filling in the work.
const CLAIMED: u32 = 3;
/// Running spawned work (the boot CPU: the kernel's main).
const BUSY: u32 = 4;
/// Told to go offline.
const GOING_DOWN: u32 = 5;
/// Left the cross-CPU calls and the registry; about to call `CPU_OFF`.
const DOWN: u32 = 6;

/// Each CPU's life-cycle state (the constants above).
static STATE: [AtomicU32; CPUS] = [const { AtomicU32::new(OFF) }; CPUS];
/// Spawned work: the `Work` function's address and its argument.
static WORK: [(AtomicUsize, AtomicUsize); CPUS] =
    [const { (AtomicUsize::new(0), AtomicUsize::new(0)) }; CPUS];
/// CPUs the boot CPU found (1 until [`init_boot_cpu`]).
static COUNT: AtomicU32 = AtomicU32::new(1);

/// CPUs receiving cross-CPU calls (bit n: CPU n). Changed under the call
/// lock only.
static ONLINE: AtomicU32 = AtomicU32::new(0);
/// The CPU making a cross-CPU call, or [`NONE`].
static CALL_LOCK: AtomicU32 = AtomicU32::new(NONE);
/// The call in flight: the address of the caller's [`CrossCall`].
static CALL: AtomicUsize = AtomicUsize::new(0);
/// CPUs that still have to run the call in flight.
static CALL_PENDING: AtomicU32 = AtomicU32::new(0);

/// The CPU that stopped the others, or [`NONE`].
static STOP_OWNER: AtomicU32 = AtomicU32::new(NONE);
/// CPUs asked to stop and not yet released.
static STOP_REQUESTED: AtomicU32 = AtomicU32::new(0);
/// CPUs in the stop loop.
static STOPPED: AtomicU32 = AtomicU32::new(0);

/// A cross-CPU call, on the caller's stack while it waits.
struct CrossCall<'a> {
    f: &'a (dyn Fn() + Sync),
}

fn bit(cpu: u32) -> u32 {
    1 << cpu
}

/// The MPIDR_EL1 value of CPU `cpu` on QEMU `virt` with a GICv2.
pub fn mpidr_of(cpu: u32) -> u64 {
    u64::from(cpu / 8) << 8 | u64::from(cpu % 8)
}

/// The current CPU's number, from MPIDR_EL1 (see the module docs).
pub fn current_cpu() -> u32 {
    let mpidr: u64;
    // SAFETY: reads MPIDR_EL1, no side effect.
    unsafe {
        core::arch::asm!("mrs {0}, mpidr_el1", out(reg) mpidr, options(nomem, nostack, preserves_flags))
    };
    let aff0 = (mpidr & 0xff) as u32;
    let aff1 = ((mpidr >> 8) & 0xff) as u32;
    aff1 * 8 + aff0
}

/// CPUs found at boot.
pub fn cpu_count() -> u32 {
    COUNT.load(Ordering::Relaxed)
}

/// Masks IRQ and FIQ; returns the DAIF value to give [`irq_restore`].
pub fn irq_save() -> u64 {
    let daif: u64;
    // SAFETY: reads DAIF and masks IRQ/FIQ; no memory effect.
    unsafe {
        core::arch::asm!("mrs {0}, daif", "msr daifset, #3", out(reg) daif, options(nomem, nostack, preserves_flags))
    };
    daif
}

/// Unmasks IRQ and FIQ if `daif` (from [`irq_save`]) had them unmasked.
/// Only I (bit 7) and F (bit 6) are restored: D may have changed meanwhile
/// (debug bring-up) and stays as it is.
pub fn irq_restore(daif: u64) {
    if daif & (1 << 7) == 0 {
        // SAFETY: unmasks IRQs, which were unmasked when `daif` was read.
        unsafe { core::arch::asm!("msr daifclr, #2", options(nomem, nostack, preserves_flags)) };
    }
    if daif & (1 << 6) == 0 {
        // SAFETY: unmasks FIQs, which were unmasked when `daif` was read.
        unsafe { core::arch::asm!("msr daifclr, #1", options(nomem, nostack, preserves_flags)) };
    }
}

fn irq_enable() {
    // SAFETY: unmasks IRQs in the kernel's own context; the vectors handle
    // them (`on_irq`).
    unsafe { core::arch::asm!("msr daifclr, #2", options(nomem, nostack, preserves_flags)) };
}

/// Runs the call in flight if `me` is one of its targets. Interrupts
/// masked (the IRQ handler and the polling loops must not both run it).
fn answer_call(me: u32) {
    if CALL_PENDING.load(Ordering::Acquire) & bit(me) == 0 {
        return;
    }
    // SAFETY: the caller published a live `CrossCall` before setting our
    // bit (Release/Acquire on CALL_PENDING) and keeps it alive until every
    // bit is clear; ours is cleared only after the call.
    let call = unsafe { &*(CALL.load(Ordering::Relaxed) as *const CrossCall<'_>) };
    (call.f)();
    let caller = CALL_LOCK.load(Ordering::Relaxed);
    // The last one to answer wakes the caller from its `wfi`.
    if CALL_PENDING.fetch_and(!bit(me), Ordering::AcqRel) == bit(me) && caller != NONE {
        gic::send_mailbox_sgi(bit(caller));
    }
}

/// Sleeps until an interrupt is pending, then acknowledges and ends it
/// (interrupts masked: it is not taken). Every SGI here means "look at your
/// mailboxes", which the caller's loop does next. A sleeping vCPU leaves
/// its host thread idle, where a spinning one competes with the CPUs it
/// waits for (QEMU's TCG does not yield the host thread for `wfe` or
/// `yield`).
fn sleep_masked() {
    // SAFETY: waits for an interrupt; no memory effect.
    unsafe { core::arch::asm!("wfi", options(nomem, nostack, preserves_flags)) };
    let (iar, id) = gic::acknowledge();
    if id < gic::SPECIAL_IDS {
        gic::end(iar);
    }
}

/// Enters the stop loop if `me` was asked to stop. Interrupts masked.
fn answer_stop(me: u32) {
    if STOP_REQUESTED.load(Ordering::Acquire) & bit(me) == 0 {
        return;
    }
    STOPPED.fetch_or(bit(me), Ordering::AcqRel);
    // The stopper may update breakpoints through the normal path (its
    // cross-CPU calls reach us here) or the lockless one. It sends an SGI
    // with each call and after the release.
    while STOP_REQUESTED.load(Ordering::Acquire) & bit(me) != 0 {
        answer_call(me);
        if STOP_REQUESTED.load(Ordering::Acquire) & bit(me) != 0 {
            sleep_masked();
        }
    }
    // What the lockless path changed reaches us only here.
    REGISTRY.refresh();
    STOPPED.fetch_and(!bit(me), Ordering::Release);
}

/// One turn of a loop waiting for another CPU (interrupts masked): answer
/// what other CPUs may be waiting on.
fn relax(me: u32) {
    answer_call(me);
    answer_stop(me);
    core::hint::spin_loop();
}

/// Spins until `done()`, answering calls and stops, interrupts masked.
fn wait_until(me: u32, done: impl Fn() -> bool) {
    let daif = irq_save();
    while !done() {
        relax(me);
    }
    irq_restore(daif);
}

/// Takes the call lock. Interrupts masked.
fn lock_calls(me: u32) {
    while CALL_LOCK
        .compare_exchange_weak(NONE, me, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        relax(me);
    }
}

fn unlock_calls() {
    CALL_LOCK.store(NONE, Ordering::Release);
}

/// [`Platform::run_on_each_cpu`](hwbreak::Platform::run_on_each_cpu): runs
/// `f` on every online CPU, this one included, interrupts masked on each,
/// and returns when all have run it (see the module docs).
pub fn run_on_each_cpu(f: &(dyn Fn() + Sync)) {
    let daif = irq_save();
    let me = current_cpu();
    // A stopper holds the call lock until it resumes the others, and makes
    // its own calls under it.
    let stopper = CALL_LOCK.load(Ordering::Relaxed) == me;
    if !stopper {
        lock_calls(me);
    }
    let targets = ONLINE.load(Ordering::Relaxed) & !bit(me);
    let call = CrossCall { f };
    if targets != 0 {
        CALL.store(&call as *const CrossCall<'_> as usize, Ordering::Relaxed);
        CALL_PENDING.store(targets, Ordering::Release);
        gic::send_mailbox_sgi(targets);
    }
    f();
    while CALL_PENDING.load(Ordering::Acquire) != 0 {
        // Nothing can be posted to us (we hold the lock), and no round-up
        // can start (it needs the lock). The last target to answer sends
        // us an SGI: sleep until it comes.
        sleep_masked();
    }
    CALL.store(0, Ordering::Relaxed);
    if targets != 0 {
        gic::drain();
    }
    if !stopper {
        unlock_calls();
    }
    irq_restore(daif);
}

/// The mailbox SGI's handler (IRQ vector, interrupts masked).
pub fn on_irq() {
    let (iar, id) = gic::acknowledge();
    if id >= gic::SPECIAL_IDS {
        return;
    }
    // End it first: an SGI sent while we look at the mailboxes is then
    // pending again and taken after `eret`, never lost.
    gic::end(iar);
    if id != gic::SGI_MAILBOX {
        kprintln!("unexpected interrupt {} on CPU {}", id, current_cpu());
        crate::exit(false);
    }
    let me = current_cpu();
    answer_call(me);
    answer_stop(me);
}

/// Joins the cross-CPU calls (after a round-up in progress: the stopper
/// holds the call lock). Interrupts masked.
fn join_calls(me: u32) {
    lock_calls(me);
    ONLINE.fetch_or(bit(me), Ordering::Relaxed);
    unlock_calls();
}

/// Leaves the cross-CPU calls. Interrupts masked.
fn leave_calls(me: u32) {
    // A round-up holds the call lock: we are stopped here, or leave
    // before it reads the online set.
    lock_calls(me);
    ONLINE.fetch_and(!bit(me), Ordering::Relaxed);
    unlock_calls();
}

/// The boot CPU's part, first thing in `main`: finds the CPUs, enables the
/// GIC and joins the cross-CPU calls, then unmasks interrupts. Fails (exits
/// QEMU) if PSCI or the stack layout is not what this board expects.
pub fn init_boot_cpu() {
    extern "C" {
        static __max_cpus: u8;
    }
    // An absolute linker symbol: its address is its value.
    let linked = (&raw const __max_cpus) as usize;
    if linked != CPUS {
        kprintln!(
            "linker.ld lays out stacks for {} CPUs, the kernel serves {}",
            linked,
            CPUS
        );
        crate::exit(false);
    }
    let (major, minor) = psci::version();
    if (major, minor) < (0, 2) {
        kprintln!(
            "PSCI {}.{}: CPU_ON/CPU_OFF/AFFINITY_INFO need 0.2 or later",
            major,
            minor
        );
        crate::exit(false);
    }
    let mut count = 1;
    while (count as usize) < CPUS && psci::affinity_info(mpidr_of(count)) >= 0 {
        count += 1;
    }
    COUNT.store(count, Ordering::Relaxed);
    gic::init_distributor();
    gic::init_cpu();
    STATE[0].store(BUSY, Ordering::Relaxed);
    ONLINE.store(bit(0), Ordering::Release);
    kprintln!("smp: PSCI {}.{} (hvc), GICv2, {} CPUs", major, minor, count);
    irq_enable();
}

/// Starts every secondary found at boot (after the registry's `init`).
pub fn start_secondaries() {
    for cpu in 1..cpu_count() {
        if let Err(e) = online(cpu) {
            kprintln!("smp: CPU {} did not come up: {}", cpu, e);
            crate::exit(false);
        }
    }
    kprintln!("smp: {} CPUs online", cpu_count());
}

/// A secondary's Rust entry (from `_secondary_start`, stacks and vectors
/// set, interrupts and debug exceptions masked as at reset).
#[no_mangle]
extern "C" fn hwbreak_secondary_main(cpu: u64) -> ! {
    let me = cpu as u32;
    if me != current_cpu() {
        kprintln!("smp: CPU {} started with context id {}", current_cpu(), cpu);
        crate::exit(false);
    }
    // SAFETY: EL1, this CPU's vectors are installed (boot.rs).
    unsafe { hwbreak_aarch64::cpu::unmask_debug_exceptions() };
    gic::init_cpu();
    join_calls(me);
    if let Err(e) = REGISTRY.cpu_online() {
        kprintln!("smp: cpu_online on CPU {} failed: {}", me, e);
        crate::exit(false);
    }
    STATE[me as usize].store(IDLE, Ordering::Release);
    irq_enable();
    idle(me)
}

/// A secondary's idle loop: spawned work, going offline, else `wfi`.
fn idle(me: u32) -> ! {
    let state = &STATE[me as usize];
    loop {
        // Check and sleep with interrupts masked: an SGI arriving between
        // the check and `wfi` stays pending and ends the `wfi` (pending
        // interrupts wake it even masked); unmasked, it would be taken
        // before `wfi` and the CPU would sleep through the request.
        let daif = irq_save();
        match state.load(Ordering::Acquire) {
            BUSY => {
                irq_restore(daif);
                let (f, arg) = &WORK[me as usize];
                // SAFETY: `spawn` stored a `Work` function's address before
                // publishing BUSY (Release/Acquire on the state).
                let work: Work = unsafe { core::mem::transmute(f.load(Ordering::Relaxed)) };
                work(arg.load(Ordering::Relaxed));
                state.store(IDLE, Ordering::Release);
            }
            GOING_DOWN => go_down(me),
            _ => {
                // SAFETY: waits for an interrupt; no memory effect.
                unsafe { core::arch::asm!("wfi", options(nomem, nostack, preserves_flags)) };
                irq_restore(daif);
            }
        }
    }
}

/// The CPU's own part of going offline (interrupts masked).
fn go_down(me: u32) -> ! {
    leave_calls(me);
    if let Err(e) = REGISTRY.cpu_offline() {
        kprintln!("smp: cpu_offline on CPU {} failed: {}", me, e);
        crate::exit(false);
    }
    gic::disable_cpu();
    STATE[me as usize].store(DOWN, Ordering::Release);
    let e = psci::cpu_off();
    kprintln!("smp: PSCI CPU_OFF refused on CPU {}: {}", me, e);
    crate::exit(false)
}

/// The caller's number, if `cpu` is another CPU this machine has.
fn check_other(cpu: u32) -> Result<u32, &'static str> {
    let me = current_cpu();
    if cpu >= cpu_count() {
        return Err("no such CPU");
    }
    if cpu == me {
        return Err("the CPU is the caller");
    }
    Ok(me)
}

/// As [`check_other`], and the caller has not stopped the others (the
/// CPU it would wait for could not come up or go down).
fn check_hotplug(cpu: u32) -> Result<u32, &'static str> {
    let me = check_other(cpu)?;
    if STOP_OWNER.load(Ordering::Acquire) == me {
        return Err("the other CPUs are stopped");
    }
    Ok(me)
}

/// Starts `work(arg)` on the idle secondary `cpu` ([`Smp::spawn`]).
pub fn spawn(cpu: u32, work: Work, arg: usize) -> Result<(), &'static str> {
    check_other(cpu)?;
    let state = &STATE[cpu as usize];
    state
        .compare_exchange(IDLE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
        .map_err(|_| "the CPU is offline or busy")?;
    let (f, a) = &WORK[cpu as usize];
    f.store(work as *const () as usize, Ordering::Relaxed);
    a.store(arg, Ordering::Relaxed);
    state.store(BUSY, Ordering::Release);
    gic::send_mailbox_sgi(bit(cpu));
    Ok(())
}

/// Whether `cpu` receives cross-CPU calls (brought up, not going down).
#[cfg(feature = "gdb")]
pub fn is_online(cpu: u32) -> bool {
    cpu < 32 && ONLINE.load(Ordering::Acquire) & bit(cpu) != 0
}

/// Whether `cpu` is online and idle ([`Smp::is_idle`]).
pub fn is_idle(cpu: u32) -> bool {
    (cpu as usize) < CPUS && STATE[cpu as usize].load(Ordering::Acquire) == IDLE
}

/// Takes the idle secondary `cpu` down ([`Smp::offline`]).
#[cfg(not(feature = "gdb"))]
pub fn offline(cpu: u32) -> Result<(), &'static str> {
    if cpu == 0 {
        return Err("the boot CPU stays online");
    }
    let me = check_hotplug(cpu)?;
    STATE[cpu as usize]
        .compare_exchange(IDLE, GOING_DOWN, Ordering::AcqRel, Ordering::Relaxed)
        .map_err(|_| "the CPU is offline or busy")?;
    gic::send_mailbox_sgi(bit(cpu));
    wait_until(me, || STATE[cpu as usize].load(Ordering::Acquire) == DOWN);
    wait_until(me, || {
        psci::affinity_info(mpidr_of(cpu)) == psci::AFFINITY_OFF
    });
    STATE[cpu as usize].store(OFF, Ordering::Release);
    Ok(())
}

/// Brings `cpu` back ([`Smp::online`]); also how the boot CPU starts the
/// secondaries.
pub fn online(cpu: u32) -> Result<(), &'static str> {
    let me = check_hotplug(cpu)?;
    STATE[cpu as usize]
        .compare_exchange(OFF, BOOTING, Ordering::AcqRel, Ordering::Relaxed)
        .map_err(|_| "the CPU is online")?;
    extern "C" {
        fn _secondary_start();
    }
    let entry = _secondary_start as *const () as u64;
    if psci::cpu_on(mpidr_of(cpu), entry, u64::from(cpu)).is_err() {
        STATE[cpu as usize].store(OFF, Ordering::Release);
        return Err("PSCI CPU_ON refused");
    }
    wait_until(me, || STATE[cpu as usize].load(Ordering::Acquire) == IDLE);
    Ok(())
}

/// Whether `cpu` holds the round-up.
#[cfg(feature = "gdb")]
pub fn stopped_by(cpu: u32) -> bool {
    STOP_OWNER.load(Ordering::Acquire) == cpu
}

/// Stops every other online CPU ([`Smp::stop_others`]) and keeps the call
/// lock until [`resume_others`].
pub fn stop_others() {
    let daif = irq_save();
    let me = current_cpu();
    // A second stopper is stopped by the first while it waits here.
    while STOP_OWNER
        .compare_exchange_weak(NONE, me, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        relax(me);
    }
    // With the lock, no call is in flight and none starts but ours; the
    // online set stays as read.
    lock_calls(me);
    let targets = ONLINE.load(Ordering::Relaxed) & !bit(me);
    STOP_REQUESTED.store(targets, Ordering::Release);
    gic::send_mailbox_sgi(targets);
    while STOPPED.load(Ordering::Acquire) & targets != targets {
        core::hint::spin_loop();
    }
    irq_restore(daif);
}

/// Releases the CPUs [`stop_others`] stopped and waits until each has
/// refreshed its registers and left the stop loop, then gives the call
/// lock back ([`Smp::resume_others`]). Does nothing if this CPU did not
/// stop them.
pub fn resume_others() {
    let me = current_cpu();
    if STOP_OWNER.load(Ordering::Acquire) != me {
        return;
    }
    let targets = STOP_REQUESTED.swap(0, Ordering::AcqRel);
    gic::send_mailbox_sgi(targets);
    while STOPPED.load(Ordering::Acquire) & targets != 0 {
        core::hint::spin_loop();
    }
    unlock_calls();
    STOP_OWNER.store(NONE, Ordering::Release);
}

/// The suite's view of these services.
#[cfg(not(feature = "gdb"))]
pub struct VirtSmp;

#[cfg(not(feature = "gdb"))]
impl Smp for VirtSmp {
    fn cpu_count(&self) -> u32 {
        cpu_count()
    }

    fn spawn(&self, cpu: u32, work: Work, arg: usize) -> Result<(), &'static str> {
        spawn(cpu, work, arg)
    }

    fn is_idle(&self, cpu: u32) -> bool {
        is_idle(cpu)
    }

    fn offline(&self, cpu: u32) -> Result<(), &'static str> {
        offline(cpu)
    }

    fn online(&self, cpu: u32) -> Result<(), &'static str> {
        online(cpu)
    }

    fn stop_others(&self) {
        stop_others()
    }

    fn resume_others(&self) {
        resume_others()
    }
}
