//! Links the `cranemu` binary with packed relative relocations (DT_RELR,
//! `-z pack-relative-relocs`; glibc 2.36 and binutils 2.38 or later).
//!
//! As a position-independent executable the binary has about 280,000
//! relative relocations. In the classic form (`.rela.dyn`, 24 bytes
//! each) the dynamic loader read 2.2 MB of them at every start, which
//! counted in every workload's peak RSS (`cranemu run busybox true`
//! had 13.2 MiB resident; BENCHMARKS.md, issue 12's sixth step). Packed,
//! they take a few KiB, and the binary stays position-independent (its
//! load address randomized). Only this package's binaries are linked
//! this way, not the tests' or the libraries'.
fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    println!("cargo:rerun-if-changed=build.rs");
}
