//! Executable memory for translated code.
//!
//! A [`CodeArena`] hands out space from host mappings made readable,
//! writable and executable, bump-allocated and freed only as a whole (a
//! cache generation drops its arena when no vCPU can be running its code).

/// Bytes in each host mapping of the arena.
const CHUNK_SIZE: usize = 32 << 20;

/// A bump allocator over RWX host mappings.
pub(crate) struct CodeArena {
    chunks: Vec<(*mut u8, usize)>,
    used: usize,
}

// SAFETY: the arena owns its mappings; access is serialized by the caller's
// lock.
unsafe impl Send for CodeArena {}

impl CodeArena {
    pub(crate) fn new() -> CodeArena {
        CodeArena {
            chunks: Vec::new(),
            used: 0,
        }
    }

    /// Copies `code` into executable memory and returns its host address.
    ///
    /// # Errors
    /// A message if the host refuses a new mapping.
    pub(crate) fn place(&mut self, code: &[u8]) -> Result<*const u8, String> {
        let len = code.len().next_multiple_of(16);
        let fits = matches!(self.chunks.last(), Some(&(_, size)) if self.used + len <= size);
        if !fits {
            let size = CHUNK_SIZE.max(len);
            // SAFETY: a fresh anonymous mapping; no existing memory is touched.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    size,
                    libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(format!(
                    "mmap of code cache: {}",
                    std::io::Error::last_os_error()
                ));
            }
            self.chunks.push((p as *mut u8, size));
            self.used = 0;
        }
        let &(base, _) = self.chunks.last().expect("a chunk was just ensured");
        // SAFETY: `used + len <= size`, so the range lies in our mapping,
        // and nothing executes this range yet.
        let dst = unsafe { base.add(self.used) };
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), dst, code.len()) };
        self.used += len;
        Ok(dst)
    }
}

impl Drop for CodeArena {
    fn drop(&mut self) {
        for &(p, size) in &self.chunks {
            // SAFETY: we mapped it; no code in it can run any more (the
            // generation owning this arena is unreachable).
            unsafe { libc::munmap(p as *mut libc::c_void, size) };
        }
    }
}
