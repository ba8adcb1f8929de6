//! Lock-free readable state: slot tokens, the per-entry facts dispatch
//! needs, and the seqlocked lists each CPU loads from.
//!
//! Writers hold the registry lock; readers (context switch, CPU reload, the
//! debug exception) take no lock. Every cell is an atomic, so a reader racing
//! a writer sees old or new values, never torn ones, and a sequence number
//! (or an entry generation) tells it to retry or to ignore what it read.

use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::arch::{PoolId, SlotImage, MAX_POOLS, MAX_SLOTS};
use crate::cover::MAX_PIECES;
use crate::request::{Handler, HandlerFn};

/// Names what a slot holds: an entry's piece at one generation, or a
/// debugger slot. 0 is "empty".
///
/// Layout: bit 31 valid, bit 30 debugger, bits 19..30 generation (11 bits),
/// bits 16..19 piece, bits 0..16 entry index (or debugger slot index).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Token(pub(crate) u32);

const VALID: u32 = 1 << 31;
const DEBUGGER: u32 = 1 << 30;
pub(crate) const GEN_MASK: u32 = 0x7ff;

impl Token {
    pub(crate) const EMPTY: Self = Self(0);

    pub(crate) const fn entry(index: usize, piece: usize, generation: u32) -> Self {
        Self(VALID | ((generation & GEN_MASK) << 19) | ((piece as u32) << 16) | index as u32)
    }

    pub(crate) const fn debugger(index: usize) -> Self {
        Self(VALID | DEBUGGER | index as u32)
    }

    pub(crate) const fn is_empty(self) -> bool {
        self.0 & VALID == 0
    }

    pub(crate) const fn is_debugger(self) -> bool {
        self.0 & DEBUGGER != 0
    }

    #[inline]
    pub(crate) const fn index(self) -> usize {
        (self.0 & 0xffff) as usize
    }

    pub(crate) const fn piece(self) -> usize {
        ((self.0 >> 16) & 0x7) as usize
    }

    pub(crate) const fn generation(self) -> u32 {
        (self.0 >> 19) & GEN_MASK
    }

    /// Same entry and piece, any generation: the same thing, maybe modified.
    pub(crate) const fn same_place(self, other: Self) -> bool {
        (self.0 & !(GEN_MASK << 19)) == (other.0 & !(GEN_MASK << 19))
    }
}

fn store_handler(cell: &AtomicPtr<()>, func: HandlerFn) {
    cell.store(func as *mut (), Ordering::Relaxed);
}

#[inline]
fn load_handler(cell: &AtomicPtr<()>) -> HandlerFn {
    let raw = cell.load(Ordering::Relaxed);
    // SAFETY: every value stored in a handler cell comes from
    // `store_handler`, which stores a `HandlerFn`; the cells start with
    // `NOOP_HANDLER`'s address, also a `HandlerFn`. Function pointers and
    // data pointers have the same size on every supported target.
    unsafe { core::mem::transmute::<*mut (), HandlerFn>(raw) }
}

fn noop(_: &crate::Event) {}
const NOOP_HANDLER: HandlerFn = noop;

/// What dispatch needs to know about an entry, readable without the lock.
pub(crate) struct SharedEntry {
    /// Piece generation (tokens carry its low bits).
    pub(crate) generation: AtomicU32,
    /// Generation of the user's handle, for events.
    pub(crate) handle_generation: AtomicU32,
    func: AtomicPtr<()>,
    context: AtomicUsize,
    pub(crate) start: AtomicU64,
    pub(crate) end: AtomicU64,
    /// Deliver hits to this entry's handler (it is enabled).
    pub(crate) deliver: AtomicBool,
    /// Next entry sharing this one's slots (index + 1; 0 ends the chain).
    pub(crate) next_sharer: AtomicU32,
    images: [[AtomicU64; 2]; MAX_PIECES],
}

impl SharedEntry {
    pub(crate) const fn new() -> Self {
        Self {
            generation: AtomicU32::new(0),
            handle_generation: AtomicU32::new(0),
            func: AtomicPtr::new(NOOP_HANDLER as *mut ()),
            context: AtomicUsize::new(0),
            start: AtomicU64::new(0),
            end: AtomicU64::new(0),
            deliver: AtomicBool::new(false),
            next_sharer: AtomicU32::new(0),
            images: [const { [AtomicU64::new(0), AtomicU64::new(0)] }; MAX_PIECES],
        }
    }

    pub(crate) fn set_handler(&self, handler: Handler) {
        store_handler(&self.func, handler.func);
        self.context.store(handler.context, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn handler(&self) -> Handler {
        Handler::new(
            load_handler(&self.func),
            self.context.load(Ordering::Relaxed),
        )
    }

    pub(crate) fn set_image(&self, piece: usize, image: SlotImage) {
        self.images[piece][0].store(image.value, Ordering::Relaxed);
        self.images[piece][1].store(image.control, Ordering::Relaxed);
    }

    pub(crate) fn image(&self, piece: usize) -> SlotImage {
        SlotImage {
            value: self.images[piece][0].load(Ordering::Relaxed),
            control: self.images[piece][1].load(Ordering::Relaxed),
        }
    }

    /// Whether `token` still names this entry's current pieces.
    #[inline]
    pub(crate) fn current(&self, token: Token) -> bool {
        self.generation.load(Ordering::Acquire) & GEN_MASK == token.generation()
    }
}

/// A slot the kernel debugger armed through the lockless path.
pub(crate) struct DebuggerSlot {
    /// 0 free, 1 claimed (being filled or emptied), 2 armed.
    pub(crate) state: AtomicU32,
    image: [AtomicU64; 2],
    func: AtomicPtr<()>,
    context: AtomicUsize,
    pub(crate) start: AtomicU64,
    pub(crate) end: AtomicU64,
    pub(crate) generation: AtomicU32,
}

pub(crate) const DEBUGGER_FREE: u32 = 0;
pub(crate) const DEBUGGER_CLAIMED: u32 = 1;
pub(crate) const DEBUGGER_ARMED: u32 = 2;

impl DebuggerSlot {
    pub(crate) const fn new() -> Self {
        Self {
            state: AtomicU32::new(DEBUGGER_FREE),
            image: [AtomicU64::new(0), AtomicU64::new(0)],
            func: AtomicPtr::new(NOOP_HANDLER as *mut ()),
            context: AtomicUsize::new(0),
            start: AtomicU64::new(0),
            end: AtomicU64::new(0),
            generation: AtomicU32::new(0),
        }
    }

    pub(crate) fn fill(&self, image: SlotImage, handler: Handler, start: u64, end: u64) {
        self.image[0].store(image.value, Ordering::Relaxed);
        self.image[1].store(image.control, Ordering::Relaxed);
        store_handler(&self.func, handler.func);
        self.context.store(handler.context, Ordering::Relaxed);
        self.start.store(start, Ordering::Relaxed);
        self.end.store(end, Ordering::Relaxed);
    }

    pub(crate) fn image(&self) -> SlotImage {
        SlotImage {
            value: self.image[0].load(Ordering::Relaxed),
            control: self.image[1].load(Ordering::Relaxed),
        }
    }

    pub(crate) fn handler(&self) -> Handler {
        Handler::new(
            load_handler(&self.func),
            self.context.load(Ordering::Relaxed),
        )
    }
}

/// A seqlocked list of tokens per pool: what one debug context (or the
/// kernel breakpoints bound to one CPU) wants loaded. `cpu[p][i]` restricts
/// `tokens[p][i]` to one CPU (`ANY_CPU`: none).
///
/// `SLOTS` is the list's length per pool. `R` is the room for
/// restrictions: `SLOTS` in a debug context's record (a context's
/// breakpoint may be bound to one CPU), 0 in a CPU's record (everything in
/// it is for that CPU), which saves each CPU a second array of tokens'
/// worth.
pub(crate) struct ContextRecord<const SLOTS: usize, const R: usize> {
    pub(crate) seq: AtomicU32,
    tokens: [[AtomicU32; SLOTS]; MAX_POOLS],
    cpu: [[AtomicU32; R]; MAX_POOLS],
}

/// The record of one debug context: [`MAX_SLOTS`] long whatever the
/// registry's capacity. A context's breakpoints bound to different CPUs
/// count against their own CPU only, so one context may hold more tokens
/// in a pool than the pool has slots (four bound to CPU 0 and four bound
/// to CPU 1 on x86); a list as long as the pool would refuse them.
pub(crate) type TaskRecord = ContextRecord<MAX_SLOTS, MAX_SLOTS>;

/// The record of the breakpoints bound to one CPU, `SLOTS` long (the
/// registry's capacity per pool): everything in it is loaded on that CPU,
/// so it never holds more than the pool.
pub(crate) type CpuRecord<const SLOTS: usize> = ContextRecord<SLOTS, 0>;

pub(crate) const ANY_CPU: u32 = u32::MAX;

/// A consistent copy of a record's list for one CPU.
#[derive(Copy, Clone)]
pub(crate) struct Wanted<const SLOTS: usize> {
    pub(crate) tokens: [[Token; SLOTS]; MAX_POOLS],
    pub(crate) len: [usize; MAX_POOLS],
}

impl<const SLOTS: usize> Wanted<SLOTS> {
    pub(crate) const EMPTY: Self = Self {
        tokens: [[Token::EMPTY; SLOTS]; MAX_POOLS],
        len: [0; MAX_POOLS],
    };

    pub(crate) fn push(&mut self, pool: usize, token: Token) {
        // Never full here: a CPU's own tokens and its context's tokens for
        // it are at most that CPU's load, which admission keeps within the
        // pool, and `init` refuses a pool larger than `SLOTS`. Were it full,
        // the list would keep what it has rather than panic in a switch.
        if let Some(free) = self.tokens[pool].get_mut(self.len[pool]) {
            *free = token;
            self.len[pool] += 1;
        }
    }
}

/// Runs `read` until it saw a stable, even sequence number around it.
fn read_consistent<T>(seq: &AtomicU32, mut read: impl FnMut() -> T) -> T {
    loop {
        let before = seq.load(Ordering::Acquire);
        if before & 1 == 0 {
            let value = read();
            core::sync::atomic::fence(Ordering::Acquire);
            if seq.load(Ordering::Relaxed) == before {
                return value;
            }
        }
        core::hint::spin_loop();
    }
}

impl<const SLOTS: usize, const R: usize> ContextRecord<SLOTS, R> {
    const ROOM_OK: () = assert!(R == 0 || R == SLOTS);

    pub(crate) const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::ROOM_OK;
        Self {
            seq: AtomicU32::new(0),
            tokens: [const { [const { AtomicU32::new(0) }; SLOTS] }; MAX_POOLS],
            cpu: [const { [const { AtomicU32::new(ANY_CPU) }; R] }; MAX_POOLS],
        }
    }

    /// Restricts token `i` of pool `p` to `cpu` (writer side). A record
    /// without room for restrictions holds only unrestricted tokens.
    fn restrict(&self, p: usize, i: usize, cpu: u32) {
        match self.cpu[p].get(i) {
            Some(c) => c.store(cpu, Ordering::Relaxed),
            None => debug_assert_eq!(cpu, ANY_CPU, "a CPU's record restricts nothing"),
        }
    }

    /// The CPU token `i` of pool `p` is restricted to (reader side).
    #[inline]
    fn restriction(&self, p: usize, i: usize) -> u32 {
        self.cpu[p]
            .get(i)
            .map_or(ANY_CPU, |c| c.load(Ordering::Relaxed))
    }

    /// Writer side (registry lock held): runs `f` between odd and even
    /// sequence numbers.
    fn write(&self, f: impl FnOnce(&Self)) {
        self.seq.fetch_add(1, Ordering::Relaxed);
        core::sync::atomic::fence(Ordering::Release);
        f(self);
        self.seq.fetch_add(1, Ordering::Release);
    }

    /// Whether `n` more tokens fit in `pool`.
    pub(crate) fn room(&self, pool: PoolId, n: usize) -> bool {
        let free = self.tokens[pool.index()]
            .iter()
            .filter(|t| t.load(Ordering::Relaxed) == 0)
            .count();
        free >= n
    }

    /// Adds `token` for `cpu` (writer side). The caller checked
    /// [`ContextRecord::room`].
    pub(crate) fn add(&self, pool: PoolId, token: Token, cpu: u32) {
        self.write(|r| {
            let p = pool.index();
            if let Some(i) = r.tokens[p]
                .iter()
                .position(|t| t.load(Ordering::Relaxed) == 0)
            {
                r.restrict(p, i, cpu);
                r.tokens[p][i].store(token.0, Ordering::Relaxed);
            }
        });
    }

    /// Whether `n` tokens fit in `pool` once entry `index`'s are removed.
    pub(crate) fn room_replacing(&self, pool: PoolId, n: usize, index: usize) -> bool {
        let free = self.tokens[pool.index()]
            .iter()
            .map(|t| Token(t.load(Ordering::Relaxed)))
            .filter(|t| t.is_empty() || (!t.is_debugger() && t.index() == index))
            .count();
        free >= n
    }

    /// Replaces entry `index`'s tokens with `tokens` in `pool`, in one
    /// write (writer side). The caller checked [`ContextRecord::room_replacing`].
    pub(crate) fn replace_entry(&self, index: usize, pool: PoolId, tokens: &[Token], cpu: u32) {
        self.write(|r| {
            r.clear_entry(index);
            let p = pool.index();
            let mut free = r.tokens[p]
                .iter()
                .enumerate()
                .filter(|(_, t)| t.load(Ordering::Relaxed) == 0);
            for tok in tokens {
                if let Some((i, t)) = free.next() {
                    r.restrict(p, i, cpu);
                    t.store(tok.0, Ordering::Relaxed);
                }
            }
        });
    }

    /// Removes every token of entry `index` (writer side).
    pub(crate) fn remove_entry(&self, index: usize) {
        self.write(|r| r.clear_entry(index));
    }

    /// Empties every token of entry `index`; only inside [`Self::write`].
    fn clear_entry(&self, index: usize) {
        for t in self.tokens.iter().flatten() {
            let tok = Token(t.load(Ordering::Relaxed));
            if !tok.is_empty() && !tok.is_debugger() && tok.index() == index {
                t.store(0, Ordering::Relaxed);
            }
        }
    }

    /// Replaces tokens of entry `from` by the same pieces of entry `to`
    /// (writer side; used when a sharer takes over an entry's slots).
    pub(crate) fn rename_entry(&self, from: usize, to: usize, generation: u32) {
        self.write(|r| {
            for p in 0..MAX_POOLS {
                for t in &r.tokens[p] {
                    let tok = Token(t.load(Ordering::Relaxed));
                    if !tok.is_empty() && !tok.is_debugger() && tok.index() == from {
                        t.store(
                            Token::entry(to, tok.piece(), generation).0,
                            Ordering::Relaxed,
                        );
                    }
                }
            }
        });
    }

    /// The tokens that apply on `cpu` (reader side, lock-free).
    pub(crate) fn read_for(&self, cpu: u32) -> Wanted<SLOTS> {
        read_consistent(&self.seq, || {
            let mut w = Wanted::EMPTY;
            for p in 0..MAX_POOLS {
                for (i, t) in self.tokens[p].iter().enumerate() {
                    let tok = Token(t.load(Ordering::Relaxed));
                    let only = self.restriction(p, i);
                    if !tok.is_empty() && (only == ANY_CPU || only == cpu) {
                        w.push(p, tok);
                    }
                }
            }
            w
        })
    }
}

/// The system-wide set: slots every CPU loads at the same index, and their
/// control word, computed once per update (never per CPU).
pub(crate) struct SystemRecord<const SLOTS: usize> {
    pub(crate) seq: AtomicU32,
    tokens: [[AtomicU32; SLOTS]; MAX_POOLS],
    control: [AtomicU64; MAX_POOLS],
}

/// A consistent copy of the system set.
#[derive(Copy, Clone)]
pub(crate) struct SystemView<const SLOTS: usize> {
    pub(crate) tokens: [[Token; SLOTS]; MAX_POOLS],
    pub(crate) control: [u64; MAX_POOLS],
}

impl<const SLOTS: usize> SystemRecord<SLOTS> {
    pub(crate) const fn new() -> Self {
        Self {
            seq: AtomicU32::new(0),
            tokens: [const { [const { AtomicU32::new(0) }; SLOTS] }; MAX_POOLS],
            control: [const { AtomicU64::new(0) }; MAX_POOLS],
        }
    }

    /// Publishes a new system set (writer side): tokens by slot index and
    /// the control words computed from them.
    pub(crate) fn publish(&self, tokens: &[[Token; SLOTS]; MAX_POOLS], control: &[u64; MAX_POOLS]) {
        self.seq.fetch_add(1, Ordering::Relaxed);
        core::sync::atomic::fence(Ordering::Release);
        for p in 0..MAX_POOLS {
            for (cell, tok) in self.tokens[p].iter().zip(&tokens[p]) {
                cell.store(tok.0, Ordering::Relaxed);
            }
            self.control[p].store(control[p], Ordering::Relaxed);
        }
        self.seq.fetch_add(1, Ordering::Release);
    }

    pub(crate) fn read(&self) -> SystemView<SLOTS> {
        read_consistent(&self.seq, || SystemView {
            tokens: core::array::from_fn(|p| {
                core::array::from_fn(|i| Token(self.tokens[p][i].load(Ordering::Relaxed)))
            }),
            control: core::array::from_fn(|p| self.control[p].load(Ordering::Relaxed)),
        })
    }
}
