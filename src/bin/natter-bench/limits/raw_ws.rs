//! The raw WebSocket broadcast baseline: a server that does nothing but relay every text frame
//! it receives to every open socket, on the same tungstenite Natter uses under axum. It runs as
//! a child process (`natter-bench raw-ws-server`) so its memory and CPU are its own; Natter's
//! fan-out and per-socket memory are set beside it. Its sockets are set up as Natter's are
//! (Nagle off, a 4 KiB read buffer, no write buffer), so the difference is Natter's own work.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Serves on 127.0.0.1:`port` (0: any), printing the port on the first line of standard output.
pub fn serve(port: u16) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        println!("{}", listener.local_addr()?.port());
        // Lagging receivers lose frames rather than stall everyone, as in any broadcaster.
        let (everyone, _) = broadcast::channel::<Message>(1024);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let everyone = everyone.clone();
            tokio::spawn(async move {
                let config = WebSocketConfig::default()
                    .read_buffer_size(4 * 1024)
                    .write_buffer_size(0);
                let accepted = tokio_tungstenite::accept_async_with_config(stream, Some(config));
                let Ok(socket) = accepted.await else {
                    return;
                };
                let (mut sink, mut source) = socket.split();
                let mut inbox = everyone.subscribe();
                loop {
                    tokio::select! {
                        frame = source.next() => match frame {
                            Some(Ok(frame @ Message::Text(_))) => { let _ = everyone.send(frame); }
                            Some(Ok(_)) => {}
                            _ => return,
                        },
                        relayed = inbox.recv() => match relayed {
                            Ok(frame) => if sink.send(frame).await.is_err() { return },
                            Err(broadcast::error::RecvError::Lagged(_)) => {}
                            Err(broadcast::error::RecvError::Closed) => return,
                        },
                    }
                }
            });
        }
    })
}

/// A running raw server, killed on drop.
pub struct RawServer {
    child: Child,
    pub url: String,
}

impl RawServer {
    pub fn start() -> anyhow::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["raw-ws-server", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the raw WebSocket server")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("its standard output")?).read_line(&mut line)?;
        let port: u16 = line
            .trim()
            .parse()
            .with_context(|| format!("the raw server said {line:?}"))?;
        Ok(Self {
            child,
            url: format!("ws://127.0.0.1:{port}/"),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
