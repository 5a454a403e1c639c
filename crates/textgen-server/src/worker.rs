//! The inference threads: `max_concurrent` of them take requests from one bounded queue (first come, first
//! served) and stream each request's text back over a channel. Concurrent requests advance token by token
//! in turn (each has its own KV cache; the forward passes share the model's worker pool). Model work never
//! runs on the async runtime.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use textgen_core::engine::{Engine, EngineError, Flow, Generation};
use textgen_core::sampling::GenerationParams;
use tokio::sync::mpsc::UnboundedSender;

/// What a request hears back from the inference thread.
#[derive(Debug)]
pub enum Event {
    /// Generation of this request started (it left the queue).
    Started,
    /// A generated token of prompt `prompt`, completion `index`, and the text that became final with it.
    Piece {
        /// Which prompt of the request.
        prompt: usize,
        /// Which completion of that prompt.
        index: usize,
        /// The text (may be empty).
        text: String,
        /// The token (`None` for text released at the end).
        token: Option<u32>,
        /// Its log-probability, when requested.
        logprob: Option<f32>,
    },
    /// One prompt finished.
    Done {
        /// Which prompt of the request.
        prompt: usize,
        /// The result.
        result: Result<Generation, EngineError>,
    },
}

/// One queued request: prompts (token ids) and validated parameters.
pub struct Job {
    /// Prompts, each generated with `params`.
    pub prompts: Vec<Vec<u32>>,
    /// Validated parameters.
    pub params: GenerationParams,
    /// Where events go; a closed channel (client gone) cancels generation at the next token.
    pub events: UnboundedSender<Event>,
}

/// Handle to the inference thread.
#[derive(Clone)]
pub struct Worker {
    tx: mpsc::SyncSender<Job>,
    /// Requests waiting in the queue.
    pub queued: Arc<AtomicUsize>,
    /// Requests being generated.
    pub running: Arc<AtomicUsize>,
}

/// The request ran past its time limit.
#[derive(Debug)]
pub struct TimedOut;

/// The next event of a request, or `TimedOut` once `deadline` passes (`None` = no limit).
pub async fn next_event(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
    deadline: Option<tokio::time::Instant>,
) -> Result<Option<Event>, TimedOut> {
    match deadline {
        None => Ok(rx.recv().await),
        Some(d) => tokio::time::timeout_at(d, rx.recv())
            .await
            .map_err(|_| TimedOut),
    }
}

/// The queue is full.
#[derive(Debug)]
pub struct QueueFull;

impl Worker {
    /// Starts `max_concurrent` inference threads sharing a queue of `max_queue` waiting requests.
    pub fn start(
        engine: Arc<Engine>,
        max_queue: usize,
        max_concurrent: usize,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<Job>(max_queue);
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let queued = Arc::new(AtomicUsize::new(0));
        let running = Arc::new(AtomicUsize::new(0));
        for i in 0..max_concurrent.max(1) {
            let (q, r, rx, engine) = (queued.clone(), running.clone(), rx.clone(), engine.clone());
            std::thread::Builder::new()
                .name(format!("textgen-inference-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock().unwrap_or_else(|p| p.into_inner()).recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    };
                    q.fetch_sub(1, Ordering::SeqCst);
                    r.fetch_add(1, Ordering::SeqCst);
                    run(&engine, job);
                    r.fetch_sub(1, Ordering::SeqCst);
                })?;
        }
        Ok(Self {
            tx,
            queued,
            running,
        })
    }

    /// Queues a job, or refuses it when the queue is full.
    pub fn submit(&self, job: Job) -> Result<(), QueueFull> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        self.tx.try_send(job).map_err(|_| {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            QueueFull
        })
    }
}

fn run(engine: &Engine, job: Job) {
    if job.events.send(Event::Started).is_err() {
        return;
    }
    for (p, prompt) in job.prompts.iter().enumerate() {
        let result = engine.generate(prompt, &job.params, |piece| {
            let e = Event::Piece {
                prompt: p,
                index: piece.index,
                text: piece.text.to_string(),
                token: piece.token,
                logprob: piece.logprob,
            };
            match job.events.send(e) {
                Ok(()) => Flow::Continue,
                Err(_) => Flow::Stop,
            }
        });
        if job.events.send(Event::Done { prompt: p, result }).is_err() {
            return;
        }
    }
}
