//! `natter-bench`: Natter's load harness, and the limits of the machine it runs on, in one run.
//!
//! ```sh
//! cargo build --release --bin natter --bin natter-bench
//! target/release/natter-bench all                 # every scenario, headline sizes
//! target/release/natter-bench send fanout --nodes 2
//! ```
//!
//! A tour, in the order a run goes:
//! - [`deployment`] starts Natter (one node, or several sharing Redis) on a fresh database, with
//!   rate limits off, and sets up users, a workspace and channels through Natter's own CLI.
//! - [`scenarios`] drive it over HTTP and WebSocket exactly as clients do: `send`, `hot-channel`,
//!   `latency`, `fanout`, `idle`, `resume`, `search`, `threads`, `reactions`, `uploads`.
//! - [`limits`] measure, in the same run and next to each scenario, what the parts underneath can
//!   do on this machine: pgbench running Natter's own send statements, `redis-benchmark`
//!   PUBLISH, a raw WebSocket broadcast server (this binary, as `raw-ws-server`), and the same
//!   reads and searches sent straight to Postgres or Meilisearch, and files written straight
//!   to the files directory.
//! - [`stats`] keeps HDR histograms, the progress line, and Natter's memory and CPU from /proc.
//! - [`report`] prints the table (Markdown) with each Natter figure beside its limit, and writes
//!   the JSON.
//!
//! Everything runs on this one machine: the clients, Natter, Postgres and Redis share its cores,
//! so the ratios to the limits are what carry from one run to the next, not the raw figures.

mod client;
mod deployment;
mod limits;
mod report;
mod scenarios;
mod stats;

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "natter-bench",
    about = "Load Natter and print its figures beside the machine's limits"
)]
pub struct Args {
    /// Scenarios to run, in this order; `all` is every one.
    #[arg(value_enum, default_values = ["all"])]
    pub scenarios: Vec<Scenario>,
    /// Natter nodes to start; more than one shares Redis (REDIS_URL).
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// How long each throughput measurement runs, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Concurrent senders in `send` and `hot-channel`.
    #[arg(long, default_value_t = 32)]
    pub senders: usize,
    /// Channels the `send` senders spread over.
    #[arg(long, default_value_t = 100)]
    pub channels: usize,
    /// Messages the single sender of `latency` sends, one after another.
    #[arg(long, default_value_t = 2000)]
    pub latency_messages: usize,
    /// Socket counts for `fanout`, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1000, 10000])]
    pub fanout_sockets: Vec<usize>,
    /// Messages per `fanout` measurement.
    #[arg(long, default_value_t = 100)]
    pub fanout_messages: usize,
    /// Idle sockets for `idle`.
    #[arg(long, default_value_t = 10_000)]
    pub idle_sockets: usize,
    /// Messages that arrive while the `resume` client is away.
    #[arg(long, default_value_t = 1000)]
    pub resume_messages: usize,
    /// Channels those messages spread over.
    #[arg(long, default_value_t = 50)]
    pub resume_channels: usize,
    /// Times the `resume` client goes away and comes back.
    #[arg(long, default_value_t = 10)]
    pub resume_rounds: usize,
    /// Messages in the generated `search` corpus.
    #[arg(long, default_value_t = 1_000_000)]
    pub search_messages: i64,
    /// Queries `search` times, through Natter and straight to the backend each.
    #[arg(long, default_value_t = 200)]
    pub search_queries: usize,
    /// The size of the one upload whose server memory `uploads` measures, in MB.
    #[arg(long, default_value_t = 100)]
    pub upload_big_mb: usize,
    /// Tiny sizes for every scenario: a run of seconds that proves the harness works.
    #[arg(long)]
    pub smoke: bool,
    /// The natter binary (default: the one beside this binary).
    #[arg(long, env = "NATTER_BIN")]
    pub natter_bin: Option<PathBuf>,
    /// Postgres server URL, without a database name.
    #[arg(
        long,
        env = "BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    pub postgres: String,
    /// The database the run creates, and drops when it ends.
    #[arg(long, default_value = "natter_bench")]
    pub database: String,
    /// Redis, for several nodes and the PUBLISH limit.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis: String,
    /// Meilisearch for `search` (unset: Postgres full-text search).
    #[arg(long, env = "MEILI_URL")]
    pub meili_url: Option<String>,
    #[arg(long, env = "MEILI_MASTER_KEY", hide_env_values = true)]
    pub meili_master_key: Option<String>,
    /// Where the JSON report goes.
    #[arg(long, default_value = "target/natter-bench/latest.json")]
    pub json: PathBuf,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    All,
    Send,
    HotChannel,
    Latency,
    Fanout,
    Idle,
    Resume,
    Search,
    Threads,
    Reactions,
    Uploads,
}

impl Args {
    /// The scenarios to run, `all` spelled out.
    fn plan(&self) -> Vec<Scenario> {
        use Scenario::*;
        if self.scenarios.contains(&All) {
            return vec![
                Send, HotChannel, Latency, Fanout, Idle, Resume, Search, Threads, Reactions,
                Uploads,
            ];
        }
        self.scenarios.clone()
    }

    /// Shrinks every size for `--smoke`.
    fn shrink_for_smoke(&mut self) {
        self.seconds = 1.0;
        self.senders = 4;
        self.channels = 6;
        self.latency_messages = 20;
        self.fanout_sockets = vec![10, 20];
        self.fanout_messages = 5;
        self.idle_sockets = 50;
        self.resume_messages = 40;
        self.resume_channels = 4;
        self.resume_rounds = 2;
        self.search_messages = 2000;
        self.search_queries = 10;
        self.upload_big_mb = 10;
    }
}

fn main() -> anyhow::Result<()> {
    // The raw WebSocket baseline runs as a child process of its own, so its memory and CPU are
    // measured apart from the clients', exactly as Natter's are.
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("raw-ws-server") {
        let port = argv.get(2).and_then(|p| p.parse().ok()).unwrap_or(0);
        return limits::raw_ws::serve(port);
    }
    let mut args = Args::parse();
    if args.smoke {
        args.shrink_for_smoke();
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let files = stats::raise_open_file_limit();
    eprintln!("open-file limit raised to {files} (Natter and the raw server inherit it)");
    let mut deployment = deployment::Deployment::start(&args).await?;
    let world = deployment.set_up(&args).await?;
    let http = reqwest::Client::new();
    let mut report = report::Report::new(&args);
    for scenario in args.plan() {
        if scenario == Scenario::Idle {
            deployment.restart(&args).await?;
        }
        let bench = scenarios::Bench {
            args: &args,
            deployment: &deployment,
            world: &world,
            http: http.clone(),
        };
        let rows = match scenario {
            Scenario::All => unreachable!("plan() spells out all"),
            Scenario::Send => scenarios::send::spread(&bench).await?,
            Scenario::HotChannel => scenarios::send::hot(&bench).await?,
            Scenario::Latency => scenarios::send::latency(&bench).await?,
            Scenario::Fanout => scenarios::sockets::fanout(&bench).await?,
            Scenario::Idle => scenarios::sockets::idle(&bench).await?,
            Scenario::Resume => scenarios::resume::resume(&bench).await?,
            Scenario::Search => scenarios::search::search(&bench).await?,
            Scenario::Threads => scenarios::conversations::threads(&bench).await?,
            Scenario::Reactions => scenarios::conversations::reactions(&bench).await?,
            Scenario::Uploads => scenarios::files::uploads(&bench).await?,
        };
        report.extend(rows);
    }
    report.print();
    report.write_json(&args.json)?;
    eprintln!("JSON written to {}", args.json.display());
    let failed: u64 = report.natter_errors();
    drop(deployment);
    anyhow::ensure!(failed == 0, "{failed} operations failed (see the table)");
    Ok(())
}
