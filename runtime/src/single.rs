//! Running one IR block on its own, in one tier, without chaining: for
//! the differential tests (`runtime/tests/differential.rs`) and tools.

use cranemu_backend::{ExitCode, ExitSlot};
use cranemu_frontend::helpers::{enter_guest_fp, leave_guest_fp};

use crate::tbcache::Generation;
use crate::{
    empty_slots, exec, trap_of_exit, BlockOutcome, CpuState, Engine, Error, Exit, Result,
    EMPTY_JUMP_CACHE, RUNNING,
};

impl Engine {
    /// Compiles `block` on its own and runs it once on `cpu`, without
    /// chaining: a direct or indirect jump returns
    /// [`BlockOutcome::Next`] instead of continuing. For differential
    /// tests against the reference interpreter, and tools.
    ///
    /// # Errors
    /// [`Error::Codegen`] if the block does not verify or compile.
    pub fn run_ir_block(
        &self,
        cpu: &mut CpuState,
        block: &cranemu_ir::Block,
    ) -> Result<BlockOutcome> {
        cranemu_ir::verify::verify(block).map_err(|e| Error::Codegen(e.to_string()))?;
        let generation = self.cache.current();
        let slots = empty_slots(block.direct_exits());
        let slot_ptrs: Vec<ExitSlot> = slots.iter().map(|s| s as ExitSlot).collect();
        let compiled = self
            .backend
            .compile(block, &slot_ptrs, false)
            .map_err(|e| Error::Codegen(e.to_string()))?;
        let exits = exits_of(block, &slot_ptrs);
        self.run_placed(cpu, &generation, &compiled, &exits)
    }

    /// Lowers `block` to the first tier's program and emits its host code
    /// ([`cranemu_backend::template`]), then runs it once on `cpu` as
    /// [`Engine::run_ir_block`] runs Cranelift's code. `Ok(None)` if that
    /// tier does not emit this block (or this engine has no such tier:
    /// system mode, or [`crate::EngineConfig::first_tier_code`] off). For
    /// differential tests.
    ///
    /// # Errors
    /// [`Error::Codegen`] if the block does not verify.
    pub fn run_first_tier_block(
        &self,
        cpu: &mut CpuState,
        block: &cranemu_ir::Block,
    ) -> Result<Option<BlockOutcome>> {
        cranemu_ir::verify::verify(block).map_err(|e| Error::Codegen(e.to_string()))?;
        let (Some(compiler), Some(prog)) = (
            &self.first_tier,
            cranemu_ir::baseline::Program::lower(block),
        ) else {
            return Ok(None);
        };
        let generation = self.cache.current();
        let slots = empty_slots(block.direct_exits());
        let slot_ptrs: Vec<ExitSlot> = slots.iter().map(|s| s as ExitSlot).collect();
        let tb = cranemu_backend::template::TemplateTb {
            slots: &slot_ptrs,
            flags: block.flags,
        };
        let Some((mut compiled, layout)) = compiler.compile(&prog, &tb) else {
            return Ok(None);
        };
        // A counter that one run cannot take to zero (no Hot exit).
        let (entry, _counter) = generation
            .place_first_tier(&mut compiled.code, &compiled.pc_map, &layout, u32::MAX)
            .map_err(Error::Host)?;
        let exits = exits_of(block, &slot_ptrs);
        self.run_at(cpu, &generation, entry, &exits).map(Some)
    }

    /// Places `compiled` in `generation` and runs it once on `cpu`, with
    /// no chaining (see [`Engine::run_ir_block`]).
    fn run_placed(
        &self,
        cpu: &mut CpuState,
        generation: &Generation,
        compiled: &cranemu_backend::CompiledBlock,
        exits: &[(ExitSlot, u64)],
    ) -> Result<BlockOutcome> {
        let code = generation.place(compiled).map_err(Error::Host)?;
        self.run_at(cpu, generation, code, exits)
    }

    /// Runs the code at `code`, placed in `generation`, once on `cpu`
    /// (see [`Engine::run_placed`]). `exits` gives each exit slot's guest
    /// pc, which `cpu.pc` is set to when the code leaves through the slot
    /// (first-tier code does not write it; the backend's exit protocol).
    fn run_at(
        &self,
        cpu: &mut CpuState,
        generation: &Generation,
        code: *const u8,
        exits: &[(ExitSlot, u64)],
    ) -> Result<BlockOutcome> {
        // With no engine registered as running, the indirect-jump lookup
        // answers null, so the block cannot continue into other code.
        let saved =
            RUNNING.with(|r| r.replace((std::ptr::null(), std::ptr::null(), std::ptr::null())));
        cpu.jump_cache = EMPTY_JUMP_CACHE.as_ptr() as u64;
        enter_guest_fp(cpu);
        // SAFETY: freshly compiled code for this engine's guest space.
        let r = unsafe { exec::enter(cpu, code, generation.trampoline, self.guest_range()) };
        leave_guest_fp(cpu);
        RUNNING.with(|r| r.set(saved));
        generation.resolve_fault_pc(cpu);
        let exit = ExitCode::from_raw(r);
        if exit.is_none() {
            if let Some(&(_, pc)) = exits.iter().find(|(s, _)| *s as usize as i64 == r) {
                cpu.pc = pc;
            }
        }
        if let Some(trap) = exit.and_then(|e| trap_of_exit(e, cpu)) {
            return Ok(BlockOutcome::Exit(Exit::Trap(trap)));
        }
        Ok(match exit {
            Some(ExitCode::ExitFlush) => BlockOutcome::Next {
                pc: cpu.pc,
                flush: true,
            },
            Some(ExitCode::Interrupt) => BlockOutcome::Exit(Exit::Interrupted),
            _ => BlockOutcome::Next {
                pc: cpu.pc,
                flush: false,
            },
        })
    }
}

/// Each of `block`'s exit slots `slots` with the guest pc it leads to.
fn exits_of(block: &cranemu_ir::Block, slots: &[ExitSlot]) -> Vec<(ExitSlot, u64)> {
    slots
        .iter()
        .copied()
        .zip(block.direct_targets_iter())
        .collect()
}
