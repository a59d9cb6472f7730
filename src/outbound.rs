//! The one HTTP client through which Natter reaches out: bot events now, fetched icons, and
//! later link previews, Web Push and OpenID Connect.
//!
//! A URL given by a user must not let them steer the server into its own network. Checking the
//! host's addresses and then letting the HTTP client resolve the name again is not enough: a
//! name with a zero TTL answers a public address to the check and `127.0.0.1` to the connection
//! (DNS rebinding). So the check lives inside the resolver the client connects with
//! ([`GuardedResolver`]): the name is resolved once, every address it gives is checked, and
//! only those checked addresses are handed to the connector. Literal addresses in a URL never
//! reach a resolver, so [`Outbound`] checks them itself, on the first request and on every
//! redirect hop. Proxies from the environment are ignored (a proxy would resolve the name
//! itself). Each request is capped in time, and each body in size.
//!
//! `NATTER_OUTBOUND_ALLOW_PRIVATE` turns the address check off, for tests and for bots that
//! run beside Natter on a private network.
//!
//! Errors have two faces: the detail, for the server's log, and [`OutboundError::public`],
//! the only words a user sees, so a page that reports a delivery cannot be used to scan ports.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Method, Url, header::HeaderMap};

/// How long a whole request may take, answer included.
const TIMEOUT: Duration = Duration::from_secs(5);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Redirect hops followed by requests that follow any.
const MAX_REDIRECTS: usize = 3;

/// Why an outgoing request did not bring back an answer.
#[derive(Debug)]
pub enum OutboundError {
    /// The URL is not one Natter will reach: not http(s), or a private, loopback or otherwise
    /// internal address.
    Refused(String),
    /// The request was made and failed: no connection, a TLS error, a timeout, a body too large.
    Failed(String),
}

impl OutboundError {
    /// What a user is told: one word, whatever happened underneath.
    pub fn public(&self) -> &'static str {
        match self {
            OutboundError::Refused(_) => "refused",
            OutboundError::Failed(_) => "failed",
        }
    }
}

impl fmt::Display for OutboundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutboundError::Refused(why) => write!(f, "refused: {why}"),
            OutboundError::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

impl std::error::Error for OutboundError {}

/// An answer whose body has been read, up to the request's cap.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// A request: the method, URL, headers and body, and how much of the answer to keep.
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    body: Option<Vec<u8>>,
    max_body: usize,
    follow_redirects: bool,
}

impl Request {
    pub fn get(url: &str) -> Self {
        Self::new(Method::GET, url)
    }

    pub fn post(url: &str, body: impl Into<Vec<u8>>) -> Self {
        let mut request = Self::new(Method::POST, url);
        request.body = Some(body.into());
        request
    }

    fn new(method: Method, url: &str) -> Self {
        Self {
            method,
            url: url.to_owned(),
            headers: Vec::new(),
            body: None,
            max_body: 64 * 1024,
            follow_redirects: false,
        }
    }

    /// A header; `name` in lower case. A value that is not a valid header value is dropped.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        if let Ok(value) = reqwest::header::HeaderValue::try_from(value.into()) {
            self.headers
                .push((reqwest::header::HeaderName::from_static(name), value));
        }
        self
    }

    /// A request another library built (OpenID Connect's discovery and token calls), as it
    /// is: method, URL, headers and body.
    pub fn from_http(request: reqwest::Request) -> Self {
        let mut out = Self::new(request.method().clone(), request.url().as_str());
        out.headers = request
            .headers()
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        out.body = request
            .body()
            .and_then(|b| b.as_bytes())
            .map(<[u8]>::to_vec);
        out
    }

    /// The most of the answer's body kept; a longer body fails the request.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Follow up to three redirects, each hop checked like the first URL.
    pub fn follow_redirects(mut self) -> Self {
        self.follow_redirects = true;
        self
    }
}

/// The outbound client; cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    direct: reqwest::Client,
    following: reqwest::Client,
    allow_private: bool,
}

impl Outbound {
    /// A client that resolves names with the system resolver.
    pub fn new(allow_private: bool) -> Self {
        Self::with_lookup(allow_private, Arc::new(SystemLookup), CONNECT_TIMEOUT)
    }

    fn with_lookup(allow_private: bool, lookup: Arc<dyn Lookup>, connect: Duration) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let resolver = Arc::new(GuardedResolver {
            lookup,
            allow_private,
        });
        let build = |redirects: reqwest::redirect::Policy| {
            reqwest::Client::builder()
                .timeout(TIMEOUT)
                .connect_timeout(connect)
                .no_proxy()
                .dns_resolver(resolver.clone())
                .redirect(redirects)
                .user_agent(concat!("Natter/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("an HTTP client builds once a crypto provider is installed")
        };
        Self {
            direct: build(reqwest::redirect::Policy::none()),
            following: build(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > MAX_REDIRECTS {
                    return attempt.error("too many redirects");
                }
                match check_url(attempt.url(), allow_private) {
                    Ok(()) => attempt.follow(),
                    Err(e) => attempt.error(e),
                }
            })),
            allow_private,
        }
    }

    /// Whether `url` is one Natter would reach, judged without a request: scheme and literal
    /// address (a name is judged when it is resolved, at the request).
    pub fn check(&self, url: &str) -> Result<Url, OutboundError> {
        let url = Url::parse(url).map_err(|e| OutboundError::Refused(format!("not a URL: {e}")))?;
        check_url(&url, self.allow_private)?;
        Ok(url)
    }

    /// Makes the request and reads the answer's body, up to its cap.
    pub async fn send(&self, request: Request) -> Result<Answer, OutboundError> {
        let url = self.check(&request.url)?;
        let client = if request.follow_redirects {
            &self.following
        } else {
            &self.direct
        };
        let mut builder = client.request(request.method, url);
        for (name, value) in request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let mut response = builder.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if response
            .content_length()
            .is_some_and(|n| n > request.max_body as u64)
        {
            return Err(OutboundError::Failed("the answer is too large".into()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > request.max_body {
                return Err(OutboundError::Failed("the answer is too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// A refusal found by the resolver or the redirect policy is wrapped by reqwest; this finds it.
fn classify(error: reqwest::Error) -> OutboundError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = source {
        if let Some(OutboundError::Refused(why)) = e.downcast_ref::<OutboundError>() {
            return OutboundError::Refused(why.clone());
        }
        source = e.source();
    }
    if error.is_timeout() {
        return OutboundError::Failed("timed out".into());
    }
    OutboundError::Failed(format!("{error:#}"))
}

fn check_url(url: &Url, allow_private: bool) -> Result<(), OutboundError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(OutboundError::Refused(format!(
            "{}: only http and https are reached",
            url.scheme()
        )));
    }
    // The URL parser has already put every spelling of an IPv4 address (`0x7f000001`,
    // `127.1`, `0177.0.0.1`) into dotted form, and IPv6 into brackets.
    let host = url
        .host_str()
        .ok_or_else(|| OutboundError::Refused("the URL has no host".into()))?;
    match host.trim_start_matches('[').trim_end_matches(']').parse() {
        Ok(ip) => check_address(ip, allow_private),
        Err(_) => Ok(()), // a name, judged when it is resolved
    }
}

fn check_address(ip: IpAddr, allow_private: bool) -> Result<(), OutboundError> {
    if !allow_private && is_internal(ip) {
        return Err(OutboundError::Refused(format!(
            "{ip} is a private, loopback or reserved address"
        )));
    }
    Ok(())
}

/// Whether an address is one the public internet cannot reach, or one that reaches back into
/// the server's own network: private, loopback, link-local (cloud metadata lives at
/// 169.254.169.254), shared (CGNAT), benchmarking, multicast, reserved, and every IPv6 form
/// that carries an IPv4 address inside (mapped, compatible, NAT64, 6to4), judged by that
/// address.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    a == 0 // "this network", 0.0.0.0/8
        || a == 10
        || a == 127
        || a == 100 && (b & 0xc0) == 64 // shared address space, 100.64.0.0/10
        || a == 169 && b == 254
        || a == 172 && (b & 0xf0) == 16
        || a == 192 && b == 0 && c == 0 // IETF protocol assignments, 192.0.0.0/24
        || a == 192 && b == 168
        || a == 198 && (b & 0xfe) == 18 // benchmarking, 198.18.0.0/15
        || a >= 224 // multicast 224.0.0.0/4, reserved 240.0.0.0/4 and broadcast
}

fn is_internal_v6(v6: Ipv6Addr) -> bool {
    let s = v6.segments();
    let embedded = |hi: u16, lo: u16| {
        is_internal_v4(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        ))
    };
    if s[..6] == [0; 6] {
        // ::, ::1 and the IPv4-compatible ::a.b.c.d.
        return v6.is_unspecified() || v6.is_loopback() || embedded(s[6], s[7]);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0xffff] {
        return embedded(s[6], s[7]); // IPv4-mapped, ::ffff:a.b.c.d
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return embedded(s[6], s[7]); // NAT64, 64:ff9b::a.b.c.d
    }
    if s[0] == 0x2002 {
        return embedded(s[1], s[2]); // 6to4, 2002:aabb:ccdd::
    }
    (s[0] & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local, fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated), fec0::/10
        || (s[0] & 0xff00) == 0xff00 // multicast
        || s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 // local-use NAT64, 64:ff9b:1::/48
        || s[0] == 0x2001 && s[1] == 0 // Teredo, whose IPv4 inside is obfuscated
        || s[..4] == [0x100, 0, 0, 0] // discard-only, 100::/64
}

/// Where names are turned into addresses: the system's resolver, or a test's.
trait Lookup: Send + Sync {
    fn lookup(
        &self,
        host: String,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;
}

struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(
        &self,
        host: String,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>> {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// The resolver the client connects with: the only addresses it hands out are checked ones.
/// A name with any internal address is refused whole, rather than trimmed to its public ones.
struct GuardedResolver {
    lookup: Arc<dyn Lookup>,
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let lookup = self.lookup.clone();
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let ips = lookup
                .lookup(host.clone())
                .await
                .map_err(|e| OutboundError::Failed(format!("cannot resolve {host}: {e}")))?;
            if ips.is_empty() {
                return Err(OutboundError::Failed(format!("{host} has no address")).into());
            }
            for ip in &ips {
                check_address(*ip, allow_private)
                    .map_err(|_| OutboundError::Refused(format!("{host} resolves to {ip}")))?;
            }
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn internal_addresses_in_every_form_are_recognised() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.4",
            "172.31.255.255",
            "169.254.169.254",
            "100.64.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "198.19.255.254",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "2001:0:4136:e378::1",
            "fd00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "100::1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip} should be internal");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "198.20.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip} should be public");
        }
    }

    #[test]
    fn literal_addresses_in_urls_are_refused_in_any_spelling() {
        let outbound = Outbound::new(false);
        for url in [
            "http://127.0.0.1/",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
            "http://169.254.169.254/latest/meta-data/",
            "http://0.0.0.0:3000/",
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://example.com/",
        ] {
            assert!(
                matches!(outbound.check(url), Err(OutboundError::Refused(_))),
                "{url} should be refused"
            );
        }
        assert!(outbound.check("https://example.com/hook").is_ok());
        assert!(Outbound::new(true).check("http://127.0.0.1/").is_ok());
    }

    /// Answers each lookup with the next of a list of answers, like a name with TTL 0 whose
    /// owner changes it between the check and the connection.
    struct Rebinding(Mutex<VecDeque<Vec<IpAddr>>>);

    impl Lookup for Rebinding {
        fn lookup(
            &self,
            _host: String,
        ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>> {
            let next = self.0.lock().unwrap().pop_front().unwrap_or_default();
            Box::pin(async move { Ok(next) })
        }
    }

    async fn listener() -> (tokio::net::TcpListener, u16) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        (listener, port)
    }

    #[tokio::test]
    async fn a_rebound_name_connects_only_to_the_address_that_was_checked() {
        let (listener, port) = listener().await;
        // First a public (documentation) address, then loopback, where the listener waits.
        let answers = VecDeque::from([
            vec!["192.0.2.1".parse().unwrap()],
            vec!["127.0.0.1".parse().unwrap()],
            vec!["127.0.0.1".parse().unwrap()],
        ]);
        let lookup = Arc::new(Rebinding(Mutex::new(answers)));
        let outbound = Outbound::with_lookup(false, lookup.clone(), Duration::from_millis(300));
        let result = outbound
            .send(Request::post(&format!("http://rebind.test:{port}/"), "{}"))
            .await;
        assert!(
            matches!(result, Err(OutboundError::Failed(_))),
            "{result:?}"
        );
        // The name was resolved once, and the loopback listener never saw a connection.
        assert_eq!(lookup.0.lock().unwrap().len(), 2);
        let accepted = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
        assert!(accepted.is_err(), "the request reached loopback");
    }

    #[tokio::test]
    async fn a_name_with_any_internal_address_is_refused_before_connecting() {
        let (listener, port) = listener().await;
        let answers = VecDeque::from([vec![
            "93.184.216.34".parse().unwrap(),
            "127.0.0.1".parse().unwrap(),
        ]]);
        let outbound = Outbound::with_lookup(
            false,
            Arc::new(Rebinding(Mutex::new(answers))),
            Duration::from_millis(300),
        );
        let result = outbound
            .send(Request::get(&format!("http://mixed.test:{port}/")))
            .await;
        assert!(
            matches!(result, Err(OutboundError::Refused(_))),
            "{result:?}"
        );
        let accepted = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
        assert!(accepted.is_err(), "the request reached loopback");
    }

    /// A tiny HTTP server on loopback answering every request with `answer`.
    async fn serve(answer: String) -> u16 {
        let (listener, port) = listener().await;
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut socket, _)) = listener.accept().await {
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut buffer = [0u8; 4096];
                    let _ = socket.read(&mut buffer).await;
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn each_redirect_hop_is_checked_like_the_first_url() {
        let target = serve("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_owned()).await;
        let redirect = |to: String| {
            format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n")
        };
        let to_loopback = serve(redirect(format!("http://127.0.0.1:{target}/"))).await;
        let to_metadata = serve(redirect("http://169.254.169.254/latest/".to_owned())).await;
        // Where private addresses are allowed, a hop is followed to its end.
        let allowed = Outbound::new(true);
        let url = format!("http://127.0.0.1:{to_loopback}/");
        let followed = allowed
            .send(Request::get(&url).follow_redirects())
            .await
            .unwrap();
        assert_eq!(
            (followed.status, followed.body.as_slice()),
            (200, &b"ok"[..])
        );
        // Without following, the redirect itself is the answer.
        let direct = allowed.send(Request::get(&url)).await.unwrap();
        assert_eq!(direct.status, 302);
        // A guarded client's policy refuses a hop into the private network. (The first URL is
        // loopback here only because the test's server is; `send` would refuse it outright.)
        let guarded = Outbound::new(false);
        let hop = guarded
            .following
            .get(format!("http://127.0.0.1:{to_metadata}/"))
            .send()
            .await
            .map_err(classify);
        assert!(matches!(hop, Err(OutboundError::Refused(_))), "{hop:?}");
    }

    #[tokio::test]
    async fn answers_over_the_cap_fail() {
        let body = "x".repeat(2000);
        let port = serve(format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ))
        .await;
        let outbound = Outbound::new(true);
        let url = format!("http://127.0.0.1:{port}/");
        let small = outbound.send(Request::get(&url).max_body(1000)).await;
        assert!(matches!(small, Err(OutboundError::Failed(_))), "{small:?}");
        let fits = outbound
            .send(Request::get(&url).max_body(4000))
            .await
            .unwrap();
        assert_eq!((fits.status, fits.body.len()), (200, 2000));
    }
}
