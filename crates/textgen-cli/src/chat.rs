//! `textgen chat`: talk with the model. On a terminal, a REPL (line editing, history, streamed replies,
//! Ctrl-C stops a reply, `/reset`, `/save FILE`, `"""` for multi-line input); from a pipe, one user
//! message per line (or a JSON conversation) in, the replies out.

use crate::model_args::ModelArgs;
use crate::sampling_args::SamplingArgs;
use crate::template_args::TemplateArgs;
use crate::{interrupt, term, Failure};
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use textgen_core::chat::{ChatTemplate, Message};
use textgen_core::engine::{Engine, Flow};
use textgen_core::sampling::{Decoding, GenerationParams};

/// Flags of `textgen chat`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    template: TemplateArgs,
    #[command(flatten)]
    sampling: SamplingArgs,
}

const HELP: &str = "/reset        start the conversation again (the system message stays)
/save FILE    write the conversation as JSON (what `textgen chat < FILE` reads back)
/help         this list
/bye          leave (or Ctrl-D)
\"\"\"           begin and end a multi-line message
Ctrl-C stops a reply; at the prompt it clears the line.";

/// A conversation with the model.
struct Session<'e> {
    engine: &'e Engine,
    template: ChatTemplate,
    params: GenerationParams,
    opening: Vec<Message>,
    messages: Vec<Message>,
}

/// What to do after a line of input.
enum Next {
    Continue,
    Leave,
}

impl Session<'_> {
    /// Streams the reply to `user` to stdout and records both; on failure the conversation is unchanged.
    fn turn(&mut self, user: &str) -> Result<(), Failure> {
        self.messages.push(Message::new("user", user));
        match self.reply() {
            Ok(text) => {
                self.messages.push(Message::new("assistant", text));
                Ok(())
            }
            Err(e) => {
                self.messages.pop();
                Err(e)
            }
        }
    }

    /// The assistant's next message, streamed to stdout (cut short by Ctrl-C).
    fn reply(&self) -> Result<String, Failure> {
        let text = self
            .template
            .render(&self.messages, true)
            .map_err(Failure::new)?;
        let prompt = self.engine.encode_chat(&text).map_err(Failure::new)?;
        let mut out = std::io::stdout().lock();
        interrupt::set_streaming(true);
        let result = self.engine.generate(&prompt, &self.params, |piece| {
            let written = out
                .write_all(piece.text.as_bytes())
                .and_then(|_| out.flush());
            match written {
                Ok(()) if !interrupt::requested() => Flow::Continue,
                _ => Flow::Stop,
            }
        });
        interrupt::set_streaming(false);
        let _ = writeln!(out);
        if interrupt::requested() {
            term::info("(reply stopped)");
        }
        let generation = result.map_err(Failure::new)?;
        Ok(generation
            .completions
            .into_iter()
            .next()
            .map(|c| c.text)
            .unwrap_or_default())
    }

    /// Runs a `/command`.
    fn command(&mut self, line: &str) -> Result<Next, Failure> {
        let (name, arg) = line.split_once(' ').unwrap_or((line, ""));
        match name {
            "/reset" | "/clear" => {
                self.messages = self.opening.clone();
                term::info("(conversation cleared)");
            }
            "/save" if !arg.trim().is_empty() => {
                let path = PathBuf::from(arg.trim());
                let json = serde_json::to_string_pretty(&self.messages).map_err(Failure::new)?;
                std::fs::write(&path, json + "\n")
                    .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))?;
                term::info(&format!(
                    "(saved {} messages to {})",
                    self.messages.len(),
                    path.display()
                ));
            }
            "/save" => return Err(Failure::new("usage: /save FILE")),
            "/help" | "/?" => eprintln!("{HELP}"),
            "/bye" | "/exit" | "/quit" => return Ok(Next::Leave),
            _ => return Err(Failure::new(format!("unknown command {name} (try /help)"))),
        }
        Ok(Next::Continue)
    }

    /// One line of input: a command or a user message.
    fn line(&mut self, line: &str) -> Result<Next, Failure> {
        if line.starts_with('/') {
            return self.command(line.trim_end());
        }
        self.turn(line)?;
        Ok(Next::Continue)
    }
}

/// Where the REPL keeps its history: `$XDG_STATE_HOME/textgen/chat_history` (or under `~/.local/state`).
fn history_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(state.join("textgen/chat_history"))
}

/// Reads one message from the terminal (`"""` starts and ends a multi-line one); `None` at end of input.
fn read_message(rl: &mut DefaultEditor) -> Result<Option<String>, Failure> {
    let first = match rl.readline(">>> ") {
        Ok(line) => line,
        Err(ReadlineError::Interrupted) => {
            term::info("(Ctrl-D or /bye to leave)");
            return Ok(Some(String::new()));
        }
        Err(ReadlineError::Eof) => return Ok(None),
        Err(e) => return Err(Failure::new(format!("terminal: {e}"))),
    };
    let Some(rest) = first.trim_start().strip_prefix("\"\"\"") else {
        return Ok(Some(first));
    };
    let mut lines = vec![rest.to_string()];
    while !lines
        .last()
        .is_some_and(|l| l.trim_end().ends_with("\"\"\""))
    {
        match rl.readline("... ") {
            Ok(line) => lines.push(line),
            Err(ReadlineError::Interrupted) => return Ok(Some(String::new())),
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(Failure::new(format!("terminal: {e}"))),
        }
    }
    let text = lines.join("\n");
    let text = text.trim_end().strip_suffix("\"\"\"").unwrap_or(&text);
    Ok(Some(text.trim_matches('\n').to_string()))
}

/// The REPL.
fn interactive(session: &mut Session, model: &str) -> Result<(), Failure> {
    let mut rl = DefaultEditor::new().map_err(|e| Failure::new(format!("terminal: {e}")))?;
    let history = history_path();
    if let Some(p) = &history {
        let _ = rl.load_history(p);
    }
    term::info(&format!(
        "chatting with {model}: /help for commands, Ctrl-D or /bye to leave"
    ));
    while let Some(message) = read_message(&mut rl)? {
        if message.trim().is_empty() {
            continue;
        }
        let _ = rl.add_history_entry(message.as_str());
        let next = session.line(&message);
        if interrupt::requested() {
            interrupt::reset();
        }
        match next {
            Ok(Next::Continue) => {}
            Ok(Next::Leave) => break,
            Err(f) => term::error(&f.message),
        }
    }
    if let Some(p) = &history {
        if let Some(dir) = p.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = rl.save_history(p);
    }
    Ok(())
}

/// A saved conversation (`/save`) on stdin: the model's next reply.
fn conversation(session: &mut Session, json: &str) -> Result<(), Failure> {
    let messages: Vec<Message> = serde_json::from_str(json).map_err(|e| Failure {
        message: format!(
            "stdin starts with '[' but is not a JSON array of {{role, content}} messages: {e}"
        ),
        code: 2,
    })?;
    let has_system = messages.first().is_some_and(|m| m.role == "system");
    session.messages = if has_system {
        vec![]
    } else {
        session.opening.clone()
    };
    session.messages.extend(messages);
    session.reply().map(drop)
}

/// Scripting: one user message per line (commands work too), or a whole JSON conversation.
fn piped(session: &mut Session, input: impl BufRead) -> Result<(), Failure> {
    let mut lines = input.lines();
    while let Some(line) = lines.next() {
        let line = line.map_err(|e| Failure::new(format!("cannot read stdin: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        if session.messages.len() == session.opening.len() && line.trim_start().starts_with('[') {
            let mut json = line;
            for l in lines.by_ref() {
                json.push('\n');
                json.push_str(&l.map_err(|e| Failure::new(format!("cannot read stdin: {e}")))?);
            }
            return conversation(session, &json);
        }
        let next = session.line(&line)?;
        if interrupt::requested() {
            return Err(Failure {
                message: String::new(),
                code: interrupt::EXIT_CODE,
            });
        }
        if let Next::Leave = next {
            break;
        }
    }
    Ok(())
}

/// Runs the subcommand.
pub fn run(a: Args) -> Result<(), Failure> {
    let model = a.model.resolved()?;
    let engine = model.load()?;
    let params = a
        .sampling
        .params(&engine, model.generation_config().as_deref())?;
    if params.n != 1 || matches!(params.decoding, Decoding::Beam(_)) {
        return Err(Failure {
            message: "chat streams one reply: --n-completions and --num-beams do not apply".into(),
            code: 2,
        });
    }
    let mut session = Session {
        template: a.template.template(&engine)?,
        engine: &engine,
        params,
        opening: a.template.opening(),
        messages: a.template.opening(),
    };
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        interactive(&mut session, &a.model.model.display().to_string())
    } else {
        piped(&mut session, stdin.lock())
    }
}
