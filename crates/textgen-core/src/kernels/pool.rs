//! A persistent worker pool for the forward pass: one `run` per operation, no thread spawn per op.
//!
//! Work is claimed in small chunks, each participant first from its own contiguous region, so a participant
//! that is descheduled (a busy machine, more threads than free cores) never holds the others up: whoever is
//! running takes the next chunk, and the caller closes the job as soon as every chunk is claimed. Idle workers spin briefly (a decode step
//! issues hundreds of small jobs back to back), then yield, then park.

use std::cell::UnsafeCell;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// Most regions one `for_each_chunk` splits its work into (participants beyond share them).
const MAX_REGIONS: usize = 64;

/// Pure spins before an idle worker starts yielding; then yields before it parks.
const SPINS: u32 = 1 << 12;
const YIELDS: u32 = 1 << 10;

type Job = *const (dyn Fn(usize) + Sync);

/// A region's claim cursor on a cache line of its own: participants draining different regions then never
/// invalidate each other's line (adjacent cursors cost ~7% of a 2-thread decode step in claims).
#[repr(align(128))]
struct Cursor(AtomicUsize);

struct Shared {
    job: UnsafeCell<Option<Job>>,
    /// Job number << 1 | 1 while the job is open to workers.
    state: AtomicU64,
    /// Workers currently inside the job.
    active: AtomicUsize,
    panicked: AtomicBool,
    stop: AtomicBool,
    /// Workers that have finished starting up.
    started: AtomicUsize,
    sleep_lock: Mutex<()>,
    wake: Condvar,
}

// SAFETY: `job` is written only inside `Pool::run` (serialized by `run_lock`) while the job is closed; a worker
// dereferences it only after registering in `active` and then seeing the job open (SeqCst on both sides), and
// `run` closes the job and waits for `active == 0` before returning, so the borrow outlives every use.
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

/// A fixed set of threads that execute jobs together with the caller.
pub struct Pool {
    threads: usize,
    shared: Arc<Shared>,
    run_lock: Mutex<()>,
    handles: Vec<JoinHandle<()>>,
}

impl Pool {
    /// A pool of `threads` participants in total (the caller of `run` is one of them); 0 means 1.
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            job: UnsafeCell::new(None),
            state: AtomicU64::new(0),
            active: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            started: AtomicUsize::new(0),
            sleep_lock: Mutex::new(()),
            wake: Condvar::new(),
        });
        let handles = (1..threads)
            .filter_map(|i| {
                let s = shared.clone();
                std::thread::Builder::new()
                    .name(format!("textgen-worker-{i}"))
                    .spawn(move || worker(s, i))
                    .ok()
            })
            .collect::<Vec<_>>();
        // Thread start-up allocates (names, thread-locals): let it finish here, not during the first jobs.
        while shared.started.load(Acquire) < handles.len() {
            std::thread::yield_now();
        }
        Self {
            threads: handles.len() + 1,
            shared,
            run_lock: Mutex::new(()),
            handles,
        }
    }

    /// Number of participants (participant indices are `0..threads()`).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Calls `f(participant, range)` for consecutive ranges of `grain` items covering `0..n`, spread over
    /// the participants; returns when all are done. Each participant index is used by one thread at a time.
    ///
    /// The chunks are split into one contiguous region per participant: each drains its own region in
    /// order (a long sequential stream the hardware prefetcher follows, where interleaved chunks would make
    /// every thread jump), then helps with the others' regions, so a descheduled participant holds no one up.
    pub fn for_each_chunk(&self, n: usize, grain: usize, f: &(dyn Fn(usize, Range<usize>) + Sync)) {
        let grain = grain.max(1);
        let chunks = n.div_ceil(grain);
        let regions = self.threads.min(MAX_REGIONS).min(chunks.max(1));
        let bound = |k: usize| k * chunks / regions;
        let cursors: [Cursor; MAX_REGIONS] =
            std::array::from_fn(|k| Cursor(AtomicUsize::new(bound(k))));
        let claim = |p: usize| {
            for k in (0..regions).map(|i| (p + i) % regions) {
                loop {
                    let c = cursors[k].0.fetch_add(1, Relaxed);
                    if c >= bound(k + 1) {
                        break;
                    }
                    f(p, c * grain..((c + 1) * grain).min(n));
                }
            }
        };
        if self.threads == 1 || n <= grain {
            claim(0);
        } else {
            self.run(&claim);
        }
    }

    /// Runs `f(participant)` on the caller (participant 0) and on whichever workers arrive before the caller
    /// finishes; `f` must itself share out the work (see `for_each_chunk`).
    fn run(&self, f: &(dyn Fn(usize) + Sync)) {
        let _guard = self.run_lock.lock().unwrap_or_else(|p| p.into_inner());
        let s = &*self.shared;
        // SAFETY: see `Shared`; the job is closed here, so no worker reads the slot while we write it.
        unsafe {
            *s.job.get() = Some(std::mem::transmute::<&(dyn Fn(usize) + Sync), Job>(f));
        }
        let open = (s.state.load(Relaxed) & !1) + 3;
        {
            let _l = s.sleep_lock.lock().unwrap_or_else(|p| p.into_inner());
            s.state.store(open, SeqCst);
        }
        s.wake.notify_all();
        let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(0)));
        s.state.store(open & !1, SeqCst);
        let mut spins = 0u32;
        while s.active.load(SeqCst) != 0 {
            spins += 1;
            if spins < SPINS {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        if let Err(p) = mine {
            std::panic::resume_unwind(p);
        }
        if s.panicked.swap(false, Relaxed) {
            panic!("a worker thread panicked");
        }
    }
}

fn worker(s: Arc<Shared>, index: usize) {
    // Initialize the thread handle now (std does it lazily, allocating) before reporting in.
    drop(std::thread::current());
    s.started.fetch_add(1, Release);
    let mut done = 0u64;
    loop {
        let mut waits = 0u32;
        let job_state = loop {
            let st = s.state.load(Acquire);
            if st & 1 == 1 && st != done {
                break st;
            }
            if s.stop.load(Relaxed) {
                return;
            }
            waits += 1;
            if waits < SPINS {
                std::hint::spin_loop();
            } else if waits < SPINS + YIELDS {
                std::thread::yield_now();
            } else {
                let l = s.sleep_lock.lock().unwrap_or_else(|p| p.into_inner());
                let st = s.state.load(Acquire);
                if (st & 1 == 0 || st == done) && !s.stop.load(Relaxed) {
                    drop(s.wake.wait(l).unwrap_or_else(|p| p.into_inner()));
                }
                waits = 0;
            }
        };
        done = job_state;
        s.active.fetch_add(1, SeqCst);
        if s.state.load(SeqCst) == job_state {
            // SAFETY: registered in `active` while the job is open: `run` waits for us before returning.
            if let Some(job) = unsafe { (*s.job.get()).map(|j| &*j) } {
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(index))).is_err() {
                    s.panicked.store(true, Relaxed);
                }
            }
        }
        s.active.fetch_sub(1, SeqCst);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        {
            let _l = self
                .shared
                .sleep_lock
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            self.shared.stop.store(true, Relaxed);
        }
        self.shared.wake.notify_all();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// A raw pointer that may be shared across pool participants writing disjoint ranges.
#[derive(Clone, Copy)]
pub struct SyncPtr<T>(*mut T);
// SAFETY: used only to hand each participant a pointer into a buffer whose ranges they write disjointly.
unsafe impl<T> Sync for SyncPtr<T> {}
unsafe impl<T> Send for SyncPtr<T> {}

impl<T> SyncPtr<T> {
    /// Wraps a mutable slice's base pointer.
    pub fn new(s: &mut [T]) -> Self {
        Self(s.as_mut_ptr())
    }

    /// The sub-slice `[start, start + len)`.
    ///
    /// # Safety
    /// The range must lie inside the original slice and no other participant may access it concurrently.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice(&self, start: usize, len: usize) -> &mut [T] {
        std::slice::from_raw_parts_mut(self.0.add(start), len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_processed_exactly_once() {
        for threads in [1, 2, 3] {
            let pool = Pool::new(threads);
            for n in [0, 1, 5, 64, 1000] {
                let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
                pool.for_each_chunk(n, 7, &|p, r| {
                    assert!(p < pool.threads());
                    for i in r {
                        hits[i].fetch_add(1, Relaxed);
                    }
                });
                assert!(
                    hits.iter().all(|h| h.load(Relaxed) == 1),
                    "threads {threads} n {n}"
                );
            }
        }
    }

    #[test]
    fn many_small_jobs_in_a_row() {
        let pool = Pool::new(2);
        let total = AtomicUsize::new(0);
        for _ in 0..20_000 {
            pool.for_each_chunk(4, 1, &|_, r| {
                total.fetch_add(r.len(), Relaxed);
            });
        }
        assert_eq!(total.load(Relaxed), 80_000);
    }
}
