//! A WebSocket client for tests: connect with a token or a browser's cookie, send frames,
//! and read the next frame of a given type with a timeout.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::{Browser, TestApp};

pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How long a test waits for a frame it expects.
const WAIT: Duration = Duration::from_secs(10);

fn ws_url(base: &str) -> String {
    format!("{}/ws", base.replacen("http://", "ws://", 1))
}

/// A personal token for a user, made the way `natter token create` makes it.
pub async fn token(app: &TestApp, username: &str) -> String {
    let user_id = crate::helpers::user_id(app, username).await;
    natter::auth::tokens::create_personal(&app.db, user_id, "tests")
        .await
        .unwrap()
}

impl Ws {
    /// Connects with a bearer token to the node at `base`.
    pub async fn with_token(base: &str, token: &str) -> Ws {
        let mut request = ws_url(base).into_client_request().unwrap();
        request.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        let (stream, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the socket opens");
        Ws { stream }
    }

    /// Connects with a browser's session cookie and the given Origin; the handshake's error
    /// (a refused upgrade) is returned as it is.
    pub async fn with_cookie(browser: &Browser, origin: &str) -> Result<Ws, tungstenite::Error> {
        let mut request = ws_url(&browser.base).into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert(
            "cookie",
            HeaderValue::from_str(&browser.cookie_header()).unwrap(),
        );
        headers.insert("origin", HeaderValue::from_str(origin).unwrap());
        let (stream, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Ws { stream })
    }

    /// Connects with a token and says hello with these cursors; returns after `ready`.
    pub async fn hello(base: &str, token: &str, cursors: Value) -> (Ws, Value) {
        let mut ws = Ws::with_token(base, token).await;
        ws.send(json!({ "type": "hello", "cursors": cursors }))
            .await;
        let ready = ws.next_of("ready").await;
        (ws, ready)
    }

    pub async fn send(&mut self, frame: Value) {
        self.stream
            .send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_raw(&mut self, text: String) {
        self.stream.send(Message::Text(text.into())).await.unwrap();
    }

    /// The next JSON frame, whatever its type.
    pub async fn next(&mut self) -> Value {
        self.try_next(WAIT).await.expect("a frame arrives in time")
    }

    /// The next JSON frame within `wait`, or `None`.
    pub async fn try_next(&mut self, wait: Duration) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(wait, self.stream.next())
                .await
                .ok()??;
            match message.ok()? {
                Message::Text(text) => return Some(serde_json::from_str(&text).unwrap()),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// The next frame of this type, skipping others (presence, receipts…).
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Message seqs of one channel received until `last` arrives (skipping other frames).
    pub async fn seqs_until(&mut self, channel_id: i64, last: i64) -> Vec<i64> {
        let mut seqs = Vec::new();
        loop {
            let frame = self.next().await;
            if frame["type"] == "message" && frame["channel_id"] == channel_id {
                let seq = frame["seq"].as_i64().unwrap();
                seqs.push(seq);
                if seq >= last {
                    return seqs;
                }
            }
        }
    }

    /// The close code the server ends the socket with.
    pub async fn close_code(&mut self) -> Option<CloseCode> {
        loop {
            match tokio::time::timeout(WAIT, self.stream.next())
                .await
                .ok()??
            {
                Ok(Message::Close(frame)) => return frame.map(|f| f.code),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }
}

#[tokio::test]
async fn a_user_holds_at_most_sixteen_sockets_on_a_node() {
    let app = TestApp::spawn().await;
    let _ada = app.signup("ada").await;
    let _bob = app.signup("bob").await;
    let ada = token(&app, "ada").await;
    let mut open = Vec::new();
    for _ in 0..natter::realtime::slots::PER_USER {
        open.push(Ws::with_token(&app.base, &ada).await);
    }
    let mut request = ws_url(&app.base).into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {ada}")).unwrap(),
    );
    match tokio_tungstenite::connect_async(request.clone()).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            assert!(response.headers().contains_key("retry-after"));
        }
        other => panic!("the 17th socket was not refused: {:?}", other.map(|_| ())),
    }
    // Another user is not affected.
    let bob = token(&app, "bob").await;
    Ws::hello(&app.base, &bob, json!({})).await;
    // Closing one frees its place.
    let mut closed = open.pop().unwrap();
    closed.stream.close(None).await.unwrap();
    drop(closed);
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(ws) = tokio_tungstenite::connect_async(request.clone()).await {
            reopened = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reopened.is_some(), "a closed socket's slot was not freed");
}
