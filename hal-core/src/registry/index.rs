//! Two indexes over the breakpoint table that keep updating calls flat in
//! the number of breakpoints held:
//!
//! - the sharing roots by watch: a chained hash table whose key is what
//!   [`Request::same_watch`] compares, so `register` finds the entry whose
//!   slots a new request shares without scanning the table;
//! - the waiting flexible owners by priority: one circular list per
//!   priority and a mask of the non-empty ones, so the next breakpoint to
//!   reinstate is found without scanning either.
//!
//! Both live in the table's static capacity: one chain head per entry, and
//! per entry the links of both structures. Entry numbers are stored plus
//! one in 16 bits (a table has at most 65 535 entries), 0 meaning none.

use core::hash::{Hash, Hasher};

use crate::request::{Priority, Request};

/// Priorities a [`Priority`] can take.
const PRIORITIES: usize = 256;

/// What an entry is a member of, and its links there.
#[derive(Copy, Clone)]
struct Links {
    /// Hash chain it is in, plus one (0: not in the root index).
    bucket: u16,
    /// Next root in the same chain, plus one.
    chain_next: u16,
    /// Whether it is in a waiting list, and which.
    waiting: bool,
    priority: u8,
    /// Neighbours in its waiting list, plus one (the list is circular).
    wait_prev: u16,
    wait_next: u16,
}

impl Links {
    const NONE: Self = Self {
        bucket: 0,
        chain_next: 0,
        waiting: false,
        priority: 0,
        wait_prev: 0,
        wait_next: 0,
    };
}

/// The sharing-root and waiting indexes of a table of `BPS` entries.
pub(super) struct Index<const BPS: usize> {
    /// First root of each hash chain, plus one.
    chains: [u16; BPS],
    links: [Links; BPS],
    /// Per priority, the entry that has waited longest, plus one.
    waiting: [u16; PRIORITIES],
    /// Bit `p` set: priority `p` has a waiting entry.
    waiting_mask: [u64; PRIORITIES / 64],
}

/// A multiply-rotate hasher: the key is a few words, so a strong
/// byte-oriented hash would cost more than the chains it shortens.
struct WatchHasher(u64);

const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for WatchHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    // What a watch hashes is `u64`s, ids in `u32`s and enum discriminants
    // (`write_isize`, which goes to `write_usize`); anything else takes the
    // byte loop of `write`.
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(26) ^ n).wrapping_mul(MIX);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// The hash of everything [`Request::same_watch`] compares.
fn watch_hash(req: &Request) -> u32 {
    let mut h = WatchHasher(0);
    req.addr.hash(&mut h);
    req.len.hash(&mut h);
    req.kind.hash(&mut h);
    req.space.hash(&mut h);
    req.scope.hash(&mut h);
    req.pinning.hash(&mut h);
    (h.finish() >> 32) as u32
}

impl<const BPS: usize> Index<BPS> {
    pub(super) const fn new() -> Self {
        Self {
            chains: [0; BPS],
            links: [Links::NONE; BPS],
            waiting: [0; PRIORITIES],
            waiting_mask: [0; PRIORITIES / 64],
        }
    }

    /// The chain a watch hashes to (a multiply-shift reduction to `BPS`).
    fn chain_of(req: &Request) -> usize {
        ((u64::from(watch_hash(req)) * BPS as u64) >> 32) as usize
    }

    /// The lowest-numbered root whose watch `req` shares, among the roots
    /// indexed; `same(i)` tells whether entry `i` watches what `req` does.
    pub(super) fn root_for(&self, req: &Request, same: impl Fn(usize) -> bool) -> Option<usize> {
        let mut found: Option<usize> = None;
        let mut at = self.chains[Self::chain_of(req)];
        while at != 0 {
            let i = usize::from(at - 1);
            if found.is_none_or(|f| i < f) && same(i) {
                found = Some(i);
            }
            at = self.links[i].chain_next;
        }
        found
    }

    /// The waiting entry to reinstate first: the highest priority, and
    /// among equals the one that has waited longest.
    pub(super) fn first_waiting(&self) -> Option<usize> {
        let (word, bits) = self
            .waiting_mask
            .iter()
            .enumerate()
            .rev()
            .find(|(_, w)| **w != 0)?;
        let p = word * 64 + 63 - bits.leading_zeros() as usize;
        Some(usize::from(self.waiting[p] - 1))
    }

    /// Makes entry `index` a member of exactly what it should be now: the
    /// root index under `root` (its request) if it owns its slots, and the
    /// waiting list of `waiting` if it also waits for room.
    pub(super) fn set(&mut self, index: usize, root: Option<&Request>, waiting: Option<Priority>) {
        self.leave_chain(index);
        self.leave_waiting(index);
        if let Some(req) = root {
            let c = Self::chain_of(req);
            let l = &mut self.links[index];
            l.bucket = c as u16 + 1;
            l.chain_next = self.chains[c];
            self.chains[c] = index as u16 + 1;
        }
        if let Some(Priority(p)) = waiting {
            self.join_waiting(index, p);
        }
    }

    fn leave_chain(&mut self, index: usize) {
        let bucket = self.links[index].bucket;
        if bucket == 0 {
            return;
        }
        let next = self.links[index].chain_next;
        let me = index as u16 + 1;
        let head = &mut self.chains[usize::from(bucket - 1)];
        if *head == me {
            *head = next;
        } else {
            let mut at = *head;
            while at != 0 {
                let l = &mut self.links[usize::from(at - 1)];
                if l.chain_next == me {
                    l.chain_next = next;
                    break;
                }
                at = l.chain_next;
            }
        }
        let l = &mut self.links[index];
        l.bucket = 0;
        l.chain_next = 0;
    }

    fn join_waiting(&mut self, index: usize, p: u8) {
        let me = index as u16 + 1;
        let head = self.waiting[usize::from(p)];
        let (prev, next) = if head == 0 {
            self.waiting[usize::from(p)] = me;
            self.waiting_mask[usize::from(p / 64)] |= 1 << (p % 64);
            (me, me)
        } else {
            // Last in the circle: just before the head.
            let tail = self.links[usize::from(head - 1)].wait_prev;
            self.links[usize::from(tail - 1)].wait_next = me;
            self.links[usize::from(head - 1)].wait_prev = me;
            (tail, head)
        };
        let l = &mut self.links[index];
        l.waiting = true;
        l.priority = p;
        l.wait_prev = prev;
        l.wait_next = next;
    }

    fn leave_waiting(&mut self, index: usize) {
        let l = self.links[index];
        if !l.waiting {
            return;
        }
        let me = index as u16 + 1;
        let p = usize::from(l.priority);
        if l.wait_next == me {
            self.waiting[p] = 0;
            self.waiting_mask[p / 64] &= !(1 << (p % 64));
        } else {
            self.links[usize::from(l.wait_prev - 1)].wait_next = l.wait_next;
            self.links[usize::from(l.wait_next - 1)].wait_prev = l.wait_prev;
            if self.waiting[p] == me {
                self.waiting[p] = l.wait_next;
            }
        }
        let l = &mut self.links[index];
        l.waiting = false;
        l.wait_prev = 0;
        l.wait_next = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{CpuId, Scope, TaskId};

    fn at(addr: u64) -> Request {
        Request::write(addr, 8)
    }

    #[test]
    fn roots_are_found_by_watch_and_leave_cleanly() {
        let mut ix = Index::<4>::new();
        let reqs = [at(0x1000), at(0x2000), at(0x1000), at(0x3000)];
        for (i, r) in reqs.iter().enumerate() {
            ix.set(i, Some(r), None);
        }
        let find = |ix: &Index<4>, a: u64| ix.root_for(&at(a), |i| reqs[i].same_watch(&at(a)));
        assert_eq!(find(&ix, 0x1000), Some(0));
        assert_eq!(find(&ix, 0x3000), Some(3));
        assert_eq!(find(&ix, 0x4000), None);
        ix.set(0, None, None);
        assert_eq!(find(&ix, 0x1000), Some(2));
        for i in 1..4 {
            ix.set(i, None, None);
        }
        assert!(ix.chains.iter().all(|&c| c == 0));
    }

    /// How many different values `f` takes over `0..N`.
    fn distinct<const N: usize>(f: impl Fn(u64) -> u64) -> usize {
        let mut seen: [u64; N] = core::array::from_fn(|i| f(i as u64));
        seen.sort_unstable();
        1 + seen.windows(2).filter(|w| w[0] != w[1]).count()
    }

    #[test]
    fn the_hasher_mixes_every_word_it_is_given_into_what_it_finishes() {
        // After a first word, 256 different second words must give 256
        // different hashes, whichever method writes them: a method that
        // drops its word, or a mix that loses bits (OR, AND), collides.
        type Write = fn(&mut WatchHasher, u64);
        let writes: [(&str, Write); 4] = [
            ("write", |h, n| h.write(&n.to_le_bytes())),
            ("write_u32", |h, n| h.write_u32(n as u32)),
            ("write_u64", |h, n| h.write_u64(n)),
            ("write_usize", |h, n| h.write_usize(n as usize)),
        ];
        for (name, write) in writes {
            let hashes = distinct::<256>(|n| {
                let mut h = WatchHasher(0);
                h.write_u64(0x1234_5678_9abc_def0);
                write(&mut h, n);
                h.finish()
            });
            assert_eq!(hashes, 256, "{name} collides");
        }
    }

    #[test]
    fn watches_that_differ_in_one_field_spread_over_the_chains() {
        // Register's lookup is flat only if distinct watches fall in
        // distinct chains: 1024 watches in a table of 1024 chains leave
        // about 1 - 1/e of the chains used when the hash spreads them; all
        // in a handful of chains is a linear scan again.
        const N: usize = 1024;
        type Make = fn(u64) -> Request;
        let varied: [(&str, Make); 4] = [
            ("address", |i| at(0x8000 + 8 * i)),
            ("length", |i| Request::write(0x8000, 1 + i)),
            ("task", |i| at(0x8000).scope(Scope::Task(TaskId(i as u32)))),
            ("cpu", |i| at(0x8000).scope(Scope::Cpu(CpuId(i as u32)))),
        ];
        for (field, make) in varied {
            let chains = distinct::<N>(|i| Index::<N>::chain_of(&make(i)) as u64);
            assert!(chains >= N / 2, "{field}: {chains} chains of {N}");
        }
    }

    #[test]
    fn waiting_is_highest_priority_then_longest_waiting() {
        let mut ix = Index::<8>::new();
        assert_eq!(ix.first_waiting(), None);
        for (i, p) in [(3, 10u8), (5, 200), (1, 200), (2, 64), (7, 63)] {
            ix.set(i, None, Some(Priority(p)));
        }
        assert_eq!(ix.first_waiting(), Some(5));
        // Joining again puts it last among its priority.
        ix.set(5, None, Some(Priority(200)));
        assert_eq!(ix.first_waiting(), Some(1));
        ix.set(1, None, None);
        assert_eq!(ix.first_waiting(), Some(5));
        ix.set(5, None, None);
        assert_eq!(ix.first_waiting(), Some(2));
        ix.set(2, None, None);
        assert_eq!(ix.first_waiting(), Some(7));
        ix.set(7, None, None);
        assert_eq!(ix.first_waiting(), Some(3));
        ix.set(3, None, None);
        assert_eq!(ix.first_waiting(), None);
        assert_eq!(ix.waiting_mask, [0; 4]);
    }

    #[test]
    fn leaving_the_middle_of_a_waiting_list_keeps_its_order() {
        let mut ix = Index::<4>::new();
        for i in 0..4 {
            ix.set(i, None, Some(Priority(9)));
        }
        ix.set(1, None, None);
        let mut order = [usize::MAX; 4];
        for slot in &mut order {
            let Some(i) = ix.first_waiting() else { break };
            *slot = i;
            ix.set(i, None, None);
        }
        assert_eq!(order, [0, 2, 3, usize::MAX]);
    }
}
