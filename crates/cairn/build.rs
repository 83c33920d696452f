//! Links the `cairn` binary with packed relative relocations (`DT_RELR`) where the
//! tool chain and the C library support them.
//!
//! A position-independent executable lists every pointer it holds in static data as
//! a relocation the loader applies at start. For cairn (DataFusion, tract, candle,
//! the time-zone tables, the web UI's assets) that is over a million entries of 24
//! bytes each, which the loader reads, and so keeps resident, in every process: most
//! of an idle server's memory. `-z pack-relative-relocs` stores them as a bitmap a
//! few hundred times smaller, and the executable stays position-independent.
//!
//! The flag needs GNU ld 2.38 or lld 15 to link and glibc 2.36 to run, so it is used
//! only when a test program linked with it runs here; elsewhere cairn links as before.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !(target.contains("linux") && target.ends_with("-gnu")) {
        return;
    }
    if supports_packed_relocations() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    } else {
        println!(
            "cargo:warning=the linker or the C library lacks -z pack-relative-relocs: \
             cairn links without it and keeps its relocation table resident"
        );
    }
}

/// Whether the C compiler rustc links through (`cc`) links and runs a program with
/// the flag.
fn supports_packed_relocations() -> bool {
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        return false;
    };
    let (source, program) = (out.join("relr.c"), out.join("relr"));
    // A pointer in static data: the relocation the flag packs.
    let code = "static const char *p = \"x\";\nint main(void) { return p[0] == 'x' ? 0 : 1; }\n";
    if std::fs::write(&source, code).is_err() {
        return false;
    }
    let linked = Command::new("cc")
        .args(["-fPIE", "-pie", "-Wl,-z,pack-relative-relocs", "-o"])
        .arg(&program)
        .arg(&source)
        .output()
        .is_ok_and(|o| o.status.success() && o.stderr.is_empty());
    linked && Command::new(&program).status().is_ok_and(|s| s.success())
}
