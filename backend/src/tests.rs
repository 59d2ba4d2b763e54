//! Unit tests of the backend: the pc map, the bounds checks that
//! accesses from one base share, and how the runtime finishes and
//! re-points first-tier code.

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
            fault_host_pc: 48,
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

/// `template::forward` re-points a first-tier entry's `jmp` with one
/// store, and only to a target within its reach.
#[test]
fn forward_points_a_first_tier_entry_at_its_target() {
    // SAFETY: a fresh anonymous mapping, unmapped at the end.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(page, libc::MAP_FAILED);
    let base = page as *mut u8;
    // At 3 (the entry's place mod 4): `jmp next; mov eax, 1; ret`; at
    // 64: `mov eax, 2; ret`.
    let entry: [u8; 11] = [0xe9, 0, 0, 0, 0, 0xb8, 1, 0, 0, 0, 0xc3];
    let target: [u8; 6] = [0xb8, 2, 0, 0, 0, 0xc3];
    // SAFETY: both ranges lie in the page.
    unsafe {
        std::ptr::copy_nonoverlapping(entry.as_ptr(), base.add(3), entry.len());
        std::ptr::copy_nonoverlapping(target.as_ptr(), base.add(64), target.len());
    }
    let run = || {
        // SAFETY: the code above, which takes nothing and returns eax.
        let f: extern "C" fn() -> u32 = unsafe { std::mem::transmute(base.add(3)) };
        f()
    };
    assert_eq!(run(), 1);
    // SAFETY: the entry in writable memory; the target code is valid.
    assert!(unsafe { crate::template::forward(base.add(3), base.add(64)) });
    assert_eq!(run(), 2);
    // 3 GiB away: out of reach, nothing changed (never executed).
    let far = (base as usize).wrapping_add(3 << 30) as *const u8;
    // SAFETY: as above; `far` is refused before anything is written.
    assert!(!unsafe { crate::template::forward(base.add(3), far) });
    assert_eq!(run(), 2);
    // SAFETY: ours, and nothing runs in it any more.
    unsafe { libc::munmap(page, 4096) };
}

/// `template::link_counter` writes the counter's `rip`-relative
/// displacement (from the end of `sub dword [rip + rel32], 1`), and
/// refuses a counter beyond 2 GiB.
#[test]
fn link_counter_writes_a_rip_relative_displacement() {
    let layout = crate::template::TemplateLayout {
        entry: 3,
        counter_rel: 10,
    };
    let mut code = vec![0u8; 20];
    let at = 0x7f00_0000_0000usize;
    assert!(crate::template::link_counter(
        &mut code,
        &layout,
        at,
        at + 0x2000
    ));
    let rel = i32::from_le_bytes(code[10..14].try_into().expect("4 bytes"));
    assert_eq!(at as i64 + 15 + i64::from(rel), (at + 0x2000) as i64);
    assert!(crate::template::link_counter(
        &mut code,
        &layout,
        at,
        at - 0x1000
    ));
    let rel = i32::from_le_bytes(code[10..14].try_into().expect("4 bytes"));
    assert_eq!(rel, -0x1000 - 15);
    let before = code.clone();
    assert!(!crate::template::link_counter(
        &mut code,
        &layout,
        at,
        at + (3 << 30)
    ));
    assert_eq!(code, before);
}
