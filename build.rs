//! Links the `cranemu` binary as a position-dependent executable.
//!
//! A position-independent one carries 2.2 MB of relative relocations
//! (`.rela.dyn`) that the dynamic loader reads, and 1.4 MB of
//! `.data.rel.ro` that it writes, at every start: 3.6 MB of the 13.2 MiB
//! that `cranemu run busybox true` had resident, counted in every
//! workload's peak RSS (BENCHMARKS.md, issue 12's sixth step). The code
//! is still compiled position-independent; only the link differs, and
//! only for this package's binaries (not the tests' or the libraries').
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
    println!("cargo:rerun-if-changed=build.rs");
}
