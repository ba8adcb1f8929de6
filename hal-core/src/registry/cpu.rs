//! Per-CPU state: what each CPU's registers hold, and loading them with the
//! fewest writes.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::records::Token;
use crate::arch::{SlotImage, MAX_POOLS, MAX_SLOTS};

/// What one CPU has loaded. Only its own CPU writes it (with interrupts
/// off, or from its own debug exception); atomics keep the type `Sync`.
pub(crate) struct CpuState {
    /// Token per slot, mirroring the hardware.
    pub(crate) tokens: [[AtomicU32; MAX_SLOTS]; MAX_POOLS],
    /// Control word per pool, as written.
    pub(crate) control: [AtomicU64; MAX_POOLS],
    /// Slots disarmed while stepping over a hit, per pool.
    pub(crate) stepping: [AtomicU32; MAX_POOLS],
    /// Loaded debug context + 1 (0: none).
    pub(crate) task: AtomicU32,
    /// Sequence numbers of the records as loaded: context, CPU, system,
    /// debugger.
    pub(crate) seqs: [AtomicU32; 4],
    /// Whether the backend's debug machinery is on.
    pub(crate) armed: AtomicBool,
    /// Whether the CPU was brought online.
    pub(crate) online: AtomicBool,
    /// Slots of the system-wide set, per pool, as loaded (bit per slot).
    pub(crate) system_mask: [AtomicU32; MAX_POOLS],
    /// Slots re-pointed on this CPU alone
    /// ([`Registry::modify_local`](super::Registry::modify_local)).
    pub(crate) local: [[LocalSlot; MAX_SLOTS]; MAX_POOLS],
}

/// One slot re-pointed on its CPU alone: valid while the slot holds the
/// token it was made for (an update of the breakpoint gives the slot a new
/// token, which drops it). Written and read only by its own CPU, with
/// interrupts off or from its debug exception.
pub(crate) struct LocalSlot {
    /// The token it applies to (0: none).
    pub(crate) token: AtomicU32,
    value: AtomicU64,
    control: AtomicU64,
    /// The watched range on this CPU, for dispatch's filtering.
    pub(crate) start: AtomicU64,
    pub(crate) end: AtomicU64,
}

impl LocalSlot {
    const fn new() -> Self {
        Self {
            token: AtomicU32::new(0),
            value: AtomicU64::new(0),
            control: AtomicU64::new(0),
            start: AtomicU64::new(0),
            end: AtomicU64::new(0),
        }
    }

    /// Re-points the slot holding `token` (the token is stored last, so
    /// the slot never names `token` with half-written settings).
    pub(crate) fn set(&self, token: Token, image: SlotImage, start: u64, end: u64) {
        self.token.store(0, Ordering::Relaxed);
        self.value.store(image.value, Ordering::Relaxed);
        self.control.store(image.control, Ordering::Relaxed);
        self.start.store(start, Ordering::Relaxed);
        self.end.store(end, Ordering::Relaxed);
        self.token.store(token.0, Ordering::Release);
    }

    /// The local image, if the slot's re-pointing applies to `token`.
    pub(crate) fn image_for(&self, token: Token) -> Option<SlotImage> {
        let t = self.token.load(Ordering::Acquire);
        (t != 0 && t == token.0).then(|| SlotImage {
            value: self.value.load(Ordering::Relaxed),
            control: self.control.load(Ordering::Relaxed),
        })
    }

    /// The local range, if the slot's re-pointing applies to `token`.
    pub(crate) fn range_for(&self, token: Token) -> Option<(u64, u64)> {
        let t = self.token.load(Ordering::Acquire);
        (t != 0 && t == token.0).then(|| {
            (
                self.start.load(Ordering::Relaxed),
                self.end.load(Ordering::Relaxed),
            )
        })
    }

    pub(crate) fn clear(&self) {
        self.token.store(0, Ordering::Relaxed);
    }
}

pub(crate) const SEQ_TASK: usize = 0;
pub(crate) const SEQ_CPU: usize = 1;
pub(crate) const SEQ_SYSTEM: usize = 2;
pub(crate) const SEQ_DEBUGGER: usize = 3;

impl CpuState {
    pub(crate) const fn new() -> Self {
        Self {
            tokens: [const { [const { AtomicU32::new(0) }; MAX_SLOTS] }; MAX_POOLS],
            control: [const { AtomicU64::new(0) }; MAX_POOLS],
            stepping: [const { AtomicU32::new(0) }; MAX_POOLS],
            task: AtomicU32::new(0),
            seqs: [const { AtomicU32::new(u32::MAX) }; 4],
            armed: AtomicBool::new(false),
            online: AtomicBool::new(false),
            system_mask: [const { AtomicU32::new(0) }; MAX_POOLS],
            local: [const { [const { LocalSlot::new() }; MAX_SLOTS] }; MAX_POOLS],
        }
    }

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
    pub(crate) fn any_local(&self, pool: usize) -> bool {
        self.local[pool]
            .iter()
            .any(|l| l.token.load(Ordering::Relaxed) != 0)
    }

    pub(crate) fn installed(&self, pool: usize) -> [Token; MAX_SLOTS] {
        core::array::from_fn(|i| self.token(pool, i))
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
pub(crate) fn place(
    installed: &[Token; MAX_SLOTS],
    fixed: &[Token; MAX_SLOTS],
    local: &[Token],
    n: usize,
) -> ([Token; MAX_SLOTS], usize) {
    let n = n.min(MAX_SLOTS);
    let mut table = [Token::EMPTY; MAX_SLOTS];
    table[..n].copy_from_slice(&fixed[..n]);
    let mut placed = [false; MAX_SLOTS];
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
