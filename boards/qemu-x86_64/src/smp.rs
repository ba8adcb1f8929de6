//! Four CPUs: start-up, cross-CPU calls, work for the suite, hotplug and
//! a debugger's round-up.
//!
//! # CPU list
//! The machine's fixed layout: QEMU numbers the x2APIC ids of `-smp N`
//! `0..N` (one thread per core, one core per socket), the boot CPU is 0,
//! and CPU number = APIC id. The count is QEMU's: fw_cfg item
//! `FW_CFG_NB_CPUS` (selector port 0x510, data port 0x511), capped at
//! [`MAX_CPUS`] (the registry's capacity; CPUs past it stay parked). Each
//! secondary checks at bring-up that its APIC id is the number it was
//! started as.
//!
//! # Starting a CPU
//! [`start`]: the real-mode trampoline of `boot.rs` is copied to
//! [`boot::TRAMPOLINE`]; the caller writes the CPU's stack and number to
//! [`boot::AP_BOOT`] and sends INIT, then two startup IPIs (SDM Vol. 3A
//! §9.4.4; QEMU needs none of the delays real hardware asks for between
//! them). The CPU reaches `ap_rust`, which runs its whole bring-up: its
//! own GDT, TSS and IST stacks, the shared IDT, CR4.DE, x2APIC, then joins
//! cross-CPU calls and runs `cpu_online` (in that order: see below), and
//! idles. One CPU starts at a time (`AP_BOOT` is one record); the caller
//! returns once the CPU idles.
//!
//! # Cross-CPU calls ([`run_on_each_cpu`])
//! A mailbox per (caller, target) pair holds the address of the caller's
//! [`Call`] (on its stack). The caller, with interrupts off, posts it to
//! every other CPU in [`ONLINE`], sends each a doorbell IPI
//! ([`DOORBELL_VECTOR`]), runs the function itself, then waits until
//! every target has emptied its mailbox. A target runs every posted call
//! in its doorbell handler with interrupts off, then empties the mailbox.
//! Two CPUs may call at once: while it waits, a caller serves the calls
//! posted to itself (and a debugger's stop request), so two concurrent
//! callers each answer the other and neither waits forever. No IPI is
//! lost: the handler sends its EOI only after scanning the mailboxes, so
//! a doorbell sent during the scan is delivered again after it.
//!
//! # Joining and leaving cross-CPU calls
//! A CPU coming up sets its [`ONLINE`] bit *before* `cpu_online`: an
//! update that published new tables before the bit was set is loaded by
//! `cpu_online`; one published after reaches the CPU as a cross-call,
//! served once the CPU enables interrupts. A CPU going down clears its
//! bit, then serves its mailboxes one last time; a caller re-reads
//! [`ONLINE`] after posting and takes back the call of a CPU that left
//! meanwhile (a mailbox is taken by the target with a compare-exchange
//! to [`TAKEN`], so call and take-back never both happen).
//!
//! # Hotplug
//! [`offline`]: the CPU, told through its state word, leaves cross-CPU
//! calls, runs `cpu_offline`, says it is parked and halts with interrupts
//! off; the caller then sends it INIT, which resets its debug registers
//! (DR7 = 0x400): whatever it holds afterwards, `cpu_online` wrote.
//! [`online`] is [`start`] again.
//!
//! # Round-up
//! [`stop_others`]: the stopping CPU claims [`STOPPER`], rings every other
//! online CPU and waits until each has entered the stop loop (its doorbell
//! handler, or any wait loop of this module, enters it), spinning with
//! interrupts off. Stopped CPUs answer the stopping CPU's cross-CPU calls
//! (and only its), so a debugger with the world stopped may also use the
//! registry's normal path. [`resume_others`] releases them; each calls the
//! registry's `refresh` before it leaves the loop, and the caller returns
//! once all have left.
//!
//! # Deadlock rule
//! A CPU that holds (or spins for) the critical section has interrupts
//! off and serves no doorbell, so nothing may wait for another CPU while
//! holding it: the registry never calls `run_on_each_cpu` under its lock,
//! and this module never takes it. Every wait loop here serves the
//! caller's own mailboxes and stop requests, so waiting CPUs always answer
//! each other.

use core::arch::asm;
use core::sync::atomic::{fence, AtomicU32, AtomicU8, AtomicUsize, Ordering};

use crate::{apic, boot, cpu};

/// CPUs the kernel serves (the registry's capacity).
pub const MAX_CPUS: usize = 4;

/// The doorbell IPI: "look at your mailboxes, your work and stop
/// requests".
pub const DOORBELL_VECTOR: u8 = 0xf0;

/// Size of each secondary's kernel stack.
const KERNEL_STACK: usize = 64 * 1024;

/// The secondaries' kernel stacks (entry 0 unused: the boot CPU runs on
/// the boot stack).
static KERNEL_STACKS: cpu::Stacks<KERNEL_STACK> = cpu::Stacks::new();

/// CPUs brought up at boot (set once, before the registry's `init`).
static CPU_COUNT: AtomicU32 = AtomicU32::new(1);

/// Bit n: CPU n receives cross-CPU calls.
static ONLINE: AtomicU32 = AtomicU32::new(1);

/// A cross-CPU call, on its caller's stack while any mailbox names it.
struct Call<'a> {
    f: &'a (dyn Fn() + Sync),
}

/// A mailbox's value while its target runs the call.
const TAKEN: usize = 1;
/// `MAILBOXES[caller][target]`: 0 (empty), the address of the caller's
/// [`Call`] (posted) or [`TAKEN`].
static MAILBOXES: [[AtomicUsize; MAX_CPUS]; MAX_CPUS] =
    [const { [const { AtomicUsize::new(0) }; MAX_CPUS] }; MAX_CPUS];

/// What a CPU is doing, for `Smp` and hotplug.
mod state {
    /// Not running: never started, or reset by INIT after going offline.
    pub const DOWN: u8 = 0;
    /// Being started.
    pub const BOOTING: u8 = 1;
    /// Online, waiting for work.
    pub const IDLE: u8 = 2;
    /// A spawner is filling in the work.
    pub const CLAIMED: u8 = 3;
    /// Work is posted.
    pub const PENDING: u8 = 4;
    /// Running work (or the boot CPU, which is never idle).
    pub const RUNNING: u8 = 5;
    /// Told to go offline.
    pub const LEAVING: u8 = 6;
    /// Offline, halted with interrupts off, waiting for INIT.
    pub const PARKED: u8 = 7;
}

/// Per CPU: its state, the posted work and its argument.
struct Slot {
    state: AtomicU8,
    work: AtomicUsize,
    arg: AtomicUsize,
}

static SLOTS: [Slot; MAX_CPUS] = [const {
    Slot {
        state: AtomicU8::new(state::DOWN),
        work: AtomicUsize::new(0),
        arg: AtomicUsize::new(0),
    }
}; MAX_CPUS];

/// No CPU is stopping the others.
const NOBODY: u32 = u32::MAX;
/// The CPU that stopped the others, or [`NOBODY`].
static STOPPER: AtomicU32 = AtomicU32::new(NOBODY);
/// Bit n: CPU n is in the stop loop.
static STOPPED: AtomicU32 = AtomicU32::new(0);
/// The CPUs the current round-up waits for.
static STOP_TARGETS: AtomicU32 = AtomicU32::new(0);

/// Held while a CPU is being started (`boot::AP_BOOT` is one record).
static STARTING: AtomicU32 = AtomicU32::new(0);

/// The CPU the caller runs on (its x2APIC id).
pub fn current_cpu() -> usize {
    // SAFETY: every CPU enables x2APIC first thing in its bring-up.
    unsafe { apic::id() as usize }
}

/// CPUs brought up at boot.
pub fn cpu_count() -> u32 {
    CPU_COUNT.load(Ordering::Relaxed)
}

fn bit(cpu: usize) -> u32 {
    1 << cpu
}

/// Disables interrupts; whether they were enabled.
fn irq_save() -> bool {
    let flags: u64;
    // SAFETY: ring 0; saves RFLAGS then clears IF.
    unsafe { asm!("pushfq", "pop {}", "cli", out(reg) flags, options(preserves_flags)) };
    flags & (1 << 9) != 0
}

/// Re-enables interrupts if `enabled`.
fn irq_restore(enabled: bool) {
    if enabled {
        // SAFETY: ring 0; restores IF as `irq_save` found it.
        unsafe { asm!("sti", options(nomem, nostack)) };
    }
}

fn ring(cpu: usize) {
    // SAFETY: x2APIC is on (every CPU's bring-up), every CPU's IDT has the
    // doorbell's gate; a doorbell to a CPU that is not running is dropped.
    unsafe { apic::send_fixed(cpu as u32, DOORBELL_VECTOR) };
}

/// QEMU's CPU count (fw_cfg `FW_CFG_NB_CPUS`).
fn fw_cfg_cpus() -> u32 {
    const SELECTOR: u16 = 0x510;
    const DATA: u16 = 0x511;
    const NB_CPUS: u16 = 0x05;
    let (lo, hi): (u8, u8);
    // SAFETY: QEMU's fw_cfg I/O ports on microvm; selecting an item and
    // reading its bytes has no other effect.
    unsafe {
        asm!("out dx, ax", in("dx") SELECTOR, in("ax") NB_CPUS, options(nomem, nostack, preserves_flags));
        asm!("in al, dx", out("al") lo, in("dx") DATA, options(nomem, nostack, preserves_flags));
        asm!("in al, dx", out("al") hi, in("dx") DATA, options(nomem, nostack, preserves_flags));
    }
    u32::from(u16::from_le_bytes([lo, hi]))
}

/// Boot CPU: enables its x2APIC and reads the CPU count. Returns the
/// count, or why SMP cannot work here.
///
/// # Safety
/// Once, on the boot CPU, interrupts off, after `cpu::init_idt`, before
/// anything calls [`current_cpu`].
pub unsafe fn init_boot_cpu() -> Result<u32, &'static str> {
    if !apic::has_x2apic() {
        return Err("no x2APIC (CPUID.1:ECX.21)");
    }
    // SAFETY: forwarded to the caller; x2APIC exists.
    unsafe { apic::enable() };
    if current_cpu() != 0 {
        return Err("the boot CPU's APIC id is not 0");
    }
    // Masks the 8259 (firmware may have left it in virtual-wire mode):
    // no device interrupt may reach a kernel that only takes IPIs.
    // SAFETY: the 8259's interrupt mask registers.
    unsafe {
        crate::serial::outb(0x21, 0xff);
        crate::serial::outb(0xa1, 0xff);
    }
    let count = fw_cfg_cpus().clamp(1, MAX_CPUS as u32);
    CPU_COUNT.store(count, Ordering::Relaxed);
    SLOTS[0].state.store(state::RUNNING, Ordering::Relaxed);
    // The trampoline's page: copied once, reused by every start.
    let image = boot::trampoline_image();
    // SAFETY: conventional memory below 1 MiB, identity-mapped, used by
    // nothing else once the kernel runs; the image is a few hundred bytes.
    unsafe {
        core::ptr::copy_nonoverlapping(image.as_ptr(), boot::TRAMPOLINE as *mut u8, image.len());
    }
    Ok(count)
}

/// Starts every secondary, one after the other; returns once all idle.
pub fn start_secondaries() -> Result<(), &'static str> {
    for (cpu, slot) in SLOTS.iter().enumerate().take(cpu_count() as usize).skip(1) {
        slot.state.store(state::BOOTING, Ordering::Relaxed);
        start(cpu)?;
    }
    Ok(())
}

/// INIT-SIPI-SIPI to `cpu` (state [`state::BOOTING`]); returns once its
/// bring-up is done and it idles.
fn start(cpu: usize) -> Result<(), &'static str> {
    let me = current_cpu();
    let may_sleep = interrupts_enabled();
    wait(me, may_sleep, || {
        STARTING
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    });
    boot::AP_BOOT
        .stack_top
        .store(KERNEL_STACKS.top(cpu), Ordering::Relaxed);
    boot::AP_BOOT.cpu.store(cpu as u64, Ordering::Relaxed);
    let page = (boot::TRAMPOLINE >> 12) as u8;
    // SAFETY: `cpu` is down (BOOTING was set from DOWN by the caller); the
    // trampoline is at TRAMPOLINE; `send` fences the stores above.
    unsafe {
        apic::send_init(cpu as u32);
        apic::send_startup(cpu as u32, page);
        apic::send_startup(cpu as u32, page);
    }
    let slot = &SLOTS[cpu].state;
    wait(me, may_sleep, || {
        slot.load(Ordering::Acquire) != state::BOOTING
    });
    STARTING.store(0, Ordering::Release);
    wake_sleepers();
    match slot.load(Ordering::Acquire) {
        state::IDLE => Ok(()),
        _ => Err("the CPU failed its bring-up"),
    }
}

/// A secondary's bring-up, from the trampoline (`boot.rs`), on its own
/// kernel stack with interrupts off.
#[no_mangle]
extern "C" fn ap_rust(cpu: u64) -> ! {
    let cpu = cpu as usize;
    // SAFETY: this CPU's own bring-up, interrupts off, after the boot CPU
    // filled the IDT; x2APIC exists (the boot CPU checked the model).
    unsafe {
        cpu::init_cpu(cpu);
        hwbreak::native::regs::enable_debugging_extensions();
        apic::enable();
    }
    if current_cpu() != cpu {
        SLOTS[cpu].state.store(state::DOWN, Ordering::Release);
        wake_sleepers();
        park();
    }
    // Joins cross-CPU calls before loading its registers (see the module
    // documentation); calls posted meanwhile are served once interrupts
    // are on.
    ONLINE.fetch_or(bit(cpu), Ordering::SeqCst);
    let next = match crate::REG.cpu_online() {
        Ok(()) => state::IDLE,
        Err(_) => {
            leave_calls(cpu);
            state::DOWN
        }
    };
    SLOTS[cpu].state.store(next, Ordering::Release);
    wake_sleepers();
    if next != state::IDLE {
        park();
    }
    idle(cpu)
}

/// The secondary's idle loop: runs posted work with interrupts on, goes
/// offline when told, halts otherwise (a doorbell wakes it).
fn idle(me: usize) -> ! {
    let slot = &SLOTS[me];
    loop {
        // Interrupts off between the check and `hlt`: `sti; hlt` enables
        // them only once `hlt` waits, so no doorbell slips in between.
        irq_save();
        match slot.state.load(Ordering::Acquire) {
            state::PENDING => {
                slot.state.store(state::RUNNING, Ordering::Relaxed);
                let work = slot.work.load(Ordering::Relaxed);
                let arg = slot.arg.load(Ordering::Relaxed);
                // SAFETY: `spawn` stored a `Work` (a `fn(usize)`) before
                // publishing PENDING (Release; Acquire above).
                let work: hwbreak_suite::Work = unsafe { core::mem::transmute(work) };
                irq_restore(true);
                work(arg);
                slot.state.store(state::IDLE, Ordering::Release);
                wake_sleepers();
            }
            state::LEAVING => go_offline(me),
            // SAFETY: ring 0; waits for the next interrupt.
            _ => unsafe { asm!("sti", "hlt", options(nomem, nostack)) },
        }
    }
}

/// Stops receiving cross-CPU calls: clears the CPU's [`ONLINE`] bit,
/// then serves what was posted before (callers re-check the bit after
/// posting and take back what arrives later).
fn leave_calls(me: usize) {
    ONLINE.fetch_and(!bit(me), Ordering::SeqCst);
    serve_calls(me);
}

/// Offline: out of cross-CPU calls, the registry's `cpu_offline`, then
/// parked until the INIT `offline` sends.
fn go_offline(me: usize) -> ! {
    irq_save();
    leave_calls(me);
    // It can only fail if the registry is not initialised, which a
    // running secondary rules out; the caller's INIT resets the
    // registers anyway.
    let _ = crate::REG.cpu_offline();
    SLOTS[me].state.store(state::PARKED, Ordering::Release);
    wake_sleepers();
    park()
}

/// Halts with interrupts off for good (until INIT).
fn park() -> ! {
    loop {
        // SAFETY: ring 0; nothing but INIT (or NMI, never sent) leaves it.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}

/// The doorbell's handler (from `cpu.rs`'s `doorbell_entry`), interrupts
/// off.
#[no_mangle]
extern "C" fn doorbell_rust(frame: &mut cpu::Frame) {
    let me = current_cpu();
    #[cfg(feature = "gdb")]
    let outer = FRAMES[me].swap(frame, Ordering::AcqRel);
    #[cfg(not(feature = "gdb"))]
    let _ = frame;
    serve_calls(me);
    // SAFETY: in the handler of the fixed-vector doorbell; after the scan,
    // so a doorbell rung during it is delivered again.
    unsafe { apic::eoi() };
    enter_stop_if_asked(me);
    #[cfg(feature = "gdb")]
    FRAMES[me].store(outer, Ordering::Release);
}

/// Per CPU: the frame of the innermost exception or doorbell it is in (null
/// outside any), for the GDB stub to show a stopped CPU's registers.
#[cfg(feature = "gdb")]
pub static FRAMES: [core::sync::atomic::AtomicPtr<cpu::Frame>; MAX_CPUS] =
    [const { core::sync::atomic::AtomicPtr::new(core::ptr::null_mut()) }; MAX_CPUS];

/// Whether `cpu` receives cross-CPU calls (is online).
#[cfg(feature = "gdb")]
pub fn is_online(cpu: usize) -> bool {
    cpu < MAX_CPUS && ONLINE.load(Ordering::Acquire) & bit(cpu) != 0
}

/// Whether `cpu` holds the round-up (called [`stop_others`] and has not
/// resumed the others yet).
#[cfg(feature = "gdb")]
pub fn stopped_by(cpu: usize) -> bool {
    STOPPER.load(Ordering::Acquire) == cpu as u32
}

/// Runs every call posted to `me`, with interrupts off.
fn serve_calls(me: usize) {
    let enabled = irq_save();
    for from in 0..MAX_CPUS {
        serve_call(from, me);
    }
    irq_restore(enabled);
}

/// Runs the call `from` posted to `me`, if any. Interrupts are off.
fn serve_call(from: usize, me: usize) {
    let slot = &MAILBOXES[from][me];
    let posted = slot.load(Ordering::Acquire);
    if posted <= TAKEN {
        return;
    }
    if slot
        .compare_exchange(posted, TAKEN, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
    {
        // SAFETY: a posted value is the address of a live `Call`: its
        // caller waits (and keeps it on its stack) until the mailbox is
        // empty again, which only happens below.
        let call = unsafe { &*(posted as *const Call<'_>) };
        (call.f)();
        slot.store(0, Ordering::Release);
        wake_sleepers();
    }
}

/// Bit n: CPU n sleeps in [`wait`] until a doorbell.
static SLEEPERS: AtomicU32 = AtomicU32::new(0);

/// Rings every CPU sleeping in [`wait`]: called after every change one
/// may wait for (a call done, a CPU's state, a round-up's progress).
fn wake_sleepers() {
    // Orders the change before the read of SLEEPERS; `wait` orders its
    // announcement before its re-check the same way.
    fence(Ordering::SeqCst);
    let sleepers = SLEEPERS.load(Ordering::SeqCst);
    for cpu in 0..MAX_CPUS {
        if sleepers & bit(cpu) != 0 {
            ring(cpu);
        }
    }
}

/// Waits until `done`, answering cross-CPU calls and round-ups meanwhile.
///
/// With `may_sleep` (the caller came with interrupts enabled), the CPU
/// halts between checks and the change it waits for wakes it
/// ([`wake_sleepers`]): under QEMU's TCG a spinning vCPU keeps its host
/// thread busy, and on a small host that starves the very CPUs it waits
/// for. Without it, it spins. Interrupts are as they were on return.
fn wait(me: usize, may_sleep: bool, done: impl Fn() -> bool) {
    loop {
        serve_calls(me);
        if !may_sleep {
            // Nothing else can stop this CPU meanwhile. With `may_sleep`
            // the doorbell does (at the `hlt` below, or once the caller's
            // interrupts are back on), inside its handler: the round-up
            // then finds the CPU in an exception frame (see `FRAMES`).
            enter_stop_if_asked(me);
        }
        if done() {
            return;
        }
        if !may_sleep {
            core::hint::spin_loop();
            continue;
        }
        let enabled = irq_save();
        SLEEPERS.fetch_or(bit(me), Ordering::SeqCst);
        fence(Ordering::SeqCst);
        // `done` may claim something (a lock): its first `true` ends the
        // wait.
        let now = done();
        if !now {
            // SAFETY: ring 0; `sti; hlt` halts before any interrupt is
            // taken (the one-instruction shadow of `sti`), so a doorbell
            // rung after the check above wakes it; the doorbell handler
            // serves the calls and round-ups; `cli` puts IF back off.
            unsafe { asm!("sti", "hlt", "cli", options(nomem, nostack)) };
        }
        SLEEPERS.fetch_and(!bit(me), Ordering::SeqCst);
        irq_restore(enabled);
        if now {
            return;
        }
    }
}

/// Whether interrupts are enabled on the calling CPU.
fn interrupts_enabled() -> bool {
    let flags: u64;
    // SAFETY: reading RFLAGS has no side effect.
    unsafe { asm!("pushfq", "pop {}", out(reg) flags, options(preserves_flags)) };
    flags & (1 << 9) != 0
}

/// `Platform::run_on_each_cpu`: `f` on every online CPU, the caller's
/// included, with interrupts off everywhere; returns once all ran it.
pub fn run_on_each_cpu(f: &(dyn Fn() + Sync)) {
    let enabled = irq_save();
    let me = current_cpu();
    let call = Call { f };
    let posted = core::ptr::addr_of!(call) as usize;
    let targets = ONLINE.load(Ordering::SeqCst) & !bit(me);
    let mut pending = 0u32;
    for (cpu, mailbox) in MAILBOXES[me].iter().enumerate() {
        if targets & bit(cpu) != 0 {
            mailbox.store(posted, Ordering::SeqCst);
            pending |= bit(cpu);
        }
    }
    for cpu in 0..MAX_CPUS {
        if pending & bit(cpu) != 0 {
            ring(cpu);
        }
    }
    // A target that left cross-CPU calls after the first read may have
    // served its mailboxes for the last time already: take the call back
    // if it is still posted (see `leave_calls`).
    fence(Ordering::SeqCst);
    let left = pending & !ONLINE.load(Ordering::SeqCst);
    for (cpu, mailbox) in MAILBOXES[me].iter().enumerate() {
        if left & bit(cpu) != 0
            && mailbox
                .compare_exchange(posted, 0, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
        {
            pending &= !bit(cpu);
        }
    }
    f();
    let mailboxes = &MAILBOXES[me];
    wait(me, enabled, || {
        (0..MAX_CPUS)
            .all(|cpu| pending & bit(cpu) == 0 || mailboxes[cpu].load(Ordering::Acquire) == 0)
    });
    irq_restore(enabled);
}

/// `Smp::spawn`.
pub fn spawn(cpu: u32, work: hwbreak_suite::Work, arg: usize) -> Result<(), &'static str> {
    let cpu = checked_secondary(cpu)?;
    let slot = &SLOTS[cpu];
    slot.state
        .compare_exchange(
            state::IDLE,
            state::CLAIMED,
            Ordering::Acquire,
            Ordering::Relaxed,
        )
        .map_err(not_idle)?;
    slot.work.store(work as usize, Ordering::Relaxed);
    slot.arg.store(arg, Ordering::Relaxed);
    slot.state.store(state::PENDING, Ordering::Release);
    ring(cpu);
    Ok(())
}

/// Why a CPU in state `s` cannot take work or go offline.
fn not_idle(s: u8) -> &'static str {
    match s {
        state::DOWN | state::PARKED | state::LEAVING => "CPU is offline",
        state::BOOTING => "CPU is starting",
        _ => "CPU is busy",
    }
}

/// `cpu` as an index, if it is a secondary other than the caller.
fn checked_secondary(cpu: u32) -> Result<usize, &'static str> {
    if cpu >= cpu_count() {
        return Err("no such CPU");
    }
    if cpu == 0 {
        return Err("the boot CPU is never idle");
    }
    if cpu as usize == current_cpu() {
        return Err("CPU is the caller");
    }
    Ok(cpu as usize)
}

/// `Smp::is_idle`.
pub fn is_idle(cpu: u32) -> bool {
    (cpu as usize) < MAX_CPUS && SLOTS[cpu as usize].state.load(Ordering::Acquire) == state::IDLE
}

/// Waits (halting, when interrupts are on) until `cpu` is idle.
#[cfg(feature = "gdb")]
pub fn wait_until_idle(cpu: u32) {
    wait(current_cpu(), interrupts_enabled(), || is_idle(cpu));
}

/// `Smp::offline`: returns once the CPU is reset by INIT.
pub fn offline(cpu: u32) -> Result<(), &'static str> {
    let cpu = checked_secondary(cpu)?;
    let slot = &SLOTS[cpu].state;
    slot.compare_exchange(
        state::IDLE,
        state::LEAVING,
        Ordering::AcqRel,
        Ordering::Relaxed,
    )
    .map_err(not_idle)?;
    ring(cpu);
    let me = current_cpu();
    wait(me, interrupts_enabled(), || {
        slot.load(Ordering::Acquire) == state::PARKED
    });
    // SAFETY: the CPU parked (interrupts off, `hlt`) after `cpu_offline`:
    // nothing it was doing is needed.
    unsafe { apic::send_init(cpu as u32) };
    slot.store(state::DOWN, Ordering::Release);
    Ok(())
}

/// `Smp::online`: INIT-SIPI-SIPI and the CPU's whole bring-up.
pub fn online(cpu: u32) -> Result<(), &'static str> {
    if cpu >= cpu_count() {
        return Err("no such CPU");
    }
    let cpu = cpu as usize;
    SLOTS[cpu]
        .state
        .compare_exchange(
            state::DOWN,
            state::BOOTING,
            Ordering::AcqRel,
            Ordering::Relaxed,
        )
        .map_err(|_| "CPU is already online")?;
    start(cpu)
}

/// Enters the stop loop if another CPU is rounding the others up.
fn enter_stop_if_asked(me: usize) {
    let stopper = STOPPER.load(Ordering::Acquire);
    if stopper == NOBODY || stopper as usize == me {
        return;
    }
    if STOP_TARGETS.load(Ordering::Acquire) & bit(me) == 0 {
        // Not part of this round-up (it joined later).
        return;
    }
    let enabled = irq_save();
    STOPPED.fetch_or(bit(me), Ordering::AcqRel);
    wake_sleepers();
    while STOPPER.load(Ordering::Acquire) == stopper {
        // The stopper may update the registry through its normal path
        // (a debugger stub does): its cross-CPU calls, and only its, are
        // answered.
        serve_call(stopper as usize, me);
        core::hint::spin_loop();
    }
    crate::REG.refresh();
    STOPPED.fetch_and(!bit(me), Ordering::AcqRel);
    wake_sleepers();
    irq_restore(enabled);
}

/// `Smp::stop_others`.
pub fn stop_others() {
    let me = current_cpu();
    let may_sleep = interrupts_enabled();
    // One round-up at a time: a CPU that finds another one stopping is
    // stopped by it first.
    wait(me, may_sleep, || {
        STOPPER
            .compare_exchange(NOBODY, me as u32, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    });
    let targets = ONLINE.load(Ordering::SeqCst) & !bit(me);
    STOP_TARGETS.store(targets, Ordering::SeqCst);
    for cpu in 0..MAX_CPUS {
        if targets & bit(cpu) != 0 {
            ring(cpu);
        }
    }
    wait(me, may_sleep, || {
        targets & !STOPPED.load(Ordering::Acquire) & ONLINE.load(Ordering::Acquire) == 0
    });
}

/// `Smp::resume_others`: releases the stopped CPUs and returns once each
/// has refreshed and left the stop loop. Does nothing unless the caller
/// stopped them.
pub fn resume_others() {
    let me = current_cpu();
    if STOPPER.load(Ordering::Acquire) != me as u32 {
        return;
    }
    let targets = STOP_TARGETS.swap(0, Ordering::AcqRel);
    STOPPER.store(NOBODY, Ordering::Release);
    wake_sleepers();
    wait(me, interrupts_enabled(), || {
        STOPPED.load(Ordering::Acquire) & targets == 0
    });
}

/// The board's [`hwbreak_suite::Smp`].
pub struct BoardSmp;

impl hwbreak_suite::Smp for BoardSmp {
    fn cpu_count(&self) -> u32 {
        cpu_count()
    }

    fn spawn(&self, cpu: u32, work: hwbreak_suite::Work, arg: usize) -> Result<(), &'static str> {
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

/// The registry's lock: a spinlock with interrupts off, re-entrant on the
/// CPU that holds it (see the deadlock rule above).
struct SmpCriticalSection;
critical_section::set_impl!(SmpCriticalSection);

/// The CPU holding the critical section, or [`NOBODY`].
static CS_OWNER: AtomicU32 = AtomicU32::new(NOBODY);

/// `RawRestoreState` bits: interrupts were enabled; the CPU already held
/// the lock (a nested acquire, whose release must not unlock).
const CS_IRQ_WAS_ON: u8 = 1;
const CS_NESTED: u8 = 2;

// SAFETY: mutual exclusion across CPUs by `CS_OWNER` (acquire/release
// ordering), and on the CPU by interrupts off; a nested acquire on the
// owner returns at once and its release leaves the lock held.
unsafe impl critical_section::Impl for SmpCriticalSection {
    unsafe fn acquire() -> critical_section::RawRestoreState {
        let irq = if irq_save() { CS_IRQ_WAS_ON } else { 0 };
        let me = current_cpu() as u32;
        if CS_OWNER.load(Ordering::Relaxed) == me {
            return irq | CS_NESTED;
        }
        while CS_OWNER
            .compare_exchange_weak(NOBODY, me, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        irq
    }

    unsafe fn release(restore: critical_section::RawRestoreState) {
        if restore & CS_NESTED == 0 {
            CS_OWNER.store(NOBODY, Ordering::Release);
        }
        irq_restore(restore & CS_IRQ_WAS_ON != 0);
    }
}
