//! Register writes deferred past loads
//! ([`cranemu_ir::passes::defer_state_stores`]), with a fault run again
//! from its stretch's start as the runtime does: every program ends as
//! it does with each write stored at once.

use super::if_conversion::{random_insn, register_values};
use super::speculative_loads::set_values;
use super::*;

proptest::proptest! {
    /// Straight-line code of pure instructions, loads (through `x10`,
    /// which points at the data, or through `x5..x9`, which mostly
    /// fault) and stores into the data, then `ebreak`: the same outcome,
    /// registers and memory with the passes as without.
    #[test]
    fn deferred_writes_end_as_written_ones(
        insns in proptest::collection::vec(
            (proptest::prelude::any::<u64>(), 0u8..6, 5u8..11, 0u32..7),
            1..24,
        ),
        values in register_values(),
        data in proptest::prelude::any::<bool>(),
    ) {
        let mut words: Vec<u32> = insns
            .iter()
            .map(|&(k, kind, rs1, f3)| {
                let rd = 5 + (k >> 4) as u8 % 5;
                let imm = 8 * ((k >> 20) as i32 & 0x3f);
                // lb, lh, lw, ld, lbu, lhu, lwu
                let f3 = if f3 > 3 { f3 + 1 } else { f3 };
                match kind {
                    0..=2 => random_insn(k),
                    3 | 4 => load(f3, rd, rs1, imm),
                    _ => store(f3 % 4, rd, 10, imm),
                }
            })
            .collect();
        words.push(EBREAK);
        let run = |passes: bool| {
            let mut m = Machine::new(&words);
            m.passes = passes;
            set_values(&mut m, &values, data);
            let out = m.run();
            (m, out)
        };
        let ((with, with_out), (without, without_out)) = (run(true), run(false));
        proptest::prop_assert_eq!(with_out, without_out);
        proptest::prop_assert_eq!(with.cpu.x, without.cpu.x);
        proptest::prop_assert!(with.mem.0 == without.mem.0);
    }
}
