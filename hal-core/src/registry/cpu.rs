//! Per-CPU state: what each CPU's registers hold, and loading them with the
//! fewest writes.

use core::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering};

use super::records::Token;
use crate::arch::{SlotImage, MAX_POOLS, MAX_SLOTS};

/// Slots one CPU can hold re-pointed at once
/// ([`Registry::modify_local`](super::Registry::modify_local)): enough for
/// a breakpoint of two slots (16 bytes on x86), or two of one. Re-pointing
/// is rare, so its state is a short list beside the table rather than a
/// copy of every slot, which kept 1280 bytes per CPU for it.
pub(crate) const LOCAL_SLOTS: usize = 2;

// Slot masks are 16 bits wide; the registry checks `SLOTS <= MAX_SLOTS`
// when it is built.
const _: () = assert!(MAX_SLOTS <= 16);

/// A bit per slot of one pool.
pub(crate) type SlotMask = u16;

/// What one CPU has loaded. Only its own CPU writes it (with interrupts
/// off, or from its own debug exception); atomics keep the type `Sync`.
///
/// `SLOTS` is the registry's slot capacity per pool: the token table is
/// that long, so a kernel sized for its CPU's real slot count pays for no
/// more. Its size is most of what every CPU of capacity costs (the
/// `percpu_state_bytes` benchmark; see the test below).
pub(crate) struct CpuState<const SLOTS: usize> {
    /// Token per slot, mirroring the hardware.
    pub(crate) tokens: [[AtomicU32; SLOTS]; MAX_POOLS],
    /// Control word per pool, as written.
    pub(crate) control: [AtomicU64; MAX_POOLS],
    /// Slots re-pointed on this CPU alone.
    local: [LocalSlot; LOCAL_SLOTS],
    /// Loaded debug context + 1 (0: none).
    pub(crate) task: AtomicU32,
    /// The registry's epoch when this CPU last read its records
    /// (`u32::MAX`: never, or offline). See `Registry::up_to_date`.
    pub(crate) epoch: AtomicU32,
    /// Slots disarmed while stepping over a hit, per pool.
    pub(crate) stepping: [AtomicU16; MAX_POOLS],
    /// Slots of the system-wide set, per pool, as loaded.
    pub(crate) system_mask: [AtomicU16; MAX_POOLS],
    /// Slots with an entry in `local`, per pool: dispatch tests this bit
    /// and searches `local` only when it is set.
    local_mask: [AtomicU16; MAX_POOLS],
    /// Whether the backend's debug machinery is on.
    pub(crate) armed: AtomicBool,
    /// Whether the CPU was brought online.
    pub(crate) online: AtomicBool,
}

/// One slot re-pointed on its CPU alone: valid while the slot holds the
/// token it was made for (an update of the breakpoint gives the slot a new
/// token, which drops it). Written and read only by its own CPU, with
/// interrupts off or from its debug exception.
struct LocalSlot {
    /// The token it applies to (0: the entry is free).
    token: AtomicU32,
    /// `pool * MAX_SLOTS + slot` (the stride is the core's limit, not the
    /// registry's capacity: the encoding is the same in every registry).
    place: AtomicU32,
    value: AtomicU64,
    control: AtomicU64,
    /// The watched range on this CPU, for dispatch's filtering.
    start: AtomicU64,
    end: AtomicU64,
}

impl LocalSlot {
    const fn new() -> Self {
        Self {
            token: AtomicU32::new(0),
            place: AtomicU32::new(0),
            value: AtomicU64::new(0),
            control: AtomicU64::new(0),
            start: AtomicU64::new(0),
            end: AtomicU64::new(0),
        }
    }

    /// Whether the entry re-points slot `place` while it holds `token`.
    fn applies(&self, place: u32, token: Token) -> bool {
        let t = self.token.load(Ordering::Acquire);
        t != 0 && t == token.0 && self.place.load(Ordering::Relaxed) == place
    }
}

pub(super) const fn place_of(pool: usize, slot: usize) -> u32 {
    (pool * MAX_SLOTS + slot) as u32
}

impl<const SLOTS: usize> CpuState<SLOTS> {
    pub(crate) const fn new() -> Self {
        Self {
            tokens: [const { [const { AtomicU32::new(0) }; SLOTS] }; MAX_POOLS],
            control: [const { AtomicU64::new(0) }; MAX_POOLS],
            local: [const { LocalSlot::new() }; LOCAL_SLOTS],
            task: AtomicU32::new(0),
            epoch: AtomicU32::new(u32::MAX),
            stepping: [const { AtomicU16::new(0) }; MAX_POOLS],
            system_mask: [const { AtomicU16::new(0) }; MAX_POOLS],
            local_mask: [const { AtomicU16::new(0) }; MAX_POOLS],
            armed: AtomicBool::new(false),
            online: AtomicBool::new(false),
        }
    }

    // `#[inline]` on the small accessors: the registry is generic, so its
    // code is instantiated in the kernel's crate, where a non-generic
    // function of this crate is otherwise a call (dispatch counted five
    // of them per hit).
    #[inline]
    pub(crate) fn token(&self, pool: usize, slot: usize) -> Token {
        Token(self.tokens[pool][slot].load(Ordering::Relaxed))
    }

    /// The debug context loaded here, if any.
    pub(crate) fn loaded_task(&self) -> Option<crate::request::TaskId> {
        match self.task.load(Ordering::Relaxed) {
            0 => None,
            t => Some(crate::request::TaskId(t - 1)),
        }
    }

    /// Whether any slot of `pool` is re-pointed locally.
    #[inline]
    pub(crate) fn any_local(&self, pool: usize) -> bool {
        self.local_mask[pool].load(Ordering::Relaxed) != 0
    }

    pub(crate) fn installed(&self, pool: usize) -> [Token; SLOTS] {
        core::array::from_fn(|i| self.token(pool, i))
    }

    /// The entry re-pointing slot `slot` of `pool` for `token`, if any.
    #[inline]
    fn local_for(&self, pool: usize, slot: usize, token: Token) -> Option<&LocalSlot> {
        if self.local_mask[pool].load(Ordering::Relaxed) & (1 << slot) == 0 {
            return None;
        }
        self.find_local(place_of(pool, slot), token)
    }

    #[cold]
    fn find_local(&self, place: u32, token: Token) -> Option<&LocalSlot> {
        self.local.iter().find(|l| l.applies(place, token))
    }

    /// The local image of slot `slot` of `pool`, if it is re-pointed for
    /// `token`.
    #[inline]
    pub(crate) fn local_image(&self, pool: usize, slot: usize, token: Token) -> Option<SlotImage> {
        self.local_for(pool, slot, token).map(|l| SlotImage {
            value: l.value.load(Ordering::Relaxed),
            control: l.control.load(Ordering::Relaxed),
        })
    }

    /// The local range of slot `slot` of `pool`, if it is re-pointed for
    /// `token`.
    #[inline]
    pub(crate) fn local_range(&self, pool: usize, slot: usize, token: Token) -> Option<(u64, u64)> {
        self.local_for(pool, slot, token).map(|l| {
            (
                l.start.load(Ordering::Relaxed),
                l.end.load(Ordering::Relaxed),
            )
        })
    }

    /// Whether `slots` of `pool` can all be re-pointed: each has an entry
    /// already or a free one is left for it.
    pub(crate) fn local_room(&self, pool: usize, slots: &[usize]) -> bool {
        let mut free = self.local.iter().filter(|l| !self.entry_live(l)).count();
        for &k in slots {
            let at = place_of(pool, k);
            let held = self
                .local
                .iter()
                .any(|l| self.entry_live(l) && l.place.load(Ordering::Relaxed) == at);
            if !held {
                if free == 0 {
                    return false;
                }
                free -= 1;
            }
        }
        true
    }

    /// Whether an entry applies to what its slot holds now (an entry whose
    /// slot took another token is free for reuse).
    // No `local_mask` test: an entry's token is non-zero only while its
    // slot's bit is set (`drop_local` clears the bit and zeroes the tokens
    // together, and `set_local` sets both on the CPU's own state).
    fn entry_live(&self, l: &LocalSlot) -> bool {
        let t = l.token.load(Ordering::Relaxed);
        let at = l.place.load(Ordering::Relaxed) as usize;
        let (p, k) = (at / MAX_SLOTS, at % MAX_SLOTS);
        t != 0
            && self
                .tokens
                .get(p)
                .and_then(|pool| pool.get(k))
                .is_some_and(|slot| slot.load(Ordering::Relaxed) == t)
    }

    /// Re-points slot `slot` of `pool`, which holds `token`. The caller
    /// checked [`CpuState::local_room`]; without room nothing changes and
    /// `false` comes back. The token is stored last, so the entry never
    /// names `token` with half-written settings.
    pub(crate) fn set_local(
        &self,
        pool: usize,
        slot: usize,
        token: Token,
        image: SlotImage,
        start: u64,
        end: u64,
    ) -> bool {
        let at = place_of(pool, slot);
        let entry = self
            .local
            .iter()
            .find(|l| self.entry_live(l) && l.place.load(Ordering::Relaxed) == at)
            .or_else(|| self.local.iter().find(|l| !self.entry_live(l)));
        let Some(l) = entry else {
            return false;
        };
        l.token.store(0, Ordering::Relaxed);
        l.place.store(at, Ordering::Relaxed);
        l.value.store(image.value, Ordering::Relaxed);
        l.control.store(image.control, Ordering::Relaxed);
        l.start.store(start, Ordering::Relaxed);
        l.end.store(end, Ordering::Relaxed);
        l.token.store(token.0, Ordering::Release);
        self.local_mask[pool].fetch_or(1 << slot, Ordering::Relaxed);
        true
    }

    /// Drops a local re-pointing of slot `slot` of `pool`, if any.
    #[inline]
    pub(crate) fn clear_local(&self, pool: usize, slot: usize) {
        if self.local_mask[pool].load(Ordering::Relaxed) & (1 << slot) != 0 {
            self.drop_local(pool, slot);
        }
    }

    #[cold]
    fn drop_local(&self, pool: usize, slot: usize) {
        self.local_mask[pool].fetch_and(!(1 << slot), Ordering::Relaxed);
        let at = place_of(pool, slot);
        for l in &self.local {
            if l.place.load(Ordering::Relaxed) == at {
                l.token.store(0, Ordering::Relaxed);
            }
        }
    }

    /// Drops every local re-pointing of `pool`.
    pub(crate) fn clear_all_local(&self, pool: usize) {
        let mut rest = self.local_mask[pool].load(Ordering::Relaxed);
        while rest != 0 {
            let k = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            self.drop_local(pool, k);
        }
    }
}

/// Computes a pool's new slot table from what is installed, the slots fixed
/// at the same index on every CPU (`fixed`), and the CPU's own wanted
/// tokens (`local`), for a pool of `n` slots.
///
/// Fixed slots take their index. A local token that is already installed
/// (same entry and piece, maybe a newer generation) keeps its index, so an
/// unchanged breakpoint is never rewritten and a modified one is rewritten
/// in place. Other local tokens take the lowest free indices. Returns the
/// table and how many local tokens found no room (0 unless reservation was
/// bypassed).
pub(crate) fn place<const SLOTS: usize>(
    installed: &[Token; SLOTS],
    fixed: &[Token; SLOTS],
    local: &[Token],
    n: usize,
) -> ([Token; SLOTS], usize) {
    let n = n.min(SLOTS);
    let mut table = [Token::EMPTY; SLOTS];
    table[..n].copy_from_slice(&fixed[..n]);
    let mut placed = [false; SLOTS];
    for (j, tok) in local.iter().enumerate() {
        if let Some(k) = (0..n).find(|&k| table[k].is_empty() && installed[k].same_place(*tok)) {
            table[k] = *tok;
            placed[j] = true;
        }
    }
    let mut dropped = 0;
    for (j, tok) in local.iter().enumerate() {
        if placed[j] {
            continue;
        }
        match (0..n).find(|&k| table[k].is_empty()) {
            Some(k) => table[k] = *tok,
            None => dropped += 1,
        }
    }
    (table, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cpu_costs_at_most_256_bytes() {
        assert!(core::mem::size_of::<CpuState<MAX_SLOTS>>() <= 256);
    }

    /// The token table is what shrinks with the capacity: four slots a
    /// pool save 12 tokens of 4 bytes in each of the two pools.
    #[test]
    fn a_smaller_capacity_shrinks_the_token_table() {
        let full = core::mem::size_of::<CpuState<MAX_SLOTS>>();
        let four = core::mem::size_of::<CpuState<4>>();
        assert_eq!(full - four, 2 * (MAX_SLOTS - 4) * 4);
    }

    fn state_holding(p: usize, slots: &[(usize, Token)]) -> CpuState<MAX_SLOTS> {
        let s = CpuState::new();
        for &(k, tok) in slots {
            s.tokens[p][k].store(tok.0, Ordering::Relaxed);
        }
        s
    }

    const IMG: SlotImage = SlotImage {
        value: 0x1000,
        control: 7,
    };

    #[test]
    fn a_local_entry_applies_to_its_slot_and_token_only() {
        let s = state_holding(1, &[(3, t(4, 1)), (5, t(6, 1))]);
        assert!(s.set_local(1, 3, t(4, 1), IMG, 0x1000, 0x1008));
        assert_eq!(s.local_image(1, 3, t(4, 1)), Some(IMG));
        assert_eq!(s.local_range(1, 3, t(4, 1)), Some((0x1000, 0x1008)));
        assert!(s.any_local(1) && !s.any_local(0));
        // Another generation, another slot, another pool: not re-pointed.
        assert_eq!(s.local_image(1, 3, t(4, 2)), None);
        assert_eq!(s.local_range(1, 5, t(6, 1)), None);
        assert_eq!(s.local_range(0, 3, t(4, 1)), None);
        s.clear_local(1, 3);
        assert_eq!(s.local_image(1, 3, t(4, 1)), None);
        assert!(!s.any_local(1));
    }

    #[test]
    fn local_entries_run_out_and_come_back() {
        let s = state_holding(0, &[(0, t(1, 0)), (1, t(2, 0)), (2, t(3, 0))]);
        assert!(s.local_room(0, &[0, 1]));
        assert!(!s.local_room(0, &[0, 1, 2]));
        assert!(s.set_local(0, 0, t(1, 0), IMG, 1, 2));
        assert!(s.set_local(0, 1, t(2, 0), IMG, 3, 4));
        assert!(!s.local_room(0, &[2]));
        assert!(!s.set_local(0, 2, t(3, 0), IMG, 5, 6));
        assert_eq!(s.local_range(0, 2, t(3, 0)), None);
        // Re-pointing a slot again reuses its entry.
        assert!(s.local_room(0, &[1]));
        assert!(s.set_local(0, 1, t(2, 0), IMG, 7, 8));
        assert_eq!(s.local_range(0, 1, t(2, 0)), Some((7, 8)));
        assert_eq!(s.local_range(0, 0, t(1, 0)), Some((1, 2)));
        // A slot that took another token frees its entry.
        s.tokens[0][0].store(t(9, 0).0, Ordering::Relaxed);
        assert!(s.local_room(0, &[2]));
        assert!(s.set_local(0, 2, t(3, 0), IMG, 5, 6));
        assert_eq!(s.local_range(0, 2, t(3, 0)), Some((5, 6)));
        assert_eq!(s.local_range(0, 1, t(2, 0)), Some((7, 8)));
        s.clear_all_local(0);
        assert!(!s.any_local(0));
        assert_eq!(s.local_range(0, 1, t(2, 0)), None);
        assert!(s.local_room(0, &[0, 1]));
    }

    fn t(i: usize, g: u32) -> Token {
        Token::entry(i, 0, g)
    }

    #[test]
    fn unchanged_tokens_keep_their_slot() {
        let mut installed = [Token::EMPTY; MAX_SLOTS];
        installed[2] = t(7, 1);
        let (table, dropped) = place(
            &installed,
            &[Token::EMPTY; MAX_SLOTS],
            &[t(9, 1), t(7, 1)],
            4,
        );
        assert_eq!(dropped, 0);
        assert_eq!(table[2], t(7, 1));
        assert_eq!(table[0], t(9, 1));
        assert!(table[1].is_empty() && table[3].is_empty());
    }

    #[test]
    fn a_modified_token_is_rewritten_in_place() {
        let mut installed = [Token::EMPTY; MAX_SLOTS];
        installed[3] = t(5, 1);
        let (table, _) = place(&installed, &[Token::EMPTY; MAX_SLOTS], &[t(5, 2)], 4);
        assert_eq!(table[3], t(5, 2));
    }

    #[test]
    fn fixed_slots_evict_a_local_token_to_a_free_slot() {
        let mut installed = [Token::EMPTY; MAX_SLOTS];
        installed[3] = t(5, 1);
        let mut fixed = [Token::EMPTY; MAX_SLOTS];
        fixed[3] = Token::debugger(3);
        let (table, dropped) = place(&installed, &fixed, &[t(5, 1)], 4);
        assert_eq!(dropped, 0);
        assert_eq!(table[3], Token::debugger(3));
        assert_eq!(table[0], t(5, 1));
    }

    #[test]
    fn overflow_is_counted_never_overwritten() {
        let mut fixed = [Token::EMPTY; MAX_SLOTS];
        fixed[0] = t(1, 0);
        let (table, dropped) = place(&[Token::EMPTY; MAX_SLOTS], &fixed, &[t(2, 0), t(3, 0)], 2);
        assert_eq!(dropped, 1);
        assert_eq!(table[0], t(1, 0));
        assert_eq!(table[1], t(2, 0));
    }
}
