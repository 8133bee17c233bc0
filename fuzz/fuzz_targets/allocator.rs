//! The guests' small-object allocator, built natively: any sequence of
//! allocations, frees and reallocations gives blocks that are aligned, never
//! overlap (each block is filled with its own byte and checked before it is
//! freed), and keep their contents across `realloc`.
#![no_main]

use std::alloc::{GlobalAlloc, Layout};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use spindle::allocator::SmallAlloc;

/// One allocator for the whole run: it keeps its chunks for reuse (as a guest
/// does for its one task), and every input frees all it allocated.
static ALLOC: SmallAlloc = SmallAlloc::new();

#[derive(Debug, Arbitrary)]
enum Op {
    Alloc { size: u16, align_log2: u8 },
    Free { index: u8 },
    Realloc { index: u8, size: u16 },
}

struct Block {
    ptr: *mut u8,
    layout: Layout,
    fill: u8,
}

fn fill(b: &Block) {
    // SAFETY: the block is live and `layout.size()` bytes long.
    unsafe { std::ptr::write_bytes(b.ptr, b.fill, b.layout.size()) };
}

fn check(b: &Block, len: usize) {
    // SAFETY: the block is live and at least `len` bytes long.
    let bytes = unsafe { std::slice::from_raw_parts(b.ptr, len) };
    assert!(bytes.iter().all(|&x| x == b.fill), "block {:p} ({:?}) was overwritten", b.ptr, b.layout);
}

fuzz_target!(|ops: Vec<Op>| {
    let mut live: Vec<Block> = Vec::new();
    let mut next_fill = 1u8;
    for op in ops {
        match op {
            Op::Alloc { size, align_log2 } => {
                let size = (size as usize % 2048).max(1);
                let align = 1usize << (align_log2 % 7);
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero size.
                let ptr = unsafe { ALLOC.alloc(layout) };
                assert!(!ptr.is_null());
                assert_eq!(ptr as usize % align, 0, "{layout:?} misaligned");
                let b = Block { ptr, layout, fill: next_fill };
                next_fill = next_fill.wrapping_add(1).max(1);
                fill(&b);
                live.push(b);
            }
            Op::Free { index } if !live.is_empty() => {
                let b = live.swap_remove(index as usize % live.len());
                check(&b, b.layout.size());
                // SAFETY: allocated by ALLOC with this layout, freed once.
                unsafe { ALLOC.dealloc(b.ptr, b.layout) };
            }
            Op::Realloc { index, size } if !live.is_empty() => {
                let i = index as usize % live.len();
                let new_size = (size as usize % 2048).max(1);
                let b = &mut live[i];
                check(b, b.layout.size());
                // SAFETY: allocated by ALLOC with this layout; a non-zero size.
                let p = unsafe { ALLOC.realloc(b.ptr, b.layout, new_size) };
                assert!(!p.is_null());
                assert_eq!(p as usize % b.layout.align(), 0);
                let kept = b.layout.size().min(new_size);
                b.ptr = p;
                b.layout = Layout::from_size_align(new_size, b.layout.align()).unwrap();
                check(b, kept);
                fill(b);
            }
            _ => {}
        }
    }
    for b in &live {
        check(b, b.layout.size());
    }
    for b in live {
        // SAFETY: as above.
        unsafe { ALLOC.dealloc(b.ptr, b.layout) };
    }
});
