//! Where a request's output goes: streamed pieces, then the final result.

use super::generate::{Flow, Generation, Piece};
use super::EngineError;

/// The receiver of one request's output (a terminal, an HTTP stream, a test).
pub trait Sink {
    /// The request left the queue and its prompt is being processed.
    fn started(&mut self) {}
    /// A new piece of one completion; `Flow::Stop` cancels the whole request.
    fn piece(&mut self, piece: Piece) -> Flow;
    /// The request is over (every completion ended, or it failed).
    fn done(&mut self, result: Result<Generation, EngineError>);
    /// True once nobody waits for the output any more (checked between steps, also while queued).
    fn cancelled(&self) -> bool {
        false
    }
}

/// A sink for one blocking call: forwards pieces to a closure and keeps the result.
pub(crate) struct CallbackSink<F> {
    /// The caller's piece handler.
    pub on_piece: F,
    /// The result, once done.
    pub result: Option<Result<Generation, EngineError>>,
}

impl<F: FnMut(Piece) -> Flow> Sink for CallbackSink<F> {
    fn piece(&mut self, piece: Piece) -> Flow {
        (self.on_piece)(piece)
    }

    fn done(&mut self, result: Result<Generation, EngineError>) {
        self.result = Some(result);
    }
}

impl<S: Sink + ?Sized> Sink for &mut S {
    fn started(&mut self) {
        (**self).started()
    }

    fn piece(&mut self, piece: Piece) -> Flow {
        (**self).piece(piece)
    }

    fn done(&mut self, result: Result<Generation, EngineError>) {
        (**self).done(result)
    }

    fn cancelled(&self) -> bool {
        (**self).cancelled()
    }
}
