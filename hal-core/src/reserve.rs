//! Slot reservation: may a request run wherever its scope can run without
//! ever needing more slots than a CPU has?
//!
//! For each CPU `c` and pool, the *load* is
//!
//! ```text
//! load(c) = all-CPU kernel breakpoints
//!         + kernel breakpoints bound to c
//!         + max over debug contexts T of weight(T, c)
//! weight(T, c) = T's breakpoints on any CPU + T's breakpoints bound to c
//! ```
//!
//! Only one debug context runs on a CPU at a time, so contexts share the
//! task part of the load: two contexts may each use every slot (the maximum,
//! not the sum). A change is admitted when the largest load over all CPUs,
//! plus the slots a kernel debugger holds, stays within the pool.
//!
//! The cost of every operation is independent of the number of debug
//! contexts holding breakpoints: histograms (how many contexts have weight
//! `v`, how many CPUs have load `v`) make every maximum a scan over at most
//! `SLOTS` + 2 buckets (`SLOTS` is the capacity per pool, at most
//! [`MAX_SLOTS`]), and the per-pool ones also keep a mask of
//! their non-empty buckets, so the largest load over all CPUs is read
//! without a scan. Only a context that also has CPU-bound breakpoints pays
//! for the (at most [`MAX_BOUND`]) CPUs it is bound to.
//!
//! The debugger's part is one atomic word per pool ([`Ledger`]), shared with
//! the normal path, so a kernel debugger that may take no lock reserves with
//! one compare-and-swap and the two paths can never over-commit together.

use crate::arch::{PoolId, MAX_POOLS, MAX_SLOTS};
use crate::error::{ErrorKind, Result};
use crate::request::{CpuId, Scope, TaskId};
use crate::sync::AtomicU32;

/// Most distinct (CPU, pool) bindings one debug context may have for its
/// CPU-bound breakpoints ([`Scope::TaskOnCpu`]); one more is refused with
/// `TableFull`.
pub const MAX_BOUND: usize = 4;

/// Counts by value: values 0..=SLOTS, and one bucket for "more than any
/// pool has" (values only get there tentatively, before a refusal), so
/// `SLOTS + 2` buckets. Two arrays because an array's length cannot be
/// computed from a const parameter in stable Rust.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Buckets<const SLOTS: usize> {
    /// Values `0..SLOTS`.
    low: [u32; SLOTS],
    /// Values `SLOTS` and "more".
    top: [u32; 2],
}

impl<const SLOTS: usize> Buckets<SLOTS> {
    /// The bucket of "more than any pool has".
    const OVER: usize = SLOTS + 1;

    const EMPTY: Self = Self {
        low: [0; SLOTS],
        top: [0; 2],
    };

    #[inline]
    fn bucket(v: u32) -> usize {
        (v as usize).min(Self::OVER)
    }

    #[inline]
    fn get(&self, b: usize) -> u32 {
        match self.low.get(b) {
            Some(&n) => n,
            None => self.top[b - SLOTS],
        }
    }

    #[inline]
    fn get_mut(&mut self, b: usize) -> &mut u32 {
        match self.low.get_mut(b) {
            Some(n) => n,
            None => &mut self.top[b - SLOTS],
        }
    }

    // Out of line: inlined, its bucket scan is unrolled into every caller
    // on the reservation path (about 600 bytes of code per kernel at 16
    // slots).
    #[inline(never)]
    fn highest(&self) -> u32 {
        let mut v = Self::OVER;
        while v > 0 {
            if self.get(v) != 0 {
                return v as u32;
            }
            v -= 1;
        }
        0
    }
}

/// A histogram that also knows which of its buckets are non-empty, so its
/// highest value is found without a scan. Used for the per-pool
/// histograms every admission reads; the per-CPU ones stay plain arrays
/// (a mask each would add to every CPU's state, and only bound contexts
/// and CPU-bound breakpoints read them).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Histogram<const SLOTS: usize> {
    count: Buckets<SLOTS>,
    /// Bit `b` set when bucket `b` is not empty (`SLOTS + 2` buckets fit:
    /// `SLOTS <= MAX_SLOTS`, checked below and in `Reservations::new`).
    nonempty: u32,
}

const _: () = assert!(MAX_SLOTS + 2 <= u32::BITS as usize);

impl<const SLOTS: usize> Histogram<SLOTS> {
    const EMPTY: Self = Self {
        count: Buckets::EMPTY,
        nonempty: 0,
    };

    /// `holders` holders, all at value 0.
    fn zeros(holders: u32) -> Self {
        let mut h = Self::EMPTY;
        *h.count.get_mut(0) = holders;
        h.nonempty = u32::from(holders != 0);
        h
    }

    #[inline]
    fn add(&mut self, v: u32) {
        let b = Buckets::<SLOTS>::bucket(v);
        *self.count.get_mut(b) += 1;
        self.nonempty |= 1 << b;
    }

    #[inline]
    fn remove(&mut self, v: u32) {
        let b = Buckets::<SLOTS>::bucket(v);
        let n = self.count.get_mut(b);
        *n -= 1;
        if *n == 0 {
            self.nonempty &= !(1 << b);
        }
    }

    /// Moves one holder from value `from` to value `to`.
    #[inline]
    fn shift(&mut self, from: u32, to: u32) {
        self.remove(from);
        self.add(to);
    }

    /// The highest value with a holder (0 when empty).
    #[inline]
    fn highest(&self) -> u32 {
        (u32::BITS - 1).saturating_sub(self.nonempty.leading_zeros())
    }
}

/// The atomic part of the reservation: per pool, the normal path's largest
/// load and the debugger's slot count, packed in one word so both paths
/// check-and-commit against each other with one compare-and-swap.
///
/// The registry owns one; kernels reach it through
/// [`Registry::debugger_install`](crate::Registry::debugger_install) and
/// [`Registry::pool_usage`](crate::Registry::pool_usage).
///
/// # Examples
///
/// ```
/// use hwbreak_core::reserve::Ledger;
/// use hwbreak_core::{ErrorKind, PoolId};
///
/// let ledger = Ledger::new();
/// let pool = PoolId::FIRST; // 4 slots
/// // The busiest CPU of the normal path uses 3.
/// assert!(ledger.commit_load(pool, 3, 4));
/// // The debugger takes the fourth; now neither path can grow.
/// ledger.debugger_take(pool, 4)?;
/// assert_eq!(ledger.debugger_take(pool, 4).unwrap_err().kind(), ErrorKind::NoSlot);
/// assert!(!ledger.commit_load(pool, 4, 4));
/// ledger.debugger_give(pool);
/// assert!(ledger.commit_load(pool, 4, 4));
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
pub struct Ledger {
    words: [AtomicU32; MAX_POOLS],
}

const LOAD_MASK: u32 = 0xffff;
const DEBUGGER_SHIFT: u32 = 16;

/// How the ledger reads and updates its words. Taking slots (a raised
/// load, `debugger_take`) acquires and giving them back (a lowered load,
/// `debugger_give`) releases, so whatever a path did with a slot before
/// giving it back is visible to the path that takes it next.
#[cfg(not(any(
    hwbreak_broken_ledger = "load_store",
    hwbreak_broken_ledger = "relaxed"
)))]
mod ledger_word {
    use crate::sync::{AtomicU32, Ordering};

    pub(super) const LOAD: Ordering = Ordering::Acquire;
    pub(super) const UPDATE: Ordering = Ordering::AcqRel;

    /// Replaces `cur` by `new` unless the word changed meanwhile
    /// (`Err(seen)`): check and update in one step.
    pub(super) fn replace(word: &AtomicU32, cur: u32, new: u32) -> Result<u32, u32> {
        word.compare_exchange_weak(cur, new, UPDATE, LOAD)
    }
}

// Deliberately broken ledgers for the loom tests to catch (test builds
// only: `--cfg hwbreak_broken_ledger="load_store"` or `="relaxed"`).
#[cfg(any(
    hwbreak_broken_ledger = "load_store",
    hwbreak_broken_ledger = "relaxed"
))]
#[path = "broken_ledger.rs"]
mod ledger_word;

impl Ledger {
    /// An empty ledger.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::reserve::Ledger;
    /// use hwbreak_core::PoolId;
    /// static LEDGER: Ledger = Ledger::new();
    /// assert_eq!((LEDGER.load(PoolId::FIRST), LEDGER.debugger_slots(PoolId::FIRST)), (0, 0));
    /// ```
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self {
            words: [const { AtomicU32::new(0) }; MAX_POOLS],
        }
    }

    /// An empty ledger (not `const` under loom, whose atomics are not).
    #[cfg(loom)]
    pub fn new() -> Self {
        Self {
            words: core::array::from_fn(|_| AtomicU32::new(0)),
        }
    }

    /// Normal path: publish `load` as the pool's largest load, provided it
    /// fits beside the debugger's slots in a pool of `slots`. Lowering never
    /// fails. Returns whether the load was published.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::reserve::Ledger;
    /// use hwbreak_core::PoolId;
    /// let ledger = Ledger::new();
    /// assert!(ledger.commit_load(PoolId::SECOND, 2, 2));
    /// assert!(!ledger.commit_load(PoolId::SECOND, 3, 2)); // more than the pool
    /// assert!(ledger.commit_load(PoolId::SECOND, 0, 2)); // lowering
    /// assert_eq!(ledger.load(PoolId::SECOND), 0);
    /// ```
    pub fn commit_load(&self, pool: PoolId, load: u32, slots: u32) -> bool {
        let word = &self.words[pool.index()];
        let mut cur = word.load(ledger_word::LOAD);
        loop {
            let debugger = cur >> DEBUGGER_SHIFT;
            if load > (cur & LOAD_MASK) && debugger + load > slots {
                return false;
            }
            let new = (debugger << DEBUGGER_SHIFT) | load.min(LOAD_MASK);
            match ledger_word::replace(word, cur, new) {
                Ok(_) => return true,
                Err(seen) => cur = seen,
            }
        }
    }

    /// Debugger path (lockless): take one slot of `pool` on every CPU.
    /// `NoSlot` when the pool has no room beside the normal path's load.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::reserve::Ledger;
    /// use hwbreak_core::{ErrorKind, PoolId};
    /// let ledger = Ledger::new();
    /// // A single-slot pool (a POWER DABR): the debugger may take it ...
    /// ledger.debugger_take(PoolId::SECOND, 1)?;
    /// // ... once.
    /// let err = ledger.debugger_take(PoolId::SECOND, 1).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::NoSlot);
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn debugger_take(&self, pool: PoolId, slots: u32) -> Result<()> {
        let word = &self.words[pool.index()];
        let mut cur = word.load(ledger_word::LOAD);
        loop {
            let debugger = cur >> DEBUGGER_SHIFT;
            if debugger + 1 + (cur & LOAD_MASK) > slots {
                return Err(ErrorKind::NoSlot.into());
            }
            let new = cur + (1 << DEBUGGER_SHIFT);
            match ledger_word::replace(word, cur, new) {
                Ok(_) => return Ok(()),
                Err(seen) => cur = seen,
            }
        }
    }

    /// Debugger path (lockless): give back a slot taken with
    /// [`Ledger::debugger_take`]. Giving back a slot that was not taken is
    /// a caller bug the ledger does not detect.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::reserve::Ledger;
    /// use hwbreak_core::PoolId;
    /// let ledger = Ledger::new();
    /// ledger.debugger_take(PoolId::FIRST, 4)?;
    /// ledger.debugger_give(PoolId::FIRST);
    /// assert_eq!(ledger.debugger_slots(PoolId::FIRST), 0);
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn debugger_give(&self, pool: PoolId) {
        self.words[pool.index()].fetch_sub(1 << DEBUGGER_SHIFT, ledger_word::UPDATE);
    }

    /// Slots the debugger holds in `pool`.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::reserve::Ledger;
    /// use hwbreak_core::PoolId;
    /// let ledger = Ledger::new();
    /// ledger.debugger_take(PoolId::FIRST, 4)?;
    /// ledger.debugger_take(PoolId::FIRST, 4)?;
    /// assert_eq!(ledger.debugger_slots(PoolId::FIRST), 2);
    /// assert_eq!(ledger.debugger_slots(PoolId::SECOND), 0);
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn debugger_slots(&self, pool: PoolId) -> u32 {
        self.words[pool.index()].load(ledger_word::LOAD) >> DEBUGGER_SHIFT
    }

    /// The normal path's published largest load in `pool`.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::reserve::Ledger;
    /// use hwbreak_core::PoolId;
    /// let ledger = Ledger::new();
    /// ledger.commit_load(PoolId::FIRST, 3, 4);
    /// assert_eq!(ledger.load(PoolId::FIRST), 3);
    /// ```
    pub fn load(&self, pool: PoolId) -> u32 {
        self.words[pool.index()].load(ledger_word::LOAD) & LOAD_MASK
    }
}

// Manual: atomics have no `Format`; this prints one snapshot of each word.
#[cfg(feature = "defmt")]
impl defmt::Format for Ledger {
    fn format(&self, f: defmt::Formatter<'_>) {
        let load: [u32; MAX_POOLS] = core::array::from_fn(|p| self.load(PoolId::ALL[p]));
        let debugger: [u32; MAX_POOLS] =
            core::array::from_fn(|p| self.debugger_slots(PoolId::ALL[p]));
        defmt::write!(f, "Ledger {{ load: {}, debugger: {} }}", load, debugger)
    }
}

#[cfg(not(loom))]
impl Default for Ledger {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
struct Binding {
    cpu: u32,
    pool: u8,
    count: u16,
}

/// Per debug context counts.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
struct ContextCounts {
    any: [u16; MAX_POOLS],
    bound: [Binding; MAX_BOUND],
}

impl ContextCounts {
    const EMPTY: Self = Self {
        any: [0; MAX_POOLS],
        bound: [Binding {
            cpu: 0,
            pool: 0,
            count: 0,
        }; MAX_BOUND],
    };

    fn bound_on(&self, cpu: u32, pool: u8) -> Option<usize> {
        self.bound
            .iter()
            .position(|b| b.count > 0 && b.cpu == cpu && b.pool == pool)
    }
}

/// Per pool, per CPU counts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct CpuCounts<const SLOTS: usize> {
    /// Kernel breakpoints bound to this CPU.
    pinned: u32,
    /// Histogram of weight(T, c) over contexts with breakpoints bound here.
    bound_hist: Buckets<SLOTS>,
}

impl<const SLOTS: usize> CpuCounts<SLOTS> {
    const EMPTY: Self = Self {
        pinned: 0,
        bound_hist: Buckets::EMPTY,
    };

    fn combo(&self) -> u32 {
        self.pinned + self.bound_hist.highest()
    }
}

/// One change of a [`Reservations::adjust`] transaction.
///
/// # Examples
///
/// Moving one slot of debug context 2 from one pool to the other, as one
/// transaction:
///
/// ```
/// use hwbreak_core::reserve::{Change, Ledger, Reservations};
/// use hwbreak_core::{PoolId, Scope, TaskId};
///
/// let ledger = Ledger::new();
/// let mut r = Reservations::<1, 4>::new();
/// r.init(1, [1, 1])?;
/// let t = Scope::Task(TaskId(2));
/// r.reserve(&ledger, PoolId::FIRST, t, 1)?;
/// r.adjust(
///     &ledger,
///     &[
///         Change { pool: PoolId::FIRST, scope: t, delta: -1 },
///         Change { pool: PoolId::SECOND, scope: t, delta: 1 },
///     ],
/// )?;
/// assert_eq!((r.held(PoolId::FIRST, t), r.held(PoolId::SECOND, t)), (0, 1));
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Change {
    /// The pool.
    pub pool: PoolId,
    /// The scope whose count changes.
    pub scope: Scope,
    /// Slots added (positive) or given back (negative).
    pub delta: i32,
}

/// The counted part of the reservation (kept under the registry's lock).
///
/// `CPUS`, `CONTEXTS` and `SLOTS` (the most slots in one pool, `1..=`
/// [`MAX_SLOTS`], default [`MAX_SLOTS`]) are capacities; the CPUs actually
/// served and the pool sizes are set by [`Reservations::init`]. Each CPU
/// costs `MAX_POOLS * (SLOTS + 3) * 4` bytes of counts.
///
/// The registry keeps one under its lock; it is public so the admission
/// rule can be checked and measured on its own.
///
/// # Examples
///
/// Two debug contexts may each use every slot (they never run on one CPU
/// at the same time), but then nothing system-wide fits:
///
/// ```
/// use hwbreak_core::reserve::{Ledger, Reservations};
/// use hwbreak_core::{CpuId, ErrorKind, PoolId, Scope, TaskId};
///
/// let ledger = Ledger::new();
/// let mut r = Reservations::<2, 8>::new();
/// r.init(2, [4, 0])?; // 2 CPUs, one pool of 4 (x86)
/// let pool = PoolId::FIRST;
/// r.reserve(&ledger, pool, Scope::Task(TaskId(0)), 4)?;
/// r.reserve(&ledger, pool, Scope::Task(TaskId(1)), 4)?;
/// assert_eq!(r.max_load(pool), 4); // the maximum, not the sum
/// let err = r.reserve(&ledger, pool, Scope::AllCpus, 1).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::NoSlot);
/// // A refusal changed nothing.
/// assert_eq!(r.load(pool, CpuId(1)), 4);
/// # Ok::<(), hwbreak_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservations<const CPUS: usize, const CONTEXTS: usize, const SLOTS: usize = MAX_SLOTS> {
    slots: [u32; MAX_POOLS],
    cpus: u32,
    all_cpus: [u32; MAX_POOLS],
    per_cpu: [[CpuCounts<SLOTS>; CPUS]; MAX_POOLS],
    /// Number of CPUs whose `pinned` is `v`.
    pinned_hist: [Histogram<SLOTS>; MAX_POOLS],
    /// Number of CPUs whose `pinned + max bound weight` is `v`.
    combo_hist: [Histogram<SLOTS>; MAX_POOLS],
    /// Number of contexts whose any-CPU count is `v` (`v > 0`).
    any_hist: [Histogram<SLOTS>; MAX_POOLS],
    contexts: [ContextCounts; CONTEXTS],
}

impl<const CPUS: usize, const CONTEXTS: usize, const SLOTS: usize>
    Reservations<CPUS, CONTEXTS, SLOTS>
{
    const CAPACITY_OK: () = assert!(
        SLOTS > 0 && SLOTS <= MAX_SLOTS,
        "SLOTS must be 1..=MAX_SLOTS"
    );

    /// Empty counts for no CPU; call [`Reservations::init`].
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::reserve::Reservations;
    /// use hwbreak_core::PoolId;
    /// let r = Reservations::<4, 16>::new();
    /// assert_eq!(r.slots(PoolId::FIRST), 0);
    /// ```
    ///
    /// `SLOTS` past [`MAX_SLOTS`] (or 0) does not compile:
    ///
    /// ```compile_fail
    /// let r = hwbreak_core::reserve::Reservations::<4, 16, 17>::new();
    /// ```
    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::CAPACITY_OK;
        Self {
            slots: [0; MAX_POOLS],
            cpus: 0,
            all_cpus: [0; MAX_POOLS],
            per_cpu: [[CpuCounts::EMPTY; CPUS]; MAX_POOLS],
            pinned_hist: [Histogram::EMPTY; MAX_POOLS],
            combo_hist: [Histogram::EMPTY; MAX_POOLS],
            any_hist: [Histogram::EMPTY; MAX_POOLS],
            contexts: [ContextCounts::EMPTY; CONTEXTS],
        }
    }

    /// Serve `cpus` CPUs (at most `CPUS`) with `slots[p]` slots per pool
    /// (clamped to `SLOTS`: the registry refuses a larger pool before it
    /// gets here). Forgets every count. `BadCpu` if `cpus` is 0 or above
    /// `CPUS`.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::reserve::Reservations;
    /// use hwbreak_core::{ErrorKind, PoolId};
    /// let mut r = Reservations::<4, 16>::new();
    /// r.init(4, [6, 4])?;
    /// assert_eq!(r.slots(PoolId::SECOND), 4);
    /// assert_eq!(r.init(5, [6, 4]).unwrap_err().kind(), ErrorKind::BadCpu);
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn init(&mut self, cpus: u32, slots: [u32; MAX_POOLS]) -> Result<()> {
        if cpus == 0 || cpus as usize > CPUS {
            return Err(ErrorKind::BadCpu.into());
        }
        // Reset in place: `Self::new()` as a temporary could be larger than
        // a kernel stack.
        self.all_cpus = [0; MAX_POOLS];
        for p in 0..MAX_POOLS {
            self.per_cpu[p].fill(CpuCounts::EMPTY);
            self.pinned_hist[p] = Histogram::EMPTY;
            self.combo_hist[p] = Histogram::EMPTY;
            self.any_hist[p] = Histogram::EMPTY;
        }
        self.contexts.fill(ContextCounts::EMPTY);
        self.cpus = cpus;
        for (p, &s) in slots.iter().enumerate() {
            self.slots[p] = s.min(SLOTS as u32);
            self.pinned_hist[p] = Histogram::zeros(cpus);
            self.combo_hist[p] = Histogram::zeros(cpus);
        }
        Ok(())
    }

    /// Slots in `pool` (as given to [`Reservations::init`], at most
    /// `SLOTS`). See [`Reservations::init`] for an example.
    pub fn slots(&self, pool: PoolId) -> u32 {
        self.slots[pool.index()]
    }

    /// The largest load over all CPUs of `pool`, computed from the
    /// histograms in `O(SLOTS)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::reserve::{Ledger, Reservations};
    /// use hwbreak_core::{CpuId, PoolId, Scope};
    /// let ledger = Ledger::new();
    /// let mut r = Reservations::<2, 4>::new();
    /// r.init(2, [4, 0])?;
    /// r.reserve(&ledger, PoolId::FIRST, Scope::AllCpus, 1)?;
    /// r.reserve(&ledger, PoolId::FIRST, Scope::Cpu(CpuId(1)), 2)?;
    /// assert_eq!(r.max_load(PoolId::FIRST), 3); // CPU 1
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    // Out of line: a transaction reads it before and after, per pool, and
    // each inlined copy costs more than the call.
    #[inline(never)]
    pub fn max_load(&self, pool: PoolId) -> u32 {
        let p = pool.index();
        let through_any = self.pinned_hist[p].highest() + self.any_hist[p].highest();
        let through_bound = self.combo_hist[p].highest();
        self.all_cpus[p] + through_any.max(through_bound)
    }

    /// The load of one CPU (for tests and diagnostics: `O(SLOTS)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::reserve::{Ledger, Reservations};
    /// use hwbreak_core::{CpuId, PoolId, Scope, TaskId};
    /// let ledger = Ledger::new();
    /// let mut r = Reservations::<2, 4>::new();
    /// r.init(2, [4, 0])?;
    /// r.reserve(&ledger, PoolId::FIRST, Scope::TaskOnCpu(TaskId(0), CpuId(1)), 2)?;
    /// assert_eq!(r.load(PoolId::FIRST, CpuId(0)), 0);
    /// assert_eq!(r.load(PoolId::FIRST, CpuId(1)), 2);
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn load(&self, pool: PoolId, cpu: CpuId) -> u32 {
        let p = pool.index();
        let c = &self.per_cpu[p][cpu.0 as usize];
        self.all_cpus[p] + c.pinned + c.bound_hist.highest().max(self.any_hist[p].highest())
    }

    /// Checks that `scope` names CPUs and contexts within capacity
    /// (`BadCpu`, `BadTask`).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::reserve::Reservations;
    /// use hwbreak_core::{CpuId, ErrorKind, Scope, TaskId};
    /// let mut r = Reservations::<4, 8>::new();
    /// r.init(2, [4, 0])?; // 2 of 4 possible CPUs served
    /// assert!(r.check_scope(Scope::Cpu(CpuId(1))).is_ok());
    /// assert_eq!(r.check_scope(Scope::Cpu(CpuId(2))).unwrap_err().kind(), ErrorKind::BadCpu);
    /// assert_eq!(r.check_scope(Scope::Task(TaskId(8))).unwrap_err().kind(), ErrorKind::BadTask);
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn check_scope(&self, scope: Scope) -> Result<()> {
        if let Some(c) = scope.cpu() {
            if c.0 >= self.cpus {
                return Err(ErrorKind::BadCpu.into());
            }
        }
        if let Some(t) = scope.task() {
            if t.0 as usize >= CONTEXTS {
                return Err(ErrorKind::BadTask.into());
            }
        }
        Ok(())
    }

    /// Applies a set of changes all-or-nothing: every count changes and the
    /// ledger accepts the new loads, or nothing changes at all.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::reserve::{Change, Ledger, Reservations};
    /// use hwbreak_core::{ErrorKind, PoolId, Scope};
    /// let ledger = Ledger::new();
    /// let mut r = Reservations::<1, 1>::new();
    /// r.init(1, [4, 0])?;
    /// let add = |n| Change { pool: PoolId::FIRST, scope: Scope::AllCpus, delta: n };
    /// // 3 + 2 do not fit in 4: neither is applied.
    /// let err = r.adjust(&ledger, &[add(3), add(2)]).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::NoSlot);
    /// assert_eq!(r.held(PoolId::FIRST, Scope::AllCpus), 0);
    /// assert_eq!(ledger.load(PoolId::FIRST), 0);
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn adjust(&mut self, ledger: &Ledger, changes: &[Change]) -> Result<()> {
        if let [one] = changes {
            if let Some(done) = self.adjust_unbound_task(ledger, one) {
                return done;
            }
        }
        // Only the pools a change names can see their largest load move.
        let mut touched = [false; MAX_POOLS];
        for ch in changes {
            self.check_scope(ch.scope)?;
            if ch.pool.index() >= MAX_POOLS {
                return Err(ErrorKind::SlotOutOfRange.into());
            }
            touched[ch.pool.index()] = true;
        }
        let before = self.max_loads(&touched, &[0; MAX_POOLS]);
        let mut applied = 0;
        let mut result = Ok(());
        for ch in changes {
            if let Err(e) = self.apply(ch.pool, ch.scope, ch.delta) {
                result = Err(e);
                break;
            }
            applied += 1;
        }
        if result.is_ok() {
            let after = self.max_loads(&touched, &before);
            result = self.commit(ledger, &before, &after);
        }
        if result.is_err() {
            for ch in changes[..applied].iter().rev() {
                // Undoing a change that was applied cannot fail.
                let _ = self.apply(ch.pool, ch.scope, -ch.delta);
            }
        }
        result
    }

    /// Reserves `n` slots of `pool` for `scope` (`NoSlot` if some CPU
    /// would need more than the pool has).
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::reserve::{Ledger, Reservations};
    /// use hwbreak_core::{PoolId, Scope};
    /// let ledger = Ledger::new();
    /// let mut r = Reservations::<1, 1>::new();
    /// r.init(1, [0, 1])?; // one DABR
    /// // Nothing is held back for flexible requests: a pinned one gets it.
    /// r.reserve(&ledger, PoolId::SECOND, Scope::AllCpus, 1)?;
    /// assert!(r.reserve(&ledger, PoolId::SECOND, Scope::AllCpus, 1).is_err());
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn reserve(&mut self, ledger: &Ledger, pool: PoolId, scope: Scope, n: u32) -> Result<()> {
        self.adjust(
            ledger,
            &[Change {
                pool,
                scope,
                delta: n as i32,
            }],
        )
    }

    /// Gives back `n` slots of `pool` held by `scope`. Giving back more
    /// than is held changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::reserve::{Ledger, Reservations};
    /// use hwbreak_core::{PoolId, Scope};
    /// let ledger = Ledger::new();
    /// let mut r = Reservations::<1, 1>::new();
    /// r.init(1, [4, 0])?;
    /// r.reserve(&ledger, PoolId::FIRST, Scope::AllCpus, 2)?;
    /// r.release(&ledger, PoolId::FIRST, Scope::AllCpus, 2);
    /// assert_eq!((r.max_load(PoolId::FIRST), ledger.load(PoolId::FIRST)), (0, 0));
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn release(&mut self, ledger: &Ledger, pool: PoolId, scope: Scope, n: u32) {
        // Lowering loads is always accepted; a release of counts that are
        // not held is a caller bug the counts refuse without change.
        let _ = self.adjust(
            ledger,
            &[Change {
                pool,
                scope,
                delta: -(n as i32),
            }],
        );
    }

    /// The most common change, without the general transaction: a debug
    /// context's any-CPU count in a pool where it has no CPU binding. Its
    /// weight moves between two buckets of the pool's histogram and only
    /// that pool's largest load can move. `None` when the change is not of
    /// that kind or would fail on its own counts: the general path then
    /// decides, and reports the error.
    fn adjust_unbound_task(&mut self, ledger: &Ledger, ch: &Change) -> Option<Result<()>> {
        let Scope::Task(t) = ch.scope else {
            return None;
        };
        let p = ch.pool.index();
        let ctx = self.contexts.get(t.0 as usize)?;
        if p >= MAX_POOLS
            || ctx
                .bound
                .iter()
                .any(|b| b.count > 0 && b.pool as usize == p)
        {
            return None;
        }
        let old = u32::from(ctx.any[p]);
        let new = u16::try_from(offset(old, ch.delta).ok()?).ok()?;
        let before = self.max_load(ch.pool);
        self.move_any(p, old, u32::from(new));
        let after = self.max_load(ch.pool);
        let slots = self.slots[p];
        match after.cmp(&before) {
            core::cmp::Ordering::Greater => {
                if after > slots || !ledger.commit_load(ch.pool, after, slots) {
                    self.move_any(p, u32::from(new), old);
                    return Some(Err(ErrorKind::NoSlot.into()));
                }
            }
            // Lowering a published load always succeeds.
            core::cmp::Ordering::Less => {
                ledger.commit_load(ch.pool, after, slots);
            }
            core::cmp::Ordering::Equal => {}
        }
        self.contexts[t.0 as usize].any[p] = new;
        Some(Ok(()))
    }

    /// The largest load of every `touched` pool; `otherwise[p]` for the
    /// others.
    fn max_loads(
        &self,
        touched: &[bool; MAX_POOLS],
        otherwise: &[u32; MAX_POOLS],
    ) -> [u32; MAX_POOLS] {
        core::array::from_fn(|p| {
            if touched[p] {
                self.max_load(PoolId::ALL[p])
            } else {
                otherwise[p]
            }
        })
    }

    /// Publishes the new loads: raises first (each may be refused, and
    /// lowering them back is always possible), then lowers.
    fn commit(
        &mut self,
        ledger: &Ledger,
        before: &[u32; MAX_POOLS],
        after: &[u32; MAX_POOLS],
    ) -> Result<()> {
        let mut raised = [false; MAX_POOLS];
        for p in 0..MAX_POOLS {
            let pool = PoolId::ALL[p];
            if after[p] > before[p] {
                if after[p] > self.slots[p] || !ledger.commit_load(pool, after[p], self.slots[p]) {
                    for q in 0..p {
                        if raised[q] {
                            let pool = PoolId::ALL[q];
                            ledger.commit_load(pool, before[q], self.slots[q]);
                        }
                    }
                    return Err(ErrorKind::NoSlot.into());
                }
                raised[p] = true;
            }
        }
        for p in 0..MAX_POOLS {
            if after[p] < before[p] {
                let pool = PoolId::ALL[p];
                ledger.commit_load(pool, after[p], self.slots[p]);
            }
        }
        Ok(())
    }

    /// Changes the counts of one scope by `delta` (no check against slots).
    /// Refuses only a change that would make a count negative, or a new
    /// CPU binding past [`MAX_BOUND`].
    fn apply(&mut self, pool: PoolId, scope: Scope, delta: i32) -> Result<()> {
        let p = pool.index();
        match scope {
            Scope::AllCpus => {
                self.all_cpus[p] = offset(self.all_cpus[p], delta)?;
            }
            Scope::Cpu(c) => {
                let cpu = &mut self.per_cpu[p][c.0 as usize];
                let (old_pinned, old_combo) = (cpu.pinned, cpu.combo());
                cpu.pinned = offset(cpu.pinned, delta)?;
                let new_combo = cpu.combo();
                self.pinned_hist[p].shift(old_pinned, cpu.pinned);
                self.combo_hist[p].shift(old_combo, new_combo);
            }
            Scope::Task(t) => {
                let ctx = self.contexts[t.0 as usize];
                let old_any = ctx.any[p] as u32;
                let new_any = offset(old_any, delta)?;
                let stored = u16::try_from(new_any).map_err(|_| ErrorKind::NoSlot)?;
                self.move_any(p, old_any, new_any);
                for b in ctx
                    .bound
                    .iter()
                    .filter(|b| b.count > 0 && b.pool as usize == p)
                {
                    let n = b.count as u32;
                    self.move_bound(p, b.cpu, Some(old_any + n), Some(new_any + n));
                }
                self.contexts[t.0 as usize].any[p] = stored;
            }
            Scope::TaskOnCpu(t, c) => {
                let ctx = self.contexts[t.0 as usize];
                let any = ctx.any[p] as u32;
                let slot = match ctx.bound_on(c.0, p as u8) {
                    Some(i) => i,
                    None => {
                        if delta < 0 {
                            return Err(ErrorKind::NoSlot.into());
                        }
                        ctx.bound
                            .iter()
                            .position(|b| b.count == 0)
                            .ok_or(ErrorKind::TableFull)?
                    }
                };
                let old = ctx.bound[slot].count as u32;
                let new = offset(old, delta)?;
                let stored = u16::try_from(new).map_err(|_| ErrorKind::NoSlot)?;
                let from = (old > 0).then_some(any + old);
                let to = (new > 0).then_some(any + new);
                self.move_bound(p, c.0, from, to);
                self.contexts[t.0 as usize].bound[slot] = Binding {
                    cpu: c.0,
                    pool: p as u8,
                    count: stored,
                };
            }
        }
        Ok(())
    }

    fn move_any(&mut self, p: usize, from: u32, to: u32) {
        if from > 0 {
            self.any_hist[p].remove(from);
        }
        if to > 0 {
            self.any_hist[p].add(to);
        }
    }

    /// Moves one context's weight on `cpu` between buckets (`None`: the
    /// context has no breakpoint bound there).
    fn move_bound(&mut self, p: usize, cpu: u32, from: Option<u32>, to: Option<u32>) {
        let counts = &mut self.per_cpu[p][cpu as usize];
        let old_combo = counts.combo();
        if let Some(v) = from {
            *counts.bound_hist.get_mut(Buckets::<SLOTS>::bucket(v)) -= 1;
        }
        if let Some(v) = to {
            *counts.bound_hist.get_mut(Buckets::<SLOTS>::bucket(v)) += 1;
        }
        let new_combo = counts.combo();
        self.combo_hist[p].shift(old_combo, new_combo);
    }

    /// Slots of `pool` held by the scope `scope` exactly (diagnostics):
    /// `Scope::Task(t)` counts only `t`'s any-CPU breakpoints, not those
    /// bound to a CPU. See [`Change`] for an example.
    pub fn held(&self, pool: PoolId, scope: Scope) -> u32 {
        let p = pool.index();
        match scope {
            Scope::AllCpus => self.all_cpus[p],
            Scope::Cpu(c) => self.per_cpu[p][c.0 as usize].pinned,
            Scope::Task(t) => self.contexts[t.0 as usize].any[p] as u32,
            Scope::TaskOnCpu(t, c) => {
                let ctx = &self.contexts[t.0 as usize];
                ctx.bound_on(c.0, p as u8)
                    .map_or(0, |i| ctx.bound[i].count as u32)
            }
        }
    }

    /// Weight of context `t` on `cpu` in `pool` (diagnostics): its
    /// any-CPU breakpoints plus those bound to `cpu`.
    ///
    /// # Examples
    ///
    /// ```
    /// use hwbreak_core::reserve::{Ledger, Reservations};
    /// use hwbreak_core::{CpuId, PoolId, Scope, TaskId};
    /// let ledger = Ledger::new();
    /// let mut r = Reservations::<2, 4>::new();
    /// r.init(2, [4, 0])?;
    /// let t = TaskId(1);
    /// r.reserve(&ledger, PoolId::FIRST, Scope::Task(t), 1)?;
    /// r.reserve(&ledger, PoolId::FIRST, Scope::TaskOnCpu(t, CpuId(0)), 2)?;
    /// assert_eq!(r.weight(PoolId::FIRST, t, CpuId(0)), 3);
    /// assert_eq!(r.weight(PoolId::FIRST, t, CpuId(1)), 1);
    /// # Ok::<(), hwbreak_core::Error>(())
    /// ```
    pub fn weight(&self, pool: PoolId, t: TaskId, cpu: CpuId) -> u32 {
        self.held(pool, Scope::Task(t)) + self.held(pool, Scope::TaskOnCpu(t, cpu))
    }
}

// Manual: the histograms are large and private; the summary a log needs is
// the CPUs served, the pool sizes and the busiest CPU's load per pool.
#[cfg(feature = "defmt")]
impl<const CPUS: usize, const CONTEXTS: usize, const SLOTS: usize> defmt::Format
    for Reservations<CPUS, CONTEXTS, SLOTS>
{
    fn format(&self, f: defmt::Formatter<'_>) {
        let max_load: [u32; MAX_POOLS] = core::array::from_fn(|p| self.max_load(PoolId::ALL[p]));
        defmt::write!(
            f,
            "Reservations {{ cpus: {=u32}, slots: {}, max_load: {} }}",
            self.cpus,
            self.slots,
            max_load
        )
    }
}

impl<const CPUS: usize, const CONTEXTS: usize, const SLOTS: usize> Default
    for Reservations<CPUS, CONTEXTS, SLOTS>
{
    fn default() -> Self {
        Self::new()
    }
}

fn offset(v: u32, delta: i32) -> Result<u32> {
    v.checked_add_signed(delta)
        .ok_or_else(|| ErrorKind::NoSlot.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(t: u32, pool: PoolId, delta: i32) -> Change {
        Change {
            pool,
            scope: Scope::Task(TaskId(t)),
            delta,
        }
    }

    /// The common admission, a task's any-CPU breakpoint in a pool where
    /// the task has none bound to a CPU, takes the one-bucket fast path
    /// whatever its outcome (what keeps `reserve` flat and short), and
    /// leaves the counts and the published load as the general path would.
    /// A change of any other kind is left to the general path.
    #[test]
    fn an_unbound_task_change_takes_the_fast_path() {
        let ledger = Ledger::new();
        let mut r = Reservations::<2, 4, 4>::new();
        r.init(2, [4, 2]).unwrap();
        let first = PoolId::FIRST;
        let fast = |r: &mut Reservations<2, 4, 4>, ch: Change| {
            r.adjust_unbound_task(&ledger, &ch)
                .map(|done| done.map_err(|e| e.kind()))
        };
        assert_eq!(fast(&mut r, task(1, first, 1)), Some(Ok(())));
        assert_eq!(fast(&mut r, task(1, first, 3)), Some(Ok(())));
        assert_eq!(ledger.load(first), 4, "a full pool is allowed");
        assert_eq!(
            fast(&mut r, task(2, first, 1)),
            Some(Ok(())),
            "another task: same CPUs, same slots"
        );
        assert_eq!(
            fast(&mut r, task(1, first, 1)),
            Some(Err(ErrorKind::NoSlot))
        );
        assert_eq!(
            (r.held(first, Scope::Task(TaskId(1))), ledger.load(first)),
            (4, 4)
        );
        assert_eq!(fast(&mut r, task(1, first, -3)), Some(Ok(())));
        assert_eq!(ledger.load(first), 1, "a lower load is published");
        assert_eq!(fast(&mut r, task(1, first, -1)), Some(Ok(())));
        assert_eq!(ledger.load(first), 1, "task 2 still holds one");

        // Not the fast path's: a count past what a context can hold, a
        // task with a CPU binding in the pool, other scopes.
        assert_eq!(fast(&mut r, task(3, first, 70_000)), None);
        r.adjust(
            &ledger,
            &[Change {
                pool: first,
                scope: Scope::TaskOnCpu(TaskId(3), CpuId(0)),
                delta: 1,
            }],
        )
        .unwrap();
        assert_eq!(fast(&mut r, task(3, first, 1)), None);
        let cpu = Change {
            pool: first,
            scope: Scope::Cpu(CpuId(0)),
            delta: 1,
        };
        assert_eq!(fast(&mut r, cpu), None);
    }
}
