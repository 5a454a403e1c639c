//! `textgen healthcheck`: exit 0 when the local server's `/health` answers 200 (for Docker's HEALTHCHECK;
//! the image has no shell or curl).

use crate::Failure;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Flags of `textgen healthcheck`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Port of the server on 127.0.0.1.
    #[arg(long, env = "TEXTGEN_PORT", default_value_t = 8080)]
    port: u16,
    /// Seconds to wait for an answer.
    #[arg(long, default_value_t = 3)]
    timeout: u64,
}

/// Runs the subcommand.
pub fn run(a: Args) -> Result<(), Failure> {
    let t = Duration::from_secs(a.timeout.max(1));
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], a.port));
    let mut s = TcpStream::connect_timeout(&addr, t)
        .map_err(|e| Failure::new(format!("unhealthy: {e}")))?;
    s.set_read_timeout(Some(t)).map_err(Failure::new)?;
    s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .map_err(|e| Failure::new(format!("unhealthy: {e}")))?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)
        .map_err(|e| Failure::new(format!("unhealthy: {e}")))?;
    if head.starts_with(b"HTTP/1.1 200") {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "unhealthy: {}",
            String::from_utf8_lossy(&head)
        )))
    }
}
