//! The core does not trust its backend's answers: a backend that answers
//! outside what the `Arch` contract allows (a piece longer than what is
//! left to cover, or of zero bytes; a hit in a slot that does not exist)
//! gets a refusal or a spurious outcome, never a panic, a loop, or a watch
//! of something other than what was asked.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hwbreak_core::cover::exact_cover;
use hwbreak_core::model::{on_cpu, Config, Machine, ModelArch, ModelPlatform, ModelTrap};
use hwbreak_core::{
    AccessKind, Arch, Decoded, ErrorKind, MemoryType, Piece, PoolId, Registry, Request, Resume,
    SlotCounts, SlotImage, SlotView, Space,
};

/// The model backend (with `POOLS` pools, as the machine has), except
/// where a test makes it lie; it also records what the decoder sees.
struct Liar<const POOLS: usize> {
    model: ModelArch,
    /// Added to every `max_piece` answer (wrapping: `u64::MAX` is -1).
    piece_bias: AtomicU64,
    /// Slot bit reported by `decode` on top of the model's hits (0: none).
    extra_hit: AtomicU64,
    /// Bits every control word has on top of the model's (x86's DR7 has
    /// such bits: LE, GE and the reserved bit 10).
    control_extra: AtomicU64,
    /// What `decode` saw of each data slot, at each trap.
    seen: Mutex<Vec<[Option<SlotImage>; 4]>>,
}

impl<const POOLS: usize> Liar<POOLS> {
    fn new(machine: Arc<Machine>) -> Self {
        Self {
            model: ModelArch::new(machine),
            piece_bias: AtomicU64::new(0),
            extra_hit: AtomicU64::new(0),
            control_extra: AtomicU64::new(0),
            seen: Mutex::new(Vec::new()),
        }
    }
}

impl<const N: usize> Arch for Liar<N> {
    const NAME: &'static str = "liar";
    const POOLS: usize = N;
    type Trap = ModelTrap;

    fn pool_of(&self, kind: AccessKind) -> hwbreak_core::Result<PoolId> {
        self.model.pool_of(kind)
    }
    fn slot_counts(&self) -> SlotCounts {
        self.model.slot_counts()
    }
    fn check_range(&self, addr: u64, end: u64, space: Space) -> hwbreak_core::Result<()> {
        self.model.check_range(addr, end, space)
    }
    fn max_piece(&self, kind: AccessKind, addr: u64, len: u64) -> hwbreak_core::Result<u64> {
        let honest = self.model.max_piece(kind, addr, len)?;
        Ok(honest.wrapping_add(self.piece_bias.load(Ordering::Relaxed)))
    }
    fn encode(&self, piece: &Piece) -> hwbreak_core::Result<SlotImage> {
        self.model.encode(piece)
    }
    fn control_word(&self, pool: PoolId, slots: &[Option<SlotImage>]) -> u64 {
        self.model.control_word(pool, slots) | self.control_extra.load(Ordering::Relaxed)
    }
    fn decode(&self, trap: &ModelTrap, armed: &dyn SlotView) -> Decoded {
        let data = PoolId::ALL[N - 1];
        let view = core::array::from_fn(|k| armed.slot(data, k));
        self.seen.lock().unwrap().push(view);
        let mut d = self.model.decode(trap, armed);
        let extra = self.extra_hit.load(Ordering::Relaxed);
        if extra != 0 {
            d.hits[0] |= extra as u32;
            // Asking about a slot past any pool must be answered, not panic.
            assert_eq!(
                armed.slot(PoolId::FIRST, extra.trailing_zeros() as usize),
                None
            );
        }
        d
    }
    unsafe fn write_slot(&self, pool: PoolId, index: usize, image: Option<SlotImage>) {
        // SAFETY: the model's registers are plain memory.
        unsafe { self.model.write_slot(pool, index, image) }
    }
    unsafe fn write_control(&self, pool: PoolId, control: u64) {
        // SAFETY: as above.
        unsafe { self.model.write_control(pool, control) }
    }
    unsafe fn set_armed(&self, armed: bool) {
        // SAFETY: as above.
        unsafe { self.model.set_armed(armed) }
    }
    unsafe fn suspend(&self) {
        // SAFETY: as above.
        unsafe { self.model.suspend() }
    }
    unsafe fn acknowledge(&self, trap: &ModelTrap) {
        // SAFETY: as above.
        unsafe { self.model.acknowledge(trap) }
    }
}

const A: u64 = 0xffff_8000_0050_0000;

fn cover(arch: &Liar<1>, addr: u64, len: u64) -> hwbreak_core::Result<usize> {
    exact_cover(
        arch,
        addr,
        len,
        AccessKind::Write,
        Space::Kernel,
        MemoryType::Normal,
        4,
    )
    .map(|c| c.pieces().len())
}

#[test]
fn a_piece_longer_than_the_rest_or_empty_is_refused() {
    let arch = Liar::<1>::new(Machine::new(Config::x86_like(1)));
    assert_eq!(cover(&arch, A, 8), Ok(1));
    // One byte more than asked: refused, never a watch past the range.
    arch.piece_bias.store(1, Ordering::Relaxed);
    assert_eq!(
        cover(&arch, A, 8).unwrap_err().kind(),
        ErrorKind::UnsupportedLength
    );
    // Zero bytes (one-byte pieces minus one): refused, never a loop.
    arch.piece_bias.store(u64::MAX, Ordering::Relaxed);
    assert_eq!(
        cover(&arch, A + 1, 1).unwrap_err().kind(),
        ErrorKind::UnsupportedLength
    );
}

#[test]
fn a_hit_in_a_slot_past_the_pool_is_spurious() {
    let machine = Machine::new(Config::x86_like(1));
    let arch = Liar::<1>::new(machine.clone());
    let reg: Box<Registry<Liar<1>, ModelPlatform, 8, 1, 1>> =
        Box::new(Registry::new(arch, ModelPlatform::new(machine.clone())));
    reg.init().unwrap();
    on_cpu(0, || reg.cpu_online()).unwrap();
    reg.register(&Request::write(A, 8)).unwrap();
    for bit in [16, 20, 31] {
        reg.arch().extra_hit.store(1 << bit, Ordering::Relaxed);
        let trap = machine
            .access(0, A, 8, AccessKind::Write, Space::Kernel)
            .unwrap();
        let out = on_cpu(0, || reg.on_debug_exception(&trap));
        assert!(out.spurious, "slot {bit} does not exist");
        assert_eq!(out.delivered, 1, "the real hit is still delivered");
        assert_eq!(out.resume, Resume::Continue);
    }
}

#[test]
fn a_hit_in_a_pool_past_the_backends_count_is_spurious() {
    let machine = Machine::new(Config::x86_like(1));
    let reg: Box<Registry<Liar<1>, ModelPlatform, 8, 1, 1>> = Box::new(Registry::new(
        Liar::new(machine.clone()),
        ModelPlatform::new(machine.clone()),
    ));
    reg.init().unwrap();
    on_cpu(0, || reg.cpu_online()).unwrap();
    reg.register(&Request::write(A, 8)).unwrap();
    // Slot 0 of the second pool: the backend has one pool.
    let ghost = ModelTrap {
        hits: [0, 1],
        address: Some(A),
        access_len: 8,
        step: false,
    };
    let out = on_cpu(0, || reg.on_debug_exception(&ghost));
    assert!(out.spurious);
    assert_eq!((out.delivered, out.filtered), (0, 0));
    // The real hit is still delivered, and not spurious.
    let trap = machine
        .access(0, A, 8, AccessKind::Write, Space::Kernel)
        .unwrap();
    let out = on_cpu(0, || reg.on_debug_exception(&trap));
    assert_eq!((out.delivered, out.spurious), (1, false));
}

/// While a data slot is disarmed for the step over the access that hit
/// it, the decoder does not see it armed; once the step completes, it
/// does again.
#[test]
fn the_decoder_does_not_see_a_slot_being_stepped_over() {
    let machine = Machine::new(Config::arm_like(1));
    let reg: Box<Registry<Liar<2>, ModelPlatform, 8, 1, 1>> = Box::new(Registry::new(
        Liar::new(machine.clone()),
        ModelPlatform::new(machine.clone()),
    ));
    reg.init().unwrap();
    on_cpu(0, || reg.cpu_online()).unwrap();
    reg.register(&Request::write(A, 8)).unwrap();
    let trap = machine
        .access(0, A, 8, AccessKind::Write, Space::Kernel)
        .unwrap();
    let k = trap.hits[1].trailing_zeros() as usize;
    assert!(k > 0, "system-wide watches take the highest slots");
    assert_eq!(
        on_cpu(0, || reg.on_debug_exception(&trap)).resume,
        Resume::SingleStep
    );
    let step = ModelTrap {
        step: true,
        ..ModelTrap::default()
    };
    on_cpu(0, || reg.on_debug_exception(&step));
    let again = machine
        .access(0, A, 8, AccessKind::Write, Space::Kernel)
        .unwrap();
    on_cpu(0, || reg.on_debug_exception(&again));
    let seen = reg.arch().seen.lock().unwrap().clone();
    assert!(seen[0][k].is_some(), "armed when it hit");
    assert_eq!(seen[1][k], None, "disarmed during the step");
    assert!(seen[2][k].is_some(), "armed again after it");
}

/// The control word loaded is the union of the system-wide set's word and
/// the CPU's own slots' word: bits both have (x86's DR7 sets LE, GE and
/// bit 10 in every word) stay set.
#[test]
fn bits_common_to_both_control_words_stay_set() {
    const COMMON: u64 = 1 << 40;
    let machine = Machine::new(Config::x86_like(1));
    let arch = Liar::<1>::new(machine.clone());
    arch.control_extra.store(COMMON, Ordering::Relaxed);
    let reg: Box<Registry<Liar<1>, ModelPlatform, 8, 1, 1>> =
        Box::new(Registry::new(arch, ModelPlatform::new(machine.clone())));
    reg.init().unwrap();
    on_cpu(0, || reg.cpu_online()).unwrap();
    reg.register(&Request::write(A, 8)).unwrap();
    reg.register(
        &Request::write(A + 64, 8).scope(hwbreak_core::Scope::Cpu(hwbreak_core::CpuId(0))),
    )
    .unwrap();
    let control = machine.regs(0).control[0];
    assert_eq!(control & COMMON, COMMON, "{control:#x}");
    assert_eq!(
        (control & 0b1111).count_ones(),
        2,
        "both watches enabled: {control:#x}"
    );
}
