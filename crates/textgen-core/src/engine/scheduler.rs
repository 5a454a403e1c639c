//! The scheduler thread: owns the continuous-batching step loop (`Batcher`) and takes requests from any
//! thread (the HTTP handlers). Model work never runs on the caller's thread.

use super::batcher::{BatchConfig, BatchStats, Batcher};
use super::generate::{Engine, Flow, Generation, Piece};
use super::sink::Sink;
use super::EngineError;
use crate::sampling::GenerationParams;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

/// A request on its way to the scheduler thread.
struct Submission {
    prompt: Vec<u32>,
    params: GenerationParams,
    sink: Box<dyn Sink + Send>,
}

/// Handle to the scheduler thread (cheap to share; dropping every handle stops the thread once idle).
pub struct Scheduler {
    tx: mpsc::Sender<Submission>,
    engine: Arc<Engine>,
    cfg: BatchConfig,
    waiting: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
    stats: Arc<Mutex<BatchStats>>,
}

/// Keeps the waiting / running counters in step with a request's life.
struct Counted {
    inner: Box<dyn Sink + Send>,
    waiting: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
    started: bool,
}

impl Sink for Counted {
    fn started(&mut self) {
        self.started = true;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        self.running.fetch_add(1, Ordering::SeqCst);
        self.inner.started();
    }

    fn piece(&mut self, piece: Piece) -> Flow {
        self.inner.piece(piece)
    }

    fn done(&mut self, result: Result<Generation, EngineError>) {
        let counter = if self.started {
            &self.running
        } else {
            &self.waiting
        };
        counter.fetch_sub(1, Ordering::SeqCst);
        self.inner.done(result);
    }

    fn cancelled(&self) -> bool {
        self.inner.cancelled()
    }
}

impl Scheduler {
    /// Starts the scheduler thread for `engine` with limits `cfg`.
    pub fn start(engine: Arc<Engine>, cfg: BatchConfig) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Submission>();
        let (e, stats) = (engine.clone(), Arc::new(Mutex::new(BatchStats::default())));
        let st = stats.clone();
        std::thread::Builder::new()
            .name("textgen-scheduler".into())
            .spawn(move || run(&e, cfg, rx, &st))?;
        Ok(Self {
            tx,
            engine,
            cfg,
            waiting: Arc::new(AtomicUsize::new(0)),
            running: Arc::new(AtomicUsize::new(0)),
            stats,
        })
    }

    /// Whether a request with this prompt length and parameters can ever run (context and KV budget).
    pub fn check(&self, prompt_len: usize, params: &GenerationParams) -> Result<(), EngineError> {
        self.cfg
            .reservation(&self.engine, prompt_len, params)
            .map(|_| ())
    }

    /// Queues a request; its output goes to `sink` (`done` is called exactly once).
    pub fn submit(
        &self,
        prompt: Vec<u32>,
        params: GenerationParams,
        sink: Box<dyn Sink + Send>,
    ) -> Result<(), EngineError> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let sink = Box::new(Counted {
            inner: sink,
            waiting: self.waiting.clone(),
            running: self.running.clone(),
            started: false,
        });
        self.tx
            .send(Submission {
                prompt,
                params,
                sink,
            })
            .map_err(|_| {
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                EngineError::Stopped
            })
    }

    /// Requests waiting for admission.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Requests being generated.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// What the step loop has done so far.
    pub fn stats(&self) -> BatchStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The limits it runs with.
    pub fn config(&self) -> BatchConfig {
        self.cfg
    }
}

/// The thread's loop: sleep while idle, otherwise take every new request and run one step.
fn run(
    engine: &Engine,
    cfg: BatchConfig,
    rx: mpsc::Receiver<Submission>,
    stats: &Mutex<BatchStats>,
) {
    let mut batcher = Batcher::new(engine, cfg);
    let mut open = true;
    loop {
        if batcher.is_idle() {
            if !open {
                return;
            }
            match rx.recv() {
                Ok(s) => batcher.submit(s.prompt, s.params, s.sink),
                Err(_) => return,
            }
        }
        while open {
            match rx.try_recv() {
                Ok(s) => batcher.submit(s.prompt, s.params, s.sink),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => open = false,
            }
        }
        batcher.step();
        *stats.lock().unwrap_or_else(|p| p.into_inner()) = batcher.stats();
    }
}
