//! Data parallelism without a thread pool: split a slice into chunks, let one
//! scoped thread per core take chunks as it finishes the last, and return the
//! results in chunk order — so that output stays deterministic however the
//! work was shared out.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Below this many items the work is done on the calling thread.
const MIN_PARALLEL: usize = 64;

/// Chunks per thread: small enough that a slow chunk does not leave the
/// other cores idle at the end, large enough that taking one is cheap.
const CHUNKS_PER_THREAD: usize = 16;

pub(crate) fn map_chunks<T, R, F>(items: &[T], f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&[T]) -> R + Sync,
{
    let threads = std::thread::available_parallelism()
        .map(NonZeroUsize::get)
        .unwrap_or(1);
    if threads <= 1 || items.len() < MIN_PARALLEL {
        return vec![f(items)];
    }
    let chunk = items
        .len()
        .div_ceil(threads * CHUNKS_PER_THREAD)
        .max(MIN_PARALLEL / 4);
    let chunks: Vec<&[T]> = items.chunks(chunk).collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(chunks.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(chunks.len()))
            .map(|_| {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(part) = chunks.get(i) else { break };
                        let result = f(part);
                        results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(result);
                    }
                })
            })
            .collect();
        for worker in workers {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.expect("every chunk was processed"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_order() {
        let items: Vec<u32> = (0..1000).collect();
        let sums: Vec<Vec<u32>> = map_chunks(&items, |part| part.to_vec());
        let flat: Vec<u32> = sums.into_iter().flatten().collect();
        assert_eq!(flat, items);
    }

    #[test]
    fn a_panic_in_a_chunk_reaches_the_caller() {
        let items: Vec<u32> = (0..1000).collect();
        let caught = std::panic::catch_unwind(|| {
            map_chunks(&items, |part| assert!(!part.contains(&500), "boom"))
        });
        assert!(caught.is_err());
    }
}
