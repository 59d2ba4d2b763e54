//! One hart: its state, and the execution loop that runs it (QEMU's
//! `cpu_exec` for one vCPU thread).
//!
//! Each turn of the loop: look at the machine (quit, power-off), refresh
//! the hart's interrupt lines from the CLINT and PLIC and take the highest
//! pending enabled interrupt (so interrupts are taken at block
//! boundaries), then find the TB for (pc, TB flags, physical pc) and run it
//! (interpreted while cold, compiled when hot), chaining direct exits
//! within a page. Traps from translated code come back as exit codes and
//! are delivered to the guest here; so are the instructions the translator
//! hands to the runtime (CSR accesses, `xret`, `wfi`, `sfence.vma`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cranemu_backend::{jump_cache_index, ExitCode, JumpCacheEntry, JUMP_CACHE_ENTRIES};
use cranemu_frontend::cpu::tb_flags;
use cranemu_frontend::decode::decode;
use cranemu_frontend::helpers::{csr as fcsr, enter_guest_fp, leave_guest_fp, CsrMode};
use cranemu_frontend::privileged::trap::Cause;
use cranemu_frontend::privileged::{mstatus, Priv, PrivState};
use cranemu_frontend::translate::system::{CAUSE_FS_DIRTY, CAUSE_SYSTEM_INSN};
use cranemu_frontend::translate::{translate_block, TranslateOptions};
use cranemu_frontend::{CpuState, Exception, Interrupt, Op};
use cranemu_ir::interp;
use cranemu_softmmu::system::tlb::{MmuIdx, Tlb};
use cranemu_softmmu::system::{GuestVirtAddr, Priv as MmuPriv, PAGE_SIZE};

use super::memory::{mmu_idx, Fault, SysFetch, SysInterpMemory};
use super::{Machine, MachineExit};
use crate::compile::{compile_tb, Publish};
use crate::stats::Counters;
use crate::tbcache::{Generation, Slot, Stale, Tb};
use crate::{log_translated, Error, Result};

const EMPTY: JumpCacheEntry = JumpCacheEntry {
    pc: u64::MAX,
    flags: 0,
    code: 0,
    tb: 0,
};

/// One hart. `repr(C)` with the CPU state first: translated code and the
/// slow-path helpers get a pointer to `cpu` and reach the rest from it.
#[repr(C)]
pub(crate) struct Hart {
    /// The unprivileged state, as translated code sees it.
    pub(crate) cpu: CpuState,
    /// The privileged state: privilege level and CSRs.
    pub(crate) ps: PrivState,
    /// The softmmu TLB (its fast descriptors are `cpu.tlb`).
    pub(crate) tlb: Tlb,
    /// The hart id.
    pub(crate) id: usize,
    /// The machine.
    pub(crate) m: Arc<Machine>,
    /// This hart's counters.
    pub(crate) counters: Arc<Counters>,
    /// The jump cache (`cpu.jump_cache`), flushed with the TLB.
    jc: Box<[JumpCacheEntry; JUMP_CACHE_ENTRIES]>,
    /// The first tier's value array, reused from block to block.
    vals: cranemu_ir::baseline::Values,
    /// The cache epoch and generation the jump cache was filled under.
    jc_epoch: (u64, u64),
    /// The generation whose code is running (for the lookup helper).
    generation: *const Generation,
    /// The next timer deadline, as last computed (and given the ticker).
    published: Option<Instant>,
}

/// What the translation cache holds for a pc under the current flags.
enum Lookup {
    /// A compiled TB: its code and the TB.
    Code(*const u8, *const Tb),
    /// A TB that is still interpreted.
    Cold(Arc<Tb>),
    /// None yet; the pc's guest physical address, for translating it.
    Miss(u64),
}

/// What a turn of the loop decided.
enum Turn {
    /// Go on.
    Continue,
    /// Stop the machine.
    Stop(MachineExit),
    /// The cache moved to a new generation: take it.
    NewGeneration,
}

/// What [`Hart::find_or_translate`] gives.
enum Translated {
    /// A TB of the cache (this hart's or another's).
    Cached(Arc<Tb>),
    /// A TB to run once and drop: its page kept being written while it
    /// was translated ([`RACE_LIMIT`] times).
    Once(Arc<Tb>),
}

/// Translations of one TB that may race with stores to its pages before
/// the hart runs one uncached (QEMU's "exec once" for the same livelock:
/// a spinlock on the page the holder must execute to release it).
const RACE_LIMIT: u32 = 8;

impl Hart {
    /// Hart `id` of machine `m`, at reset, starting at `pc` with `a0`,
    /// `a1`, `a2` (the firmware's boot registers). Boxed: translated code
    /// keeps pointers into it.
    pub(crate) fn new(m: Arc<Machine>, id: usize, pc: u64, a: [u64; 3]) -> Box<Hart> {
        let counters = m.cache.thread_counters();
        if let Some(slot) = m
            .hart_counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(id)
        {
            *slot = Some(counters.clone());
        }
        let mut h = Box::new(Hart {
            cpu: CpuState::default(),
            ps: PrivState::new(id as u64),
            tlb: Tlb::new(),
            id,
            m,
            counters,
            jc: Box::new([EMPTY; JUMP_CACHE_ENTRIES]),
            vals: cranemu_ir::baseline::Values::new(),
            jc_epoch: (0, 0),
            generation: std::ptr::null(),
            published: None,
        });
        h.cpu.pc = pc;
        h.cpu.x[10] = a[0];
        h.cpu.x[11] = a[1];
        h.cpu.x[12] = a[2];
        h.cpu.tlb = h.tlb.fast().as_ptr() as u64;
        h.cpu.jump_cache = h.jc.as_ptr() as u64;
        h.update_flags();
        h
    }

    /// The MMU index of instruction fetch: the current privilege (MPRV
    /// does not apply to fetches).
    pub(crate) fn fetch_idx(&self) -> MmuIdx {
        MmuIdx::new(mmu_priv_of(self.ps.priv_level), false)
    }

    /// Recomputes the system part of the TB flags from the privileged
    /// state (after any change of privilege, `mstatus` or `fcsr`).
    pub(crate) fn update_flags(&mut self) {
        let data = MmuIdx::new(
            mmu_priv_of(self.ps.data_priv()),
            self.ps.mstatus & mstatus::SUM != 0,
        );
        let mut f = tb_flags::SYSTEM
            | self.ps.priv_level.bits() << tb_flags::PRIV_SHIFT
            | (data as u64) << tb_flags::MMU_IDX_SHIFT;
        match self.ps.fs() {
            0 => f |= tb_flags::FS_OFF,
            3 => f |= tb_flags::FS_DIRTY,
            _ => {}
        }
        self.cpu.sys_flags = f;
    }

    /// Empties the jump cache (its entries are valid only under the
    /// current address translation).
    fn flush_jump_cache(&mut self) {
        self.jc.fill(EMPTY);
    }

    /// Flushes the whole TLB and the jump cache.
    fn flush_tlb(&mut self) {
        Counters::bump(&self.counters.tlb_flushes);
        self.tlb.flush_all();
        self.flush_jump_cache();
    }

    /// Runs this hart until the machine stops.
    pub(crate) fn run(&mut self) -> Result<MachineExit> {
        self.m.wakes[self.id].attach(&self.cpu);
        // SAFETY: the hart is boxed and outlives its registration, which
        // is dropped at the end of this function.
        self.m.cache.register(&self.cpu as *const CpuState as usize);
        let r = self.run_loop();
        Counters::add(&self.counters.mem_accesses, self.cpu.mem_accesses);
        self.cpu.mem_accesses = 0;
        self.m
            .cache
            .unregister(&self.cpu as *const CpuState as usize);
        self.m.wakes[self.id].detach();
        r
    }

    fn run_loop(&mut self) -> Result<MachineExit> {
        loop {
            let generation = self.m.cache.current();
            self.generation = Arc::as_ptr(&generation);
            loop {
                match self.turn(&generation)? {
                    Turn::Continue => {}
                    Turn::Stop(e) => return Ok(e),
                    Turn::NewGeneration => break,
                }
            }
        }
    }

    /// Checks the machine, takes an interrupt if one is pending, and runs
    /// code until the next exit to the loop.
    fn turn(&mut self, generation: &Arc<Generation>) -> Result<Turn> {
        self.serve_protect();
        // Devices, timers and the privileged state change only where they
        // set `dirty` (see HartWake), so a turn without it skips the
        // device locks.
        if self.m.wakes[self.id].dirty.swap(false, Ordering::SeqCst) {
            if let Some(exit) = self.m.poll() {
                return Ok(Turn::Stop(exit));
            }
            let time = self.update_interrupts();
            if let Some(irq) = self.ps.pending_interrupt(time) {
                self.take(Cause::Interrupt(irq), 0);
            }
        }
        self.execute(generation)
    }

    /// Makes the next turn refresh the interrupt lines and poll the
    /// machine.
    pub(crate) fn mark_dirty(&self) {
        self.m.wakes[self.id].dirty.store(true, Ordering::Relaxed);
    }

    /// Refreshes the interrupt lines from the CLINT and the PLIC, keeps the
    /// ticker told of the next timer deadline, and returns `time`.
    fn update_interrupts(&mut self) -> u64 {
        let hp = self.m.aclint.hart_pending(self.id);
        self.ps
            .set_interrupt_line(Interrupt::MachineSoftware, hp.msip);
        self.ps.set_interrupt_line(Interrupt::MachineTimer, hp.mtip);
        let ctx = 2 * self.id;
        let meip = self.m.plic.context_pending(ctx);
        let seip = self.m.plic.context_pending(ctx + 1);
        self.ps.set_interrupt_line(Interrupt::MachineExternal, meip);
        self.ps
            .set_interrupt_line(Interrupt::SupervisorExternal, seip);
        let time = self.m.aclint.mtime();
        self.ps.time = time;
        // The next instant a timer interrupt becomes pending, if in the
        // future: mtimecmp, and stimecmp under Sstc.
        // (`u64::MAX`, which Linux writes to stop the timer, is never.)
        let mut next = hp.next_deadline.filter(|d| !d.is_zero());
        if self.ps.menvcfg & (1 << 63) != 0
            && self.ps.stimecmp > time
            && self.ps.stimecmp != u64::MAX
        {
            let d = ticks(self.ps.stimecmp - time);
            next = Some(next.map_or(d, |n| n.min(d)));
        }
        // One tick later than the exact instant, so that the kick finds
        // the interrupt pending (mtime counts whole 100 ns ticks). A
        // deadline past what `Instant` holds is never.
        let deadline = next.and_then(|d| Instant::now().checked_add(d + Duration::from_nanos(100)));
        self.published = deadline;
        self.m.ticker.set_if_moved(self.id, deadline);
        time
    }

    /// Delivers `cause` with `tval` at `cpu.pc`.
    fn take(&mut self, cause: Cause, tval: u64) {
        let from = self.ps.priv_level;
        let epc = self.cpu.pc;
        let pc = self.ps.take_trap(cause, tval, epc);
        match cause {
            Cause::Interrupt(i) => {
                Counters::bump(&self.counters.interrupts);
                if matches!(
                    i,
                    Interrupt::MachineSoftware | Interrupt::SupervisorSoftware
                ) {
                    Counters::bump(&self.counters.ipis_received);
                }
            }
            Cause::Exception(_) => Counters::bump(&self.counters.exceptions),
        }
        if self.m.config.log_int {
            self.m.log(&format!(
                "int: hart {} {:?} from {:?} at pc {epc:#x} tval {tval:#x} -> {:?} {pc:#x}\n",
                self.id, cause, from, self.ps.priv_level
            ));
        }
        self.cpu.pc = pc;
        self.cpu.reservation_addr = u64::MAX;
        self.update_flags();
        self.mark_dirty();
    }

    /// Delivers a synchronous exception.
    fn raise(&mut self, (cause, tval): Fault) {
        self.take(Cause::Exception(cause), tval);
    }

    /// The jump-cache entry for (`pc`, `flags`), after dropping stale
    /// entries if the translation cache changed.
    fn jc_probe(&mut self, generation: &Generation, pc: u64, flags: u64) -> Option<JumpCacheEntry> {
        let epoch = (self.m.cache.epoch(), generation.id);
        if self.jc_epoch != epoch {
            self.jc_epoch = epoch;
            self.flush_jump_cache();
        }
        let e = self.jc[jump_cache_index(pc, flags)];
        (e.pc == pc && e.flags == flags).then_some(e)
    }

    /// What the cache holds for `pc` under the current flags: the jump
    /// cache, then the shared map. `Err` if the pc cannot be fetched.
    fn lookup(&mut self, generation: &Generation, pc: u64) -> std::result::Result<Lookup, Fault> {
        let flags = self.cpu.tb_flags();
        if let Some(e) = self.jc_probe(generation, pc, flags) {
            Counters::bump(&self.counters.jc_hits);
            return Ok(Lookup::Code(e.code as *const u8, e.tb as *const Tb));
        }
        let phys = self.translate_code(pc)?;
        let Some(tb) = generation.get(pc, flags, phys) else {
            return Ok(Lookup::Miss(phys));
        };
        let Some(code) = tb.code() else {
            return Ok(Lookup::Cold(tb));
        };
        Counters::bump(&self.counters.map_hits);
        self.jc[jump_cache_index(pc, flags)] = JumpCacheEntry {
            pc,
            flags,
            code: code as usize,
            tb: Arc::as_ptr(&tb) as usize,
        };
        // The generation keeps the TB alive (see `tbcache`).
        Ok(Lookup::Code(code, Arc::as_ptr(&tb)))
    }

    /// Translates the TB for `pc` (at guest physical `phys`) under the
    /// current flags, after [`Hart::lookup`] missed; another hart's TB for
    /// the same key wins if it was inserted first. `None` if the cache
    /// moved on.
    ///
    /// The pages are marked as code before their bytes are read, and the
    /// TB goes in only if no store invalidated them since and they are
    /// still marked (the race with other harts' stores: `memory`'s module
    /// doc); a TB that runs onto a page not marked yet is translated again
    /// once that page is.
    fn find_or_translate(
        &mut self,
        generation: &Arc<Generation>,
        pc: u64,
        phys: u64,
    ) -> Result<Option<Translated>> {
        let flags = self.cpu.tb_flags();
        Counters::bump(&self.counters.misses);
        let mut marked = vec![phys / PAGE_SIZE];
        let mut attempts = 0;
        loop {
            attempts += 1;
            // Before the marking: a writer that clears the mark after it
            // (and may then store without the slow path) invalidates after
            // its clear, which makes the insertion fail.
            let seq = self.m.cache.seq();
            self.protect_code(&marked);
            let t0 = Instant::now();
            let opts = TranslateOptions {
                max_insns: self.m.config.engine.max_block_insns,
                count_insns: self.m.config.engine.count_insns,
                superblocks: self.m.config.engine.superblocks,
                // (An empty list tells a block whose first fetch faulted.)
                list_insns: true,
                if_conversion: self.m.config.engine.if_conversion,
            };
            let fetch = SysFetch::new(self, self.fetch_idx());
            let mut t = translate_block(&fetch, pc, flags, &opts);
            let pages = fetch.pages.into_inner();
            cranemu_ir::passes::dead_state_stores(&mut t.ir);
            let log = &self.m.config.engine.log;
            if log.in_asm || log.op {
                log_translated(log, &t);
            }
            Counters::bump(&self.counters.blocks);
            Counters::add(&self.counters.guest_insns, u64::from(t.ir.guest_insns));
            Counters::add(&self.counters.translate_ns, t0.elapsed().as_nanos() as u64);
            if t.insns.is_empty() {
                // Its first instruction could not be fetched (it crosses
                // into a page that is not mapped, or not executable): the
                // TB only raises that fault. It is not cached, since its
                // key (the first page) cannot tell when the guest maps
                // the second: a cached one would fault forever after.
                return Ok(Some(Translated::Once(Tb::new(
                    t.ir, phys, &pages, 0, true, None,
                ))));
            }
            let unmarked = pages.iter().any(|p| !marked.contains(p));
            let raced = unmarked || !pages.iter().all(|&p| self.m.phys.code_holds(p * PAGE_SIZE));
            // The IR is kept: translating again would need this hart's
            // page tables as they were.
            // (No first-tier code in system mode: no code hash needed.)
            let tb = Tb::new(t.ir, phys, &pages, 0, true, None);
            if raced && attempts >= RACE_LIMIT {
                // Code and hot data share the page: run the bytes as read
                // now, once, uncached, so the hart makes progress.
                return Ok(Some(Translated::Once(tb)));
            }
            if raced {
                Counters::bump(&self.counters.races);
                if unmarked {
                    marked = pages;
                }
                continue;
            }
            match self
                .m
                .cache
                .insert(generation, tb.clone(), seq, &self.counters)
            {
                Ok(tb) => return Ok(Some(Translated::Cached(tb))),
                Err(Stale::Page) if attempts >= RACE_LIMIT => {
                    return Ok(Some(Translated::Once(tb)))
                }
                Err(Stale::Page) => Counters::bump(&self.counters.races),
                Err(Stale::Generation) => return Ok(None),
            }
        }
    }

    /// Runs code from `cpu.pc` until an exit that needs the loop.
    fn execute(&mut self, generation: &Arc<Generation>) -> Result<Turn> {
        let mut from_slot: Option<*const Slot> = None;
        loop {
            let pc = self.cpu.pc;
            let tb = match self.lookup(generation, pc) {
                Err(f) => {
                    self.raise(f);
                    return Ok(Turn::Continue);
                }
                Ok(Lookup::Code(code, tb)) => Ok((code, tb)),
                Ok(Lookup::Cold(tb)) => Err(tb),
                Ok(Lookup::Miss(phys)) => match self.find_or_translate(generation, pc, phys)? {
                    Some(Translated::Cached(tb)) => Err(tb),
                    Some(Translated::Once(tb)) => return self.interpret(generation, &tb),
                    None => return Ok(Turn::NewGeneration),
                },
            };
            // A TB without code: interpret it, or have it compiled.
            let (code, tb) = match tb {
                Ok(found) => found,
                Err(tb) => {
                    let n = tb.count_exec();
                    let threshold = self.m.config.engine.jit_threshold;
                    if n >= threshold && tb.claim_compile() {
                        if threshold > 0 {
                            // Hot: the compile thread (started with the
                            // machine) takes it; interpret it until its
                            // code is published.
                            let queued = self
                                .m
                                .compiles
                                .push(tb.clone(), generation.clone(), || Ok(()))
                                .map_err(Error::Host)?;
                            if !queued {
                                tb.unclaim_compile();
                            } else if self.m.config.engine.wait_for_compiles {
                                self.m.compiles.wait_idle();
                            }
                            return self.interpret(generation, &tb);
                        }
                        let code = compile_tb(
                            &self.m.backend,
                            &self.m.config.engine,
                            generation,
                            &tb,
                            &self.counters,
                            usize::MAX,
                            None,
                            Publish::OnVcpu,
                        )?
                        .ok_or_else(|| {
                            Error::Codegen(format!("TB {:#x} has no IR to compile", tb.pc))
                        })?;
                        (code, Arc::as_ptr(&tb))
                    } else if let Some(code) = tb.code() {
                        // Compiled meanwhile by the compile thread.
                        (code, Arc::as_ptr(&tb))
                    } else {
                        return self.interpret(generation, &tb);
                    }
                }
            };
            if let Some(slot) = from_slot.take() {
                // SAFETY: `slot` is an exit slot of a TB of `generation`
                // and `tb` a TB of it; we hold `generation`.
                unsafe { self.m.cache.chain(slot, tb, &self.counters) };
            }
            enter_guest_fp(&self.cpu);
            // SAFETY: `code` and the trampoline belong to `generation`,
            // which we hold; no host fault range (system mode has none).
            let r = unsafe {
                crate::exec::enter(&mut self.cpu, code, generation.trampoline, (0, 0, 0))
            };
            leave_guest_fp(&mut self.cpu);
            match ExitCode::from_raw(r) {
                None => from_slot = Some(r as usize as *const Slot),
                Some(ExitCode::Interrupt) => {
                    self.cpu.take_exit_request();
                    return Ok(if self.m.cache.is_current(generation) {
                        Turn::Continue
                    } else {
                        Turn::NewGeneration
                    });
                }
                Some(ExitCode::NoChain | ExitCode::Exit | ExitCode::ExitFlush) => {
                    if !self.m.cache.is_current(generation) {
                        return Ok(Turn::NewGeneration);
                    }
                }
                Some(ExitCode::Trap) => {
                    self.cpu.mem_status = 0;
                    return self.trap_exit();
                }
                Some(ExitCode::LoadMisaligned) => {
                    self.raise((Exception::LoadAddressMisaligned, self.cpu.fault_addr));
                    return Ok(Turn::Continue);
                }
                Some(ExitCode::StoreMisaligned) => {
                    self.raise((Exception::StoreAddressMisaligned, self.cpu.fault_addr));
                    return Ok(Turn::Continue);
                }
                // System mode has no first-tier code (the only source of
                // `Hot`) and no host fault range.
                Some(ExitCode::LoadFault | ExitCode::StoreFault | ExitCode::Hot) => {
                    return Err(Error::Host(format!(
                        "unexpected host fault exit at guest pc {:#x}",
                        self.cpu.pc
                    )));
                }
            }
        }
    }

    /// Runs `tb` once in the first tier (the reference interpreter for a
    /// block the first tier cannot lower).
    fn interpret(&mut self, generation: &Arc<Generation>, tb: &Tb) -> Result<Turn> {
        if self.cpu.exit_request.load(Ordering::Relaxed) != 0 {
            self.cpu.take_exit_request();
            // A flush asks every hart to leave: it must not stay on the
            // old generation's TBs (interpreted forever, never invalidated).
            return Ok(if self.m.cache.is_current(generation) {
                Turn::Continue
            } else {
                Turn::NewGeneration
            });
        }
        Counters::bump_own(&self.counters.interpreted_blocks);
        let idx = mmu_idx(tb_flags::mmu_idx(tb.flags));
        let reference = self.m.config.engine.reference_interpreter;
        let mut vals = std::mem::take(&mut self.vals);
        enter_guest_fp(&self.cpu);
        let cpu_ptr: *mut CpuState = &mut self.cpu;
        let mut mem = SysInterpMemory {
            hart: self,
            idx,
            fault: None,
        };
        // SAFETY: `CpuState` is plain `repr(C)` data and the slice covers
        // it exactly. The memory adapter reaches the same hart, but only
        // its TLB, privileged state and machine (never `cpu`'s registers)
        // while the interpreter holds the slice.
        let outcome = unsafe {
            let bytes = std::slice::from_raw_parts_mut(
                cpu_ptr.cast::<u8>(),
                std::mem::size_of::<CpuState>(),
            );
            let helpers = cranemu_frontend::helpers::HELPERS;
            tb.run_cold(reference, bytes, &mut mem, helpers, &mut vals)
        };
        let fault = mem.fault;
        self.vals = vals;
        leave_guest_fp(&mut self.cpu);
        match outcome {
            interp::Outcome::Next(pc) | interp::Outcome::Exit { pc, .. } => {
                self.cpu.pc = pc;
                Ok(Turn::Continue)
            }
            interp::Outcome::Trap { cause, tval, pc } => {
                self.cpu.pc = pc;
                self.cpu.trap_cause = cause;
                self.cpu.fault_addr = tval;
                self.trap_exit()
            }
            interp::Outcome::MemFault {
                addr,
                store,
                misaligned,
                pc,
            } => {
                self.cpu.pc = pc;
                let f = match (fault, store, misaligned) {
                    (_, false, true) => (Exception::LoadAddressMisaligned, addr),
                    (_, true, true) => (Exception::StoreAddressMisaligned, addr),
                    (Some(f), _, _) => f,
                    (None, false, _) => (Exception::LoadAccessFault, addr),
                    (None, true, _) => (Exception::StoreAccessFault, addr),
                };
                self.raise(f);
                Ok(Turn::Continue)
            }
        }
    }

    /// Handles a trap exit (`trap_cause`, `fault_addr`, `pc`): an
    /// exception for the guest, or an instruction for the runtime.
    fn trap_exit(&mut self) -> Result<Turn> {
        let cause = self.cpu.trap_cause;
        let tval = self.cpu.fault_addr;
        match cause {
            CAUSE_SYSTEM_INSN => {
                Counters::bump(&self.counters.system_insns);
                self.system_insn(tval as u32)
            }
            CAUSE_FS_DIRTY => {
                self.ps.mark_fs_dirty();
                self.update_flags();
                Ok(Turn::Continue)
            }
            _ => {
                let e = Exception::from_code(cause).unwrap_or(Exception::IllegalInstruction);
                let e = if e == Exception::EcallFromU {
                    self.ps.ecall_cause()
                } else {
                    e
                };
                self.raise((e, tval));
                Ok(Turn::Continue)
            }
        }
    }

    /// Executes the instruction with bits `raw` at `cpu.pc` (CSR access,
    /// `mret`, `sret`, `wfi`, `sfence.vma`), and continues after it or
    /// delivers its exception.
    fn system_insn(&mut self, raw: u32) -> Result<Turn> {
        // Any of these may enable or unmask an interrupt.
        self.mark_dirty();
        let insn = decode(raw);
        let illegal = (Exception::IllegalInstruction, u64::from(raw));
        let next = self.cpu.pc.wrapping_add(4);
        match insn.op {
            Op::Mret | Op::Sret => {
                let r = if insn.op == Op::Mret {
                    self.ps.mret()
                } else {
                    self.ps.sret()
                };
                match r {
                    Ok(ret) => {
                        self.cpu.pc = ret.pc;
                        self.cpu.reservation_addr = u64::MAX;
                        self.update_flags();
                    }
                    Err(_) => self.raise(illegal),
                }
            }
            Op::Wfi => match self.ps.wfi_legal() {
                Ok(()) => {
                    self.cpu.pc = next;
                    return Ok(self.wfi());
                }
                Err(_) => self.raise(illegal),
            },
            Op::SfenceVma => match self.ps.sfence_vma_legal() {
                Ok(()) => {
                    Counters::bump(&self.counters.tlb_flushes);
                    if insn.rs1 == 0 {
                        self.tlb.flush_all();
                    } else {
                        let va = self.cpu.x[usize::from(insn.rs1)];
                        self.tlb.flush_page(GuestVirtAddr(va));
                    }
                    self.flush_jump_cache();
                    self.cpu.pc = next;
                }
                Err(_) => self.raise(illegal),
            },
            Op::Csrrw | Op::Csrrs | Op::Csrrc | Op::Csrrwi | Op::Csrrsi | Op::Csrrci => {
                let imm = matches!(insn.op, Op::Csrrwi | Op::Csrrsi | Op::Csrrci);
                let src = if imm {
                    insn.imm as u64
                } else {
                    self.cpu.x[usize::from(insn.rs1)]
                };
                let zero_src = if imm { insn.imm == 0 } else { insn.rs1 == 0 };
                let mode = match insn.op {
                    Op::Csrrw | Op::Csrrwi => CsrMode::Write,
                    _ if zero_src => CsrMode::Read,
                    Op::Csrrs | Op::Csrrsi => CsrMode::Set,
                    _ => CsrMode::Clear,
                };
                match self.csr(insn.csr, mode, src) {
                    Ok(old) => {
                        if insn.rd != 0 {
                            self.cpu.x[usize::from(insn.rd)] = old;
                        }
                        self.cpu.pc = next;
                    }
                    Err(()) => self.raise(illegal),
                }
            }
            _ => self.raise(illegal),
        }
        Ok(Turn::Continue)
    }

    /// One CSR access from the current privilege; `Err` is an illegal
    /// instruction.
    fn csr(&mut self, csr: u16, mode: CsrMode, src: u64) -> std::result::Result<u64, ()> {
        if matches!(csr, fcsr::FFLAGS | fcsr::FRM | fcsr::FCSR) {
            if !self.ps.fp_enabled() {
                return Err(());
            }
            let (mask, shift) = match csr {
                fcsr::FFLAGS => (0x1f, 0),
                fcsr::FRM => (0x7, 5),
                _ => (0xff, 0),
            };
            let old = (self.cpu.fcsr >> shift) & mask;
            let new = match mode {
                CsrMode::Read => return Ok(old),
                CsrMode::Write => src,
                CsrMode::Set => old | src,
                CsrMode::Clear => old & !src,
            } & mask;
            self.cpu.fcsr = (self.cpu.fcsr & !(mask << shift)) | new << shift;
            self.ps.mark_fs_dirty();
            self.update_flags();
            return Ok(old);
        }
        // `mip` and `sip` read the device lines as they are now (a store
        // to `mtimecmp` or `msip` just before must show).
        use cranemu_frontend::privileged::csr::{MIP, SIP};
        if matches!(csr, MIP | SIP) {
            self.update_interrupts();
        }
        // The counters read what the caller keeps current.
        let t = self.m.aclint.mtime();
        self.ps.time = t;
        if self.ps.mcountinhibit & 1 == 0 {
            self.ps.mcycle = self.m.cycles();
        }
        if self.ps.mcountinhibit & 4 == 0 {
            self.ps.minstret = if self.m.config.engine.count_insns {
                self.cpu.icount
            } else {
                self.m.cycles()
            };
        }
        let old_satp = self.ps.satp;
        let old_mstatus = self.ps.mstatus;
        let (old, effect) = self
            .ps
            .csr_rmw(csr, mode, src, self.ps.priv_level)
            .map_err(|_| ())?;
        if csr == SIP && self.ps.mip & 2 == 0 {
            self.m.aclint.clear_ssip(self.id);
        }
        // SUM, MPRV and MPP select the MMU index (part of the TB flags),
        // so of the changes that `effect.flush_tlb` reports only a new
        // `satp` (entries carry no ASID) and MXR (no index of its own)
        // need a flush.
        let _ = effect;
        let mxr_changed = (old_mstatus ^ self.ps.mstatus) & mstatus::MXR != 0;
        use cranemu_frontend::privileged::csr::{PMPADDR0, PMPADDR63, PMPCFG0, PMPCFG15};
        let pmp = matches!(csr, PMPCFG0..=PMPCFG15 | PMPADDR0..=PMPADDR63) && mode != CsrMode::Read;
        if self.ps.satp != old_satp || mxr_changed || pmp {
            self.flush_tlb();
        }
        self.update_flags();
        Ok(old)
    }

    /// `wfi`: sleeps until an interrupt is pending and enabled in `mie`
    /// (whatever the global enables say), the machine stops, or a kick.
    fn wfi(&mut self) -> Turn {
        loop {
            if let Some(exit) = self.m.poll() {
                return Turn::Stop(exit);
            }
            self.serve_protect();
            let time = self.update_interrupts();
            if self.ps.wfi_wakeup(time) {
                return Turn::Continue;
            }
            Counters::bump(&self.counters.wfi_sleeps);
            self.m.wakes[self.id].sleep(self.published);
            self.cpu.take_exit_request();
        }
    }
}

/// The walker's privilege for a hart privilege.
fn mmu_priv_of(p: Priv) -> MmuPriv {
    match p {
        Priv::U => MmuPriv::User,
        Priv::S => MmuPriv::Supervisor,
        Priv::M => MmuPriv::Machine,
    }
}

/// `t` ticks of the 10 MHz timebase as a duration.
fn ticks(t: u64) -> Duration {
    Duration::from_nanos(t.saturating_mul(100))
}

/// The indirect-jump lookup called by system-mode translated code: the
/// hart's jump cache, then the shared map, under the current address
/// translation. Null (leave translated code) if the target is not compiled
/// or cannot be fetched.
///
/// # Safety
/// `cpu` is the CPU state at the start of a live [`Hart`] running
/// translated code on this thread.
pub(crate) unsafe extern "C" fn lookup_helper(cpu: *mut u8, pc: u64) -> *const u8 {
    // SAFETY: the contract; the hart's generation is held by its loop.
    let hart = unsafe { &mut *cpu.cast::<Hart>() };
    let generation = hart.generation;
    if generation.is_null() {
        return std::ptr::null();
    }
    // SAFETY: set by the loop to the generation it holds while it runs
    // translated code.
    let generation = unsafe { &*generation };
    match hart.lookup(generation, pc) {
        Ok(Lookup::Code(code, _)) => code,
        _ => std::ptr::null(),
    }
}
