//! A small-object allocator for guests, on by default (cargo feature `fast-alloc`).
//!
//! Jobs allocate and free many small values per record (a `String` per word, say).
//! Tasks run single-threaded in a fresh instance, so small blocks can live on
//! per-size free lists with no locking: allocating is a pop, freeing a push, and
//! freed blocks are reused, so memory stays bounded while a partition streams
//! through. Larger or over-aligned blocks go to the system allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr::null_mut;

/// Size classes, in bytes (each a multiple of 8, so every block is 8-aligned).
const CLASSES: [usize; 12] = [8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512];
const MAX_SMALL: usize = 512;
/// Chunks for small blocks start small (a short task touches little memory) and
/// double up to `MAX_CHUNK`.
const FIRST_CHUNK: usize = 8 << 10;
const MAX_CHUNK: usize = 256 << 10;

struct State {
    free: [*mut u8; CLASSES.len()],
    bump: *mut u8,
    end: *mut u8,
    next_chunk: usize,
}

/// The allocator. Only sound where there is one thread (wasm32 without atomics).
pub struct SmallAlloc(UnsafeCell<State>);

// SAFETY: used only as the global allocator of single-threaded wasm32 guests.
unsafe impl Sync for SmallAlloc {}

impl SmallAlloc {
    /// An empty allocator.
    pub const fn new() -> Self {
        SmallAlloc(UnsafeCell::new(State {
            free: [null_mut(); CLASSES.len()],
            bump: null_mut(),
            end: null_mut(),
            next_chunk: FIRST_CHUNK,
        }))
    }
}

impl Default for SmallAlloc {
    fn default() -> Self {
        Self::new()
    }
}

/// The size class of each size rounded up to 8 bytes (index `(size + 7) / 8`):
/// one load instead of a search on every allocation and free.
const CLASS_OF: [u8; MAX_SMALL / 8 + 1] = {
    let mut t = [0u8; MAX_SMALL / 8 + 1];
    let mut i = 0;
    while i < t.len() {
        let size = if i == 0 { 1 } else { i * 8 };
        let mut c = 0;
        while CLASSES[c] < size {
            c += 1;
        }
        t[i] = c as u8;
        i += 1;
    }
    t
};

/// The class of 16-byte blocks.
const CLASS_16: usize = 1;
const _: () = assert!(CLASSES[CLASS_16] == 16);

#[inline]
fn class(layout: Layout) -> Option<usize> {
    // A word's block (`spindle::words` gives every word of up to 16 bytes that
    // capacity), freed once per word: its class without the table lookup, whose
    // load the free list's address waited for (word count: 4 % less wall time).
    if layout.size() == 16 && layout.align() <= 8 {
        return Some(CLASS_16);
    }
    if layout.size() > MAX_SMALL || layout.align() > 8 {
        return None;
    }
    Some(CLASS_OF[layout.size().div_ceil(8)] as usize)
}

impl SmallAlloc {
    /// Carves a block of class `c` from a new chunk. Out of line, with the other
    /// rare paths, so that the common one (a free-list pop) needs no stack frame.
    #[cold]
    #[inline(never)]
    fn refill(&self, c: usize) -> *mut u8 {
        // SAFETY: single-threaded; no other reference to the state is live.
        let s = unsafe { &mut *self.0.get() };
        let size = CLASSES[c];
        if (s.end as usize) - (s.bump as usize) < size {
            let len = s.next_chunk;
            // SAFETY: a valid, non-zero layout.
            let chunk = unsafe { System.alloc(Layout::from_size_align_unchecked(len, 16)) };
            if chunk.is_null() {
                return null_mut();
            }
            s.next_chunk = (len * 2).min(MAX_CHUNK);
            s.bump = chunk;
            // SAFETY: within the chunk just allocated.
            s.end = unsafe { chunk.add(len) };
        }
        let p = s.bump;
        // SAFETY: `size` bytes remain in the chunk.
        s.bump = unsafe { p.add(size) };
        p
    }
}

#[cold]
#[inline(never)]
fn system_alloc(layout: Layout) -> *mut u8 {
    // SAFETY: forwarded as given by `GlobalAlloc::alloc`'s caller.
    unsafe { System.alloc(layout) }
}

#[cold]
#[inline(never)]
fn system_dealloc(ptr: *mut u8, layout: Layout) {
    // SAFETY: forwarded as given by `GlobalAlloc::dealloc`'s caller: allocated by
    // `System` with this layout.
    unsafe { System.dealloc(ptr, layout) }
}

unsafe impl GlobalAlloc for SmallAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(c) = class(layout) else {
            return system_alloc(layout);
        };
        // SAFETY: single-threaded; no other reference to the state is live.
        let s = unsafe { &mut *self.0.get() };
        let head = s.free[c];
        if head.is_null() {
            return self.refill(c);
        }
        // SAFETY: a free block holds the next pointer in its first 8 bytes.
        s.free[c] = unsafe { *(head as *mut *mut u8) };
        head
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(c) = class(layout) else {
            return system_dealloc(ptr, layout);
        };
        // SAFETY: single-threaded; the block is at least 8 bytes and 8-aligned.
        unsafe {
            let s = &mut *self.0.get();
            *(ptr as *mut *mut u8) = s.free[c];
            s.free[c] = ptr;
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees a valid layout for `new_size`.
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class(layout), class(new)) {
            // SAFETY: both blocks belong to `System`.
            (None, None) => unsafe { System.realloc(ptr, layout, new_size) },
            (Some(a), Some(b)) if a == b => ptr,
            _ => {
                // SAFETY: standard allocate-copy-free with valid layouts.
                unsafe {
                    let p = self.alloc(new);
                    if !p.is_null() {
                        let n = layout.size().min(new_size);
                        if n <= spindle_frame::SHORT {
                            // A string growing while it is formatted, say: a few word
                            // moves instead of a `memory.copy` (a call to the host).
                            spindle_frame::copy_short(p, std::slice::from_raw_parts(ptr, n));
                        } else {
                            std::ptr::copy_nonoverlapping(ptr, p, n);
                        }
                        self.dealloc(ptr, layout);
                    }
                    p
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_small_size_gets_the_smallest_class_that_holds_it() {
        for size in 0..=MAX_SMALL {
            let want = CLASSES.iter().position(|&c| c >= size.max(1));
            let got = class(Layout::from_size_align(size, 1).unwrap());
            assert_eq!(got, want, "size {size}");
        }
        assert_eq!(class(Layout::from_size_align(MAX_SMALL + 1, 1).unwrap()), None);
        assert_eq!(class(Layout::from_size_align(8, 16).unwrap()), None);
    }
}
