//! Data parallelism without a thread pool: split a slice into one chunk per
//! core, run a closure on each chunk in a scoped thread, and return the
//! results in chunk order — so that output stays deterministic.

use std::num::NonZeroUsize;

/// Below this many items the work is done on the calling thread.
const MIN_PARALLEL: usize = 64;

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
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| f(part)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
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
}
