//! Unit tests of the backend: the pc map, and the bounds checks that
//! accesses from one base share.

use super::*;
use cranemu_ir::{Builder, MemOp};

unsafe extern "C" fn no_lookup(_: *mut u8, _: u64) -> *const u8 {
    std::ptr::null()
}

/// The bounds checks (`icmp uge` against the guest size) in the
/// code of a block with four loads from one base register and one
/// from another, with guards of `guard` bytes.
fn bounds_checks(guard: u64) -> usize {
    let be = Backend::new(BackendConfig {
        guest_base: 0x1000_0000,
        guest_size: 1 << 38,
        guest_guard: guard,
        layout: StateLayout {
            pc: 0,
            exit_request: 8,
            fault_addr: 16,
            trap_cause: 24,
            fp_sink: 32,
            jump_cache: 40,
        },
        helpers: Vec::new(),
        lookup: no_lookup,
        opt_level: "none",
        softmmu: None,
    })
    .expect("backend");
    let mut block = Block::new(0x1000);
    let mut b = Builder::new(&mut block);
    let m = MemOp {
        size: MemSize::B8,
        signed: false,
        aligned: false,
    };
    let base = b.get_state(64);
    let other = b.get_state(72);
    for off in [0u64, 8, -8i64 as u64, 2040] {
        let a = if off == 0 {
            base
        } else {
            let k = b.iconst(off);
            b.binary(BinOp::Iadd, base, k)
        };
        let x = b.load(a, m);
        b.set_state(80, x);
    }
    let x = b.load(other, m);
    b.set_state(88, x);
    b.terminate(Terminator::Jump { pc: 0x2000 });
    let slot = std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());
    let slots = [&slot as ExitSlot];
    let code = be.compile(&block, &slots, true).expect("compile");
    let clif = code.clif.expect("clif");
    clif.lines()
        .filter(|l| l.contains(" uge ") && l.contains("0x0040_0000_0000"))
        .count()
}

/// Loads from one base share one bounds check where the guards allow
/// it (the check on the base, and its cold exact second check), and
/// each load is checked where they do not.
#[test]
fn loads_from_one_base_share_a_bounds_check() {
    assert_eq!(bounds_checks(0), 5);
    assert_eq!(bounds_checks(MERGED_CHECK_REACH), 4);
    assert_eq!(bounds_checks(64 << 10), 4);
}

#[test]
fn guest_pc_at_finds_the_covering_or_preceding_range() {
    let map = [
        PcRange {
            start: 4,
            end: 10,
            pc: 0x100,
        },
        PcRange {
            start: 10,
            end: 20,
            pc: 0x104,
        },
        PcRange {
            start: 30,
            end: 40,
            pc: 0x108,
        },
    ];
    assert_eq!(guest_pc_at(&map, 0), None);
    assert_eq!(guest_pc_at(&map, 4), Some(0x100));
    assert_eq!(guest_pc_at(&map, 19), Some(0x104));
    assert_eq!(guest_pc_at(&map, 25), Some(0x104));
    assert_eq!(guest_pc_at(&map, 39), Some(0x108));
}
