//! The bridge from HTTP handlers to the engine's continuous-batching scheduler: a request's prompts become
//! scheduler requests whose output flows back over a channel. Model work never runs on the async runtime.

use crate::error::ApiError;
use axum::http::StatusCode;
use std::sync::Arc;
use textgen_core::engine::{
    BatchConfig, BatchStats, Engine, EngineError, Flow, Generation, Piece, Scheduler, Sink,
};
use textgen_core::sampling::GenerationParams;
use tokio::sync::mpsc::UnboundedSender;

/// What a request hears back from the scheduler.
#[derive(Debug)]
pub enum Event {
    /// Generation of one of this request's prompts started (it left the queue).
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

/// One request: prompts (token ids) and validated parameters.
pub struct Job {
    /// Prompts, each generated with `params`.
    pub prompts: Vec<Vec<u32>>,
    /// Validated parameters.
    pub params: GenerationParams,
    /// Where events go; a closed channel (client gone) cancels generation at the next step.
    pub events: UnboundedSender<Event>,
}

/// Handle to the scheduler, with the queue limit.
pub struct Worker {
    scheduler: Scheduler,
    max_queue: usize,
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

/// Sends one prompt's output to its request's channel.
struct ChannelSink {
    prompt: usize,
    events: UnboundedSender<Event>,
}

impl Sink for ChannelSink {
    fn started(&mut self) {
        let _ = self.events.send(Event::Started);
    }

    fn piece(&mut self, p: Piece) -> Flow {
        let e = Event::Piece {
            prompt: self.prompt,
            index: p.index,
            text: p.text.to_string(),
            token: p.token,
            logprob: p.logprob,
        };
        match self.events.send(e) {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::Stop,
        }
    }

    fn done(&mut self, result: Result<Generation, EngineError>) {
        let _ = self.events.send(Event::Done {
            prompt: self.prompt,
            result,
        });
    }

    fn cancelled(&self) -> bool {
        self.events.is_closed()
    }
}

impl Worker {
    /// Starts the scheduler thread with limits `cfg`; at most `max_queue` prompts wait for admission.
    pub fn start(engine: Arc<Engine>, max_queue: usize, cfg: BatchConfig) -> std::io::Result<Self> {
        Ok(Self {
            scheduler: Scheduler::start(engine, cfg)?,
            max_queue,
        })
    }

    /// Queues a job, or refuses it: 400 when a prompt can never run (context or KV budget), 429 when the
    /// queue is full, 503 when the scheduler is gone.
    pub fn submit(&self, job: Job) -> Result<(), ApiError> {
        for p in &job.prompts {
            self.scheduler
                .check(p.len(), &job.params)
                .map_err(refusal)?;
        }
        if self.scheduler.waiting() + job.prompts.len() > self.max_queue {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "queue_full",
                "the server is busy: too many queued requests; retry later",
            ));
        }
        for (prompt, ids) in job.prompts.into_iter().enumerate() {
            let sink = ChannelSink {
                prompt,
                events: job.events.clone(),
            };
            self.scheduler
                .submit(ids, job.params.clone(), Box::new(sink))
                .map_err(refusal)?;
        }
        Ok(())
    }

    /// Prompts waiting for admission.
    pub fn queued(&self) -> usize {
        self.scheduler.waiting()
    }

    /// Prompts being generated.
    pub fn running(&self) -> usize {
        self.scheduler.running()
    }

    /// The scheduler's limits.
    pub fn config(&self) -> BatchConfig {
        self.scheduler.config()
    }

    /// What the scheduler's step loop has done so far.
    pub fn stats(&self) -> BatchStats {
        self.scheduler.stats()
    }
}

/// The HTTP answer to a request the scheduler refuses.
fn refusal(e: EngineError) -> ApiError {
    match e {
        EngineError::PromptTooLong { .. } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "context_length_exceeded",
            e.to_string(),
        ),
        EngineError::KvBudget { .. } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "kv_cache_budget_exceeded",
            e.to_string(),
        ),
        EngineError::Stopped => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        ),
        e => ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.to_string()),
    }
}
