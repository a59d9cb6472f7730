//! A client as bots and the browser are: the Web API over HTTP, and `/ws` with a personal token.

use std::collections::HashMap;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Calls a Web API method with JSON arguments; the answer, when it says `ok`.
pub async fn call(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    method: &str,
    arguments: Value,
) -> anyhow::Result<Value> {
    let answer: Value = http
        .post(format!("{base}/api/{method}"))
        .bearer_auth(token)
        .json(&arguments)
        .send()
        .await?
        .json()
        .await?;
    if answer["ok"] != true {
        bail!("{method}: {answer}");
    }
    Ok(answer)
}

/// Posts a message with the Web API's `chat.postMessage`; its seq.
pub async fn post_message(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    channel_id: i64,
    text: &str,
) -> anyhow::Result<i64> {
    let arguments = json!({ "channel": format!("C{channel_id}"), "text": text });
    let answer = call(http, base, token, "chat.postMessage", arguments).await?;
    // A Slack `ts` is "<unix seconds>.<seq, six digits>".
    answer["ts"]
        .as_str()
        .and_then(|ts| ts.split_once('.')?.1.parse().ok())
        .with_context(|| format!("chat.postMessage answered without a ts: {answer}"))
}

/// The part of a server frame the scenarios look at; the rest is skipped unparsed.
#[derive(Deserialize)]
pub struct Head<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: &'a str,
    pub channel_id: Option<i64>,
    pub seq: Option<i64>,
    pub client_msg_id: Option<&'a str>,
    pub code: Option<&'a str>,
}

pub fn head(text: &str) -> Option<Head<'_>> {
    serde_json::from_str(text).ok()
}

/// Opens `/ws` as the token's owner and says hello with `cursors`; the socket once `ready`
/// came, and the `last_seq` of each of the user's channels as `ready` gave them.
pub async fn connect(
    base: &str,
    token: &str,
    cursors: &HashMap<i64, i64>,
) -> anyhow::Result<(Socket, HashMap<i64, i64>)> {
    let mut request = format!("{}/ws", base.replacen("http", "ws", 1)).into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let mut socket = open(request).await.context("opening /ws")?;
    let cursors: HashMap<String, i64> = cursors.iter().map(|(c, s)| (c.to_string(), *s)).collect();
    socket
        .send(Message::text(
            json!({ "type": "hello", "cursors": cursors }).to_string(),
        ))
        .await?;
    while let Some(message) = socket.next().await {
        if let Message::Text(text) = message? {
            let frame: Value = serde_json::from_str(&text)?;
            if frame["type"] == "ready" {
                let last_seqs = frame["channels"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| Some((c["id"].as_i64()?, c["last_seq"].as_i64()?)))
                    .collect();
                return Ok((socket, last_seqs));
            }
            if frame["type"] == "error" {
                bail!("hello was refused: {frame}");
            }
        }
    }
    bail!("the socket closed before ready")
}

/// Opens a WebSocket with Nagle's algorithm off, as browsers do.
pub async fn open(
    request: impl IntoClientRequest + Unpin,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    Ok(
        tokio_tungstenite::connect_async_with_config(request, None, true)
            .await?
            .0,
    )
}

/// Sends a `send` frame.
pub async fn send_frame(
    socket: &mut Socket,
    channel_id: i64,
    client_msg_id: &str,
    text: &str,
) -> anyhow::Result<()> {
    send_in_thread(socket, channel_id, None, client_msg_id, text).await
}

/// Sends a `send` frame, a reply under `root` when one is given.
pub async fn send_in_thread(
    socket: &mut Socket,
    channel_id: i64,
    root: Option<i64>,
    client_msg_id: &str,
    text: &str,
) -> anyhow::Result<()> {
    let frame = json!({
        "type": "send", "channel_id": channel_id, "client_msg_id": client_msg_id, "text": text,
        "thread_root_seq": root,
    });
    socket.send(Message::text(frame.to_string())).await?;
    Ok(())
}

/// Sends a `send` frame and waits for its `ack`; the message's seq.
pub async fn send_and_ack(
    socket: &mut Socket,
    channel_id: i64,
    client_msg_id: &str,
    text: &str,
) -> anyhow::Result<i64> {
    send_frame(socket, channel_id, client_msg_id, text).await?;
    await_ack(socket, client_msg_id).await
}

/// Reads frames until the `ack` (or `error`) of `client_msg_id`, skipping everything else.
pub async fn await_ack(socket: &mut Socket, client_msg_id: &str) -> anyhow::Result<i64> {
    while let Some(message) = socket.next().await {
        let text = match message? {
            Message::Text(text) => text,
            Message::Close(frame) => bail!("the socket was closed before the ack: {frame:?}"),
            _ => continue,
        };
        let Some(head) = head(&text) else { continue };
        if head.client_msg_id != Some(client_msg_id) {
            continue;
        }
        match head.kind {
            "ack" => return head.seq.context("an ack without a seq"),
            "error" => bail!("send refused: {}", head.code.unwrap_or("?")),
            _ => {}
        }
    }
    bail!("the socket closed before the ack")
}
