//! Shared pieces of the benchmarks: a seeded generator, a timing loop, the
//! output format read by `cargo xtask bench`, and a trivial backend whose
//! costs are zero so that what is measured is the core alone.
#![allow(dead_code)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use hwbreak_core::{
    AccessKind, Arch, CpuId, Decoded, PoolId, Result, Resume, SlotCounts, SlotImage, SlotView,
    Space, MAX_SLOTS,
};

/// SplitMix64: small, seeded, reproducible on every machine.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        // Multiply-shift: unbiased enough for workloads, exact for replays.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// Prints one headline metric in the form `cargo xtask bench` collects.
pub fn metric(name: &str, value: f64) {
    println!("bench: {name} = {}", fmt_num(value));
}

/// Prints one headline ratio, always with decimals (`1.000`, not `1`).
pub fn ratio(name: &str, value: f64) {
    if value.abs() >= 100.0 {
        println!("bench: {name} = {value:.1}");
    } else {
        println!("bench: {name} = {value:.3}");
    }
}

/// Prints one supporting measurement.
pub fn detail(name: &str, value: f64, unit: &str) {
    println!("bench-detail: {name} = {} {unit}", fmt_num(value));
}

fn fmt_num(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// Nanoseconds per call of `op`: the fastest of `batches` batches, each
/// sized to last about `target` (at least one call). The fastest batch is
/// the one least disturbed by other work on the machine; every batch runs
/// the same calls.
pub fn ns_per_op(mut op: impl FnMut(), target: Duration, batches: usize) -> f64 {
    // Warm up and estimate.
    let start = Instant::now();
    op();
    let one = start.elapsed().max(Duration::from_nanos(1));
    let mut iters: u64 = (target.as_nanos() / one.as_nanos()).clamp(1, 10_000_000) as u64;
    // Refine the estimate on a short batch when a call is fast.
    if iters > 16 {
        let probe = (iters / 8).max(1);
        let start = Instant::now();
        for _ in 0..probe {
            op();
        }
        let per = start.elapsed().as_nanos() as f64 / probe as f64;
        iters = ((target.as_nanos() as f64 / per.max(0.1)) as u64).clamp(1, 50_000_000);
    }
    let mut samples: Vec<f64> = (0..batches.max(1))
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                op();
            }
            start.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    black_box(samples[0])
}

/// Nanoseconds per call of each of `ops`, measured in alternation: each
/// round times one batch (about `target` long) of every op in turn, and
/// each op keeps its fastest batch. Comparing ops measured this way is
/// immune to the machine getting busier or quieter during the run.
pub fn interleaved(ops: &mut [&mut dyn FnMut()], target: Duration, rounds: usize) -> Vec<f64> {
    let iters: Vec<u64> = ops
        .iter_mut()
        .map(|op| {
            op();
            let probe = 1_000;
            let start = Instant::now();
            for _ in 0..probe {
                op();
            }
            let per = start.elapsed().as_nanos() as f64 / probe as f64;
            ((target.as_nanos() as f64 / per.max(0.1)) as u64).clamp(1, 50_000_000)
        })
        .collect();
    let mut best = vec![f64::MAX; ops.len()];
    for _ in 0..rounds {
        for (k, op) in ops.iter_mut().enumerate() {
            let start = Instant::now();
            for _ in 0..iters[k] {
                op();
            }
            let per = start.elapsed().as_nanos() as f64 / iters[k] as f64;
            best[k] = best[k].min(per);
        }
    }
    black_box(best)
}

/// Runs `f` on a thread with a large stack: the benchmarks build tables of
/// hundreds of thousands of entries, constructed by value.
pub fn with_big_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new()
        .stack_size(512 << 20)
        .spawn(f)
        .expect("spawn benchmark thread")
        .join()
        .expect("benchmark thread panicked")
}

/// A backend that costs nothing: one pool of 16 slots, images are the
/// address, decoding copies the status word, writes go nowhere. With it, an
/// instruction count of the registry's paths is the core's own.
#[derive(Copy, Clone, Debug, Default)]
pub struct TrivialArch;

/// The trivial backend's trap: the hit bits, as a status register holds them.
#[derive(Copy, Clone, Debug, Default)]
pub struct StatusWord(pub u32);

impl Arch for TrivialArch {
    const NAME: &'static str = "trivial";
    const POOLS: usize = 1;
    type Trap = StatusWord;

    fn pool_of(&self, _kind: AccessKind) -> Result<PoolId> {
        Ok(PoolId::FIRST)
    }

    fn slot_counts(&self) -> SlotCounts {
        SlotCounts([MAX_SLOTS as u8, 0])
    }

    fn check_range(&self, _addr: u64, _end: u64, _space: Space) -> Result<()> {
        Ok(())
    }

    fn max_piece(&self, _kind: AccessKind, _addr: u64, len: u64) -> Result<u64> {
        Ok(len)
    }

    fn encode(&self, piece: &hwbreak_core::Piece) -> Result<SlotImage> {
        Ok(SlotImage {
            value: piece.addr,
            control: 1,
        })
    }

    fn control_word(&self, _pool: PoolId, _slots: &[Option<SlotImage>]) -> u64 {
        0
    }

    fn decode(&self, trap: &StatusWord, _armed: &dyn SlotView) -> Decoded {
        Decoded {
            hits: [trap.0, 0],
            address: None,
            access_len: 0,
            step_complete: false,
            resume: Some(Resume::Continue),
        }
    }

    unsafe fn write_slot(&self, _pool: PoolId, _index: usize, _image: Option<SlotImage>) {}

    unsafe fn write_control(&self, _pool: PoolId, _control: u64) {}

    unsafe fn set_armed(&self, _armed: bool) {}

    unsafe fn acknowledge(&self, _trap: &StatusWord) {}
}

/// The trivial backend with x86's pool sizes: one pool of 4 slots (the
/// README's x86 example), for measuring a registry built with
/// `SLOTS = 4`.
#[derive(Copy, Clone, Debug, Default)]
pub struct FourSlotArch;

/// Slots of [`FourSlotArch`]'s one pool.
pub const FOUR_SLOTS: usize = 4;

impl Arch for FourSlotArch {
    const NAME: &'static str = "trivial-4";
    const POOLS: usize = 1;
    type Trap = StatusWord;

    fn pool_of(&self, kind: AccessKind) -> Result<PoolId> {
        TrivialArch.pool_of(kind)
    }

    fn slot_counts(&self) -> SlotCounts {
        SlotCounts([FOUR_SLOTS as u8, 0])
    }

    fn check_range(&self, addr: u64, end: u64, space: Space) -> Result<()> {
        TrivialArch.check_range(addr, end, space)
    }

    fn max_piece(&self, kind: AccessKind, addr: u64, len: u64) -> Result<u64> {
        TrivialArch.max_piece(kind, addr, len)
    }

    fn encode(&self, piece: &hwbreak_core::Piece) -> Result<SlotImage> {
        TrivialArch.encode(piece)
    }

    fn control_word(&self, pool: PoolId, slots: &[Option<SlotImage>]) -> u64 {
        TrivialArch.control_word(pool, slots)
    }

    fn decode(&self, trap: &StatusWord, armed: &dyn SlotView) -> Decoded {
        TrivialArch.decode(trap, armed)
    }

    unsafe fn write_slot(&self, _pool: PoolId, _index: usize, _image: Option<SlotImage>) {}

    unsafe fn write_control(&self, _pool: PoolId, _control: u64) {}

    unsafe fn set_armed(&self, _armed: bool) {}

    unsafe fn acknowledge(&self, _trap: &StatusWord) {}
}

/// A platform of one CPU, always CPU 0.
#[derive(Copy, Clone, Debug, Default)]
pub struct OneCpu;

impl hwbreak_core::Platform for OneCpu {
    fn cpu_count(&self) -> u32 {
        1
    }

    fn current_cpu(&self) -> CpuId {
        CpuId(0)
    }

    fn run_on_each_cpu(&self, f: &(dyn Fn() + Sync)) {
        f();
    }

    fn user_limit(&self) -> u64 {
        0x0000_8000_0000_0000
    }
}
