//! Locks that survive `fork()`: [`Mutex`] and [`RwLock`] over the
//! standard library's futex-based ones, with `parking_lot`'s calling
//! convention (no poisoning: a panicking holder does not make the data
//! unusable, since a panic ends the emulator anyway).
//!
//! Why not `parking_lot` for these: the engine and the guest address space
//! are locked by one thread across a host `fork()` of a multi-threaded
//! guest, and unlocked in the child, which has only that thread. A
//! `parking_lot` unlock may hand the lock straight to a waiting thread (its
//! eventual fairness) and goes through a process-wide table of parked
//! threads whose buckets other threads may hold; in the child those
//! threads do not exist, and it deadlocks. A standard-library unlock just
//! clears the lock word and wakes the futex.

use std::sync::PoisonError;

pub use std::sync::{MutexGuard, RwLockReadGuard, RwLockWriteGuard};

/// A mutual-exclusion lock (see the module doc).
#[derive(Debug, Default)]
pub struct Mutex<T: ?Sized>(std::sync::Mutex<T>);

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    pub const fn new(value: T) -> Mutex<T> {
        Mutex(std::sync::Mutex::new(value))
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, blocking until the lock is free.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A reader-writer lock (see the module doc).
#[derive(Debug, Default)]
pub struct RwLock<T: ?Sized>(std::sync::RwLock<T>);

impl<T> RwLock<T> {
    /// A new unlocked lock holding `value`.
    pub const fn new(value: T) -> RwLock<T> {
        RwLock(std::sync::RwLock::new(value))
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, blocking while a writer holds it.
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks for writing, blocking while anyone holds it.
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}
