//! The SiFive PLIC (RISC-V Platform-Level Interrupt Controller
//! specification 1.0.0), laid out as QEMU's `virt` board lays it out
//! (`hw/riscv/virt.c`, `hw/intc/sifive_plic.c`):
//!
//! | offset | register | per |
//! |---|---|---|
//! | 0x00_0000 + 4·src | priority (3 bits, 0 = never) | source 1..96 |
//! | 0x00_1000 + 4·w | pending bits of sources 32w..32w+31 (read-only) | word |
//! | 0x00_2000 + 0x80·ctx + 4·w | enable bits | context, word |
//! | 0x20_0000 + 0x1000·ctx | priority threshold | context |
//! | 0x20_0004 + 0x1000·ctx | claim (read) / complete (write) | context |
//!
//! Contexts: two per hart, M mode = 2·hart, S mode = 2·hart + 1, as QEMU
//! virt's `"MS"` hart configuration. Source 0 does not exist: its priority,
//! pending and enable bits read 0 and ignore writes.
//!
//! Sources are level-triggered (the `virt` board's devices all are): the
//! gateway sets a source's pending bit while its line is high and it is
//! not claimed; lowering the line before a claim clears it again (as QEMU
//! does); a claim clears pending and marks the source claimed; the
//! matching complete ends the claim, and if the line is still high the
//! source is pending again at once (spec §"Interrupt Gateways": no new
//! request is forwarded until completion).
//!
//! Claim returns the enabled pending unclaimed source with the highest
//! priority that is strictly above the context's threshold, the lowest id
//! on ties, or 0 when none is. A complete whose id is not enabled for the
//! context is ignored (spec §"Interrupt Completion").
//!
//! Only 4-byte accesses are honoured (QEMU's PLIC has 4-byte access sizes
//! only); others read 0 and are ignored on write, as are writes to the
//! read-only pending array and accesses to holes.
//!
//! The CPU side reads [`Plic::context_pending`] for a context's MEIP or SEIP,
//! and may install a notifier ([`Plic::set_notifier`]) that is told when
//! that answer changes, to kick a hart out of `wfi`.

use std::sync::{Arc, Mutex};

use crate::bus::{IrqLine, MmioDevice};
use crate::lock;

/// Number of interrupt sources, source 0 included (QEMU virt's
/// `VIRT_IRQCHIP_NUM_SOURCES`); the device tree's `riscv,ndev` is one less.
pub const NUM_SOURCES: usize = 96;
/// Highest priority (QEMU virt's `VIRT_IRQCHIP_NUM_PRIORITIES`); priority
/// and threshold registers hold 3 bits.
pub const MAX_PRIORITY: u32 = 7;
/// Offset of the priority array (4 bytes per source).
pub const PRIORITY_BASE: u64 = 0x0;
/// Offset of the pending bit array.
pub const PENDING_BASE: u64 = 0x1000;
/// Offset of context 0's enable bit array.
pub const ENABLE_BASE: u64 = 0x2000;
/// Distance between two contexts' enable arrays (bytes).
pub const ENABLE_STRIDE: u64 = 0x80;
/// Offset of context 0's threshold register; claim/complete is 4 above.
pub const CONTEXT_BASE: u64 = 0x20_0000;
/// Distance between two contexts' threshold registers (bytes).
pub const CONTEXT_STRIDE: u64 = 0x1000;

/// 32-bit words in a bit array of [`NUM_SOURCES`] bits.
const WORDS: usize = NUM_SOURCES.div_ceil(32);

/// Size of the PLIC's MMIO window for `harts` harts (bytes), as QEMU's
/// `VIRT_PLIC_SIZE(harts * 2)`.
pub fn mmio_size(harts: usize) -> u64 {
    CONTEXT_BASE + (2 * harts as u64) * CONTEXT_STRIDE
}

/// Told `(context, pending)` when [`Plic::context_pending`] of a context
/// changes. Called with the PLIC's lock held: it must not call the PLIC.
pub type PlicNotifier = Box<dyn Fn(usize, bool) + Send + Sync>;

/// The PLIC's registers. `Default` is not the reset state (it has no
/// contexts); [`PlicState::new`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlicState {
    /// Priority of each source (0..=7); index 0 stays 0.
    pub priority: [u32; NUM_SOURCES],
    /// Line level of each source, as last set by its device.
    pub level: [u32; WORDS],
    /// Gateway requests (the pending array).
    pub pending: [u32; WORDS],
    /// Sources claimed and not yet completed.
    pub claimed: [u32; WORDS],
    /// Enable bits, `WORDS` per context.
    pub enable: Vec<[u32; WORDS]>,
    /// Threshold of each context (0..=7).
    pub threshold: Vec<u32>,
    /// The last value of `context_pending` per context, for the notifier.
    pub eip: Vec<bool>,
}

impl PlicState {
    /// The reset state for `contexts` contexts: everything 0.
    pub fn new(contexts: usize) -> PlicState {
        PlicState {
            priority: [0; NUM_SOURCES],
            level: [0; WORDS],
            pending: [0; WORDS],
            claimed: [0; WORDS],
            enable: vec![[0; WORDS]; contexts],
            threshold: vec![0; contexts],
            eip: vec![false; contexts],
        }
    }

    /// The source `ctx` would claim now, or 0.
    fn best(&self, ctx: usize) -> u32 {
        let mut best = 0;
        let mut best_prio = self.threshold[ctx];
        for w in 0..WORDS {
            let mut bits = self.pending[w] & !self.claimed[w] & self.enable[ctx][w];
            while bits != 0 {
                let src = w * 32 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if self.priority[src] > best_prio {
                    best = src as u32;
                    best_prio = self.priority[src];
                }
            }
        }
        best
    }
}

fn bit(a: &[u32; WORDS], src: usize) -> bool {
    a[src / 32] >> (src % 32) & 1 != 0
}

fn set_bit(a: &mut [u32; WORDS], src: usize, v: bool) {
    let m = 1u32 << (src % 32);
    if v {
        a[src / 32] |= m;
    } else {
        a[src / 32] &= !m;
    }
}

/// The PLIC. See the module doc.
pub struct Plic {
    state: Mutex<PlicState>,
    notifier: Mutex<Option<PlicNotifier>>,
}

impl std::fmt::Debug for Plic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plic")
            .field("state", &*lock(&self.state))
            .finish_non_exhaustive()
    }
}

impl Plic {
    /// A PLIC for `harts` harts (2·harts contexts), in its reset state.
    pub fn new(harts: usize) -> Plic {
        Plic {
            state: Mutex::new(PlicState::new(2 * harts)),
            notifier: Mutex::new(None),
        }
    }

    /// The number of contexts (2 per hart).
    pub fn contexts(&self) -> usize {
        lock(&self.state).threshold.len()
    }

    /// Installs the notifier told when a context's pending answer changes
    /// (see [`PlicNotifier`]). Install it before the vCPUs start.
    pub fn set_notifier(&self, n: PlicNotifier) {
        *lock(&self.notifier) = Some(n);
    }

    /// Sets source `src`'s line level (level-triggered; see the module doc).
    /// `src` 0 or past [`NUM_SOURCES`] is ignored.
    pub fn set_level(&self, src: u32, level: bool) {
        let src = src as usize;
        if src == 0 || src >= NUM_SOURCES {
            return;
        }
        let mut s = lock(&self.state);
        set_bit(&mut s.level, src, level);
        if !bit(&s.claimed, src) {
            set_bit(&mut s.pending, src, level);
        }
        self.update(&mut s);
    }

    /// An [`IrqLine`] that drives source `src`, for a device to hold.
    pub fn irq_line(self: &Arc<Self>, src: u32) -> PlicIrq {
        PlicIrq {
            plic: self.clone(),
            src,
        }
    }

    /// Whether context `ctx` has an interrupt to take: an enabled, pending,
    /// unclaimed source with priority above its threshold. This is MEIP for
    /// `ctx = 2·hart` and SEIP for `ctx = 2·hart + 1`. `false` for a context
    /// that does not exist.
    pub fn context_pending(&self, ctx: usize) -> bool {
        let s = lock(&self.state);
        ctx < s.threshold.len() && s.best(ctx) != 0
    }

    /// A copy of the registers (for a snapshot or a debugger).
    pub fn state(&self) -> PlicState {
        lock(&self.state).clone()
    }

    /// Claims for `ctx` (what a read of its claim register does): the best
    /// source (module doc), now claimed and no longer pending, or 0.
    pub fn claim(&self, ctx: usize) -> u32 {
        let mut s = lock(&self.state);
        if ctx >= s.threshold.len() {
            return 0;
        }
        let src = s.best(ctx);
        if src != 0 {
            set_bit(&mut s.pending, src as usize, false);
            set_bit(&mut s.claimed, src as usize, true);
            self.update(&mut s);
        }
        src
    }

    /// Completes `src` for `ctx` (a write of its claim/complete register).
    /// Ignored unless `src` is enabled for `ctx`.
    pub fn complete(&self, ctx: usize, src: u32) {
        let mut s = lock(&self.state);
        let src = src as usize;
        if ctx >= s.threshold.len() || src == 0 || src >= NUM_SOURCES || !bit(&s.enable[ctx], src) {
            return;
        }
        set_bit(&mut s.claimed, src, false);
        if bit(&s.level, src) {
            set_bit(&mut s.pending, src, true);
        }
        self.update(&mut s);
    }

    /// Recomputes every context's pending answer and tells the notifier of
    /// changes. Called with the state lock held.
    fn update(&self, s: &mut PlicState) {
        let n = lock(&self.notifier);
        for ctx in 0..s.threshold.len() {
            let now = s.best(ctx) != 0;
            if now != s.eip[ctx] {
                s.eip[ctx] = now;
                if let Some(n) = n.as_ref() {
                    n(ctx, now);
                }
            }
        }
    }
}

impl MmioDevice for Plic {
    fn read(&self, offset: u64, size: u8) -> u64 {
        if size != 4 || !offset.is_multiple_of(4) {
            return 0;
        }
        let claim_ctx = {
            let s = lock(&self.state);
            let ctxs = s.threshold.len() as u64;
            match offset {
                o if o < PENDING_BASE => {
                    return s
                        .priority
                        .get((o / 4) as usize)
                        .copied()
                        .unwrap_or(0)
                        .into()
                }
                o if o < ENABLE_BASE => {
                    return s
                        .pending
                        .get(((o - PENDING_BASE) / 4) as usize)
                        .copied()
                        .unwrap_or(0)
                        .into()
                }
                o if o < CONTEXT_BASE => {
                    let ctx = (o - ENABLE_BASE) / ENABLE_STRIDE;
                    let w = ((o - ENABLE_BASE) % ENABLE_STRIDE / 4) as usize;
                    if ctx >= ctxs || w >= WORDS {
                        return 0;
                    }
                    return s.enable[ctx as usize][w].into();
                }
                o => {
                    let ctx = (o - CONTEXT_BASE) / CONTEXT_STRIDE;
                    if ctx >= ctxs {
                        return 0;
                    }
                    match (o - CONTEXT_BASE) % CONTEXT_STRIDE {
                        0 => return s.threshold[ctx as usize].into(),
                        4 => ctx as usize,
                        _ => return 0,
                    }
                }
            }
        };
        self.claim(claim_ctx).into()
    }

    fn write(&self, offset: u64, size: u8, value: u64) {
        if size != 4 || !offset.is_multiple_of(4) {
            return;
        }
        let value = value as u32;
        let mut s = lock(&self.state);
        let ctxs = s.threshold.len() as u64;
        match offset {
            o if o < PENDING_BASE => {
                let src = (o / 4) as usize;
                if src == 0 || src >= NUM_SOURCES {
                    return;
                }
                s.priority[src] = value & MAX_PRIORITY;
            }
            // The pending array is read-only (QEMU logs a guest error).
            o if o < ENABLE_BASE => return,
            o if o < CONTEXT_BASE => {
                let ctx = (o - ENABLE_BASE) / ENABLE_STRIDE;
                let w = ((o - ENABLE_BASE) % ENABLE_STRIDE / 4) as usize;
                if ctx >= ctxs || w >= WORDS {
                    return;
                }
                // Source 0 does not exist: its enable bit is hardwired to 0.
                let v = if w == 0 { value & !1 } else { value };
                s.enable[ctx as usize][w] = v;
            }
            o => {
                let ctx = (o - CONTEXT_BASE) / CONTEXT_STRIDE;
                if ctx >= ctxs {
                    return;
                }
                match (o - CONTEXT_BASE) % CONTEXT_STRIDE {
                    0 => s.threshold[ctx as usize] = value & MAX_PRIORITY,
                    4 => {
                        drop(s);
                        self.complete(ctx as usize, value);
                        return;
                    }
                    _ => return,
                }
            }
        }
        self.update(&mut s);
    }
}

/// Source `src` of a [`Plic`], as an [`IrqLine`] a device holds.
#[derive(Debug, Clone)]
pub struct PlicIrq {
    plic: Arc<Plic>,
    src: u32,
}

impl IrqLine for PlicIrq {
    fn set_level(&self, level: bool) {
        self.plic.set_level(self.src, level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLAIM0: u64 = CONTEXT_BASE + 4;

    fn prio(p: &Plic, src: u64, v: u64) {
        p.write(PRIORITY_BASE + 4 * src, 4, v);
    }

    fn enable(p: &Plic, ctx: u64, src: u64) {
        let a = ENABLE_BASE + ENABLE_STRIDE * ctx + 4 * (src / 32);
        let old = p.read(a, 4);
        p.write(a, 4, old | 1 << (src % 32));
    }

    #[test]
    fn layout_matches_qemu_virt() {
        assert_eq!(mmio_size(1), 0x20_2000);
        assert_eq!(mmio_size(8), 0x21_0000);
        assert_eq!(Plic::new(4).contexts(), 8);
    }

    #[test]
    fn priority_threshold_are_three_bits_source0_hardwired() {
        let p = Plic::new(1);
        prio(&p, 10, 0xff);
        assert_eq!(p.read(4 * 10, 4), 7);
        prio(&p, 0, 5);
        assert_eq!(p.read(0, 4), 0);
        p.write(CONTEXT_BASE, 4, 0x1f);
        assert_eq!(p.read(CONTEXT_BASE, 4), 7);
        // Source 0's enable bit is hardwired to 0.
        p.write(ENABLE_BASE, 4, u64::from(u32::MAX));
        assert_eq!(p.read(ENABLE_BASE, 4), 0xffff_fffe);
        // Words past the 96 sources read 0.
        p.write(ENABLE_BASE + 12, 4, 0xffff);
        assert_eq!(p.read(ENABLE_BASE + 12, 4), 0);
        // Only 4-byte accesses count.
        p.write(4 * 11, 1, 3);
        assert_eq!(p.read(4 * 11, 4), 0);
        assert_eq!(p.read(4 * 10, 8), 0);
    }

    #[test]
    fn pending_follows_level_and_is_read_only() {
        let p = Plic::new(1);
        p.set_level(33, true);
        assert_eq!(p.read(PENDING_BASE + 4, 4), 0b10);
        p.write(PENDING_BASE + 4, 4, 0);
        assert_eq!(p.read(PENDING_BASE + 4, 4), 0b10);
        p.set_level(33, false);
        assert_eq!(p.read(PENDING_BASE + 4, 4), 0);
        p.set_level(0, true);
        p.set_level(96, true);
        assert_eq!(p.state().pending, [0; WORDS]);
    }

    #[test]
    fn claim_picks_highest_priority_then_lowest_id() {
        let p = Plic::new(1);
        for (src, pr) in [(5, 2), (9, 6), (12, 6), (40, 1)] {
            prio(&p, src, pr);
            enable(&p, 0, src);
            p.set_level(src as u32, true);
        }
        assert!(p.context_pending(0));
        assert_eq!(p.read(CLAIM0, 4), 9);
        assert_eq!(p.read(CLAIM0, 4), 12);
        // A claimed source is no longer pending.
        assert_eq!(p.read(PENDING_BASE, 4), 1 << 5);
        assert_eq!(p.read(CLAIM0, 4), 5);
        assert_eq!(p.read(CLAIM0, 4), 40);
        assert_eq!(p.read(CLAIM0, 4), 0);
        assert!(!p.context_pending(0));
    }

    #[test]
    fn threshold_priority_zero_and_enable_gate_delivery() {
        let p = Plic::new(1);
        p.set_level(10, true);
        enable(&p, 0, 10);
        // Priority 0 never interrupts.
        assert!(!p.context_pending(0));
        prio(&p, 10, 3);
        assert!(p.context_pending(0));
        // Threshold 3: priority must be strictly greater.
        p.write(CONTEXT_BASE, 4, 3);
        assert!(!p.context_pending(0));
        assert_eq!(p.read(CLAIM0, 4), 0);
        p.write(CONTEXT_BASE, 4, 2);
        assert!(p.context_pending(0));
        // Not enabled for context 1 (hart 0's S mode).
        assert!(!p.context_pending(1));
        assert_eq!(p.read(CONTEXT_BASE + CONTEXT_STRIDE + 4, 4), 0);
        assert!(!p.context_pending(99));
    }

    #[test]
    fn complete_rearms_a_level_still_high() {
        let p = Plic::new(2);
        prio(&p, 10, 1);
        enable(&p, 3, 10); // hart 1, S mode
        let claim3 = CONTEXT_BASE + 3 * CONTEXT_STRIDE + 4;
        p.set_level(10, true);
        assert!(p.context_pending(3));
        assert_eq!(p.read(claim3, 4), 10);
        assert!(!p.context_pending(3));
        // The line stays high while claimed: no new request until complete.
        p.set_level(10, true);
        assert!(!p.context_pending(3));
        p.write(claim3, 4, 10);
        assert!(p.context_pending(3));
        assert_eq!(p.read(claim3, 4), 10);
        // The device lowers its line before complete: nothing more.
        p.set_level(10, false);
        p.write(claim3, 4, 10);
        assert!(!p.context_pending(3));
    }

    #[test]
    fn complete_of_a_source_not_enabled_is_ignored() {
        let p = Plic::new(1);
        prio(&p, 7, 1);
        enable(&p, 0, 7);
        p.set_level(7, true);
        assert_eq!(p.read(CLAIM0, 4), 7);
        // Disable, then complete: ignored, the source stays claimed.
        p.write(ENABLE_BASE, 4, 0);
        p.write(CLAIM0, 4, 7);
        enable(&p, 0, 7);
        assert!(!p.context_pending(0));
        p.write(CLAIM0, 4, 7);
        assert!(p.context_pending(0));
    }

    #[test]
    fn notifier_sees_eip_changes_and_irq_line_drives_a_source() {
        let p = Arc::new(Plic::new(1));
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        p.set_notifier(Box::new(move |ctx, v| l.lock().unwrap().push((ctx, v))));
        prio(&p, 10, 1);
        enable(&p, 1, 10);
        let line = p.irq_line(10);
        line.raise();
        line.raise();
        assert_eq!(p.read(CONTEXT_BASE + CONTEXT_STRIDE + 4, 4), 10);
        assert_eq!(*log.lock().unwrap(), [(1, true), (1, false)]);
    }
}
