//! Initramfs pieces for the full-system tests: Linux unpacks every
//! archive of a concatenated initramfs in turn, so a test adds its guest
//! programs by appending a small cpio to a prebuilt image.

use std::path::Path;

/// Appends a newc ("070701") cpio archive of `files` (name in the
/// archive, host path; each a regular executable file) to `out`: Linux
/// unpacks every archive of a concatenated initramfs in turn
/// (Documentation/driver-api/early-userspace/buffer-format.rst).
pub fn append_newc(out: &mut Vec<u8>, files: &[(&str, &Path)]) {
    fn pad4(out: &mut Vec<u8>) {
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }
    fn header(out: &mut Vec<u8>, ino: u32, name: &str, mode: u32, size: usize) {
        let fields = [
            ino,
            mode,
            0,
            0,
            1,
            0,
            size as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0,
        ];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        pad4(out);
    }
    pad4(out);
    for (i, (name, path)) in files.iter().enumerate() {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        header(out, 0x10000 + i as u32, name, 0o100755, data.len());
        out.extend_from_slice(&data);
        pad4(out);
    }
    header(out, 0, "TRAILER!!!", 0, 0);
}
