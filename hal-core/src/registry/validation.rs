//! Validating and encoding a request before any state changes.
//!
//! Every path that installs a breakpoint (the updating calls, the kernel
//! debugger's and the CPU-local ones) checks a request here first, so a
//! refused request has changed nothing by construction.

use core::sync::atomic::Ordering;

use super::Registry;
use crate::arch::{Arch, PoolId, SlotCounts, SlotImage};
use crate::cover::{exact_cover, MAX_PIECES};
use crate::error::{ErrorKind, Result};
use crate::platform::Platform;
use crate::request::Request;

/// A request validated and encoded, before any state changes.
#[derive(Copy, Clone, Debug)]
pub(super) struct Prepared {
    pub(super) pool: PoolId,
    pub(super) pieces: u8,
    pub(super) images: [SlotImage; MAX_PIECES],
}

impl<
        A: Arch,
        P: Platform,
        const BPS: usize,
        const CPUS: usize,
        const TASKS: usize,
        const SLOTS: usize,
    > Registry<A, P, BPS, CPUS, TASKS, SLOTS>
{
    /// Validates and encodes `req` without touching any state.
    pub(super) fn prepare(&self, req: &Request, counts: SlotCounts) -> Result<Prepared> {
        if req.len == 0 {
            return Err(ErrorKind::ZeroLength.into());
        }
        let end = req.end().ok_or(ErrorKind::AddressOverflow)?;
        // I/O port numbers are not memory addresses: the memory rules (user
        // limit, zones) do not apply; the backend bounds the port range.
        let memory = req.kind != crate::AccessKind::Io;
        if memory && req.space == crate::Space::User && end > self.platform.user_limit() {
            return Err(ErrorKind::KernelAddressFromUser.into());
        }
        self.arch.check_range(req.addr, end, req.space)?;
        let own = self.own_zone();
        for zone in self
            .platform
            .no_breakpoint_zones()
            .iter()
            .chain(core::iter::once(&own))
        {
            if memory && zone.overlaps(req.addr, end) {
                return Err(ErrorKind::NoBreakpointZone.into());
            }
        }
        if let Some(cpu) = req.scope.cpu() {
            if cpu.0 >= self.cpu_limit.load(Ordering::Relaxed) {
                return Err(ErrorKind::BadCpu.into());
            }
        }
        if let Some(task) = req.scope.task() {
            if task.0 as usize >= TASKS {
                return Err(ErrorKind::BadTask.into());
            }
        }
        let pool = self.arch.pool_of(req.kind)?;
        let slots = counts.get(pool);
        if slots == 0 {
            return Err(ErrorKind::UnsupportedKind.into());
        }
        let memory = self.platform.memory_type(req.addr, end);
        let cover = exact_cover(
            &self.arch, req.addr, req.len, req.kind, req.space, memory, slots,
        )?;
        let mut prepared = Prepared {
            pool,
            pieces: 0,
            images: [SlotImage::default(); MAX_PIECES],
        };
        for (i, piece) in cover.pieces().enumerate() {
            prepared.images[i] = self.arch.encode(piece)?;
        }
        prepared.pieces = cover.pieces().len() as u8;
        Ok(prepared)
    }
}
