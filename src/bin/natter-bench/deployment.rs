//! The Natter under test: its nodes (child processes of this one, on a fresh database, rate
//! limits off), and the people and channels the scenarios use, made through Natter's CLI.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use sqlx::PgPool;

use crate::Args;

pub struct Deployment {
    nodes: Vec<Node>,
    natter_bin: PathBuf,
    pub database_url: String,
    postgres: String,
    database: String,
    /// The bench's own connection, for setup look-ups and the straight-to-Postgres limits.
    pub db: PgPool,
    /// Meilisearch's index, when the run searches in Meilisearch.
    pub meili_index: String,
    /// Where the nodes keep files (`NATTER_FILES_DIR`), removed with the run.
    pub files_dir: PathBuf,
}

struct Node {
    child: Child,
    base: String,
}

/// A person the scenarios act as.
#[derive(Clone, Debug)]
pub struct User {
    pub id: i64,
    pub email: String,
    /// A personal token, for the Web API and `/ws`.
    pub token: String,
}

/// What [`Deployment::set_up`] made.
pub struct World {
    /// People in every one of `channels`: the `send` senders.
    pub senders: Vec<User>,
    /// The channels `send` spreads over; their ids are consecutive (pgbench picks by range).
    pub channels: Vec<i64>,
    /// In #general and `fanout_channel` only: the sockets of `fanout` and `idle`.
    pub listener: User,
    pub fanout_channel: i64,
    /// In the first `--resume-channels` of `channels`: the client of `resume`.
    pub resumer: User,
}

impl Deployment {
    /// Drops and recreates the bench database, migrates it, and starts the nodes.
    pub async fn start(args: &Args) -> anyhow::Result<Self> {
        let natter_bin = match &args.natter_bin {
            Some(path) => path.clone(),
            None => std::env::current_exe()?.with_file_name("natter"),
        };
        ensure!(
            natter_bin.exists(),
            "no natter binary at {} (build it: cargo build --release --bin natter)",
            natter_bin.display()
        );
        let postgres = args.postgres.trim_end_matches('/').to_owned();
        let database_url = format!("{postgres}/{}", args.database);
        let admin = PgPool::connect(&format!("{postgres}/postgres"))
            .await
            .with_context(|| format!("cannot reach Postgres at {postgres}"))?;
        sqlx::query(&format!(
            "drop database if exists \"{}\" with (force)",
            args.database
        ))
        .execute(&admin)
        .await?;
        admin.close().await;
        let mut deployment = Self {
            nodes: Vec::new(),
            natter_bin,
            database_url: database_url.clone(),
            postgres,
            database: args.database.clone(),
            db: PgPool::connect_lazy(&database_url)?,
            meili_index: format!("{}_messages", args.database),
            files_dir: std::env::temp_dir().join(format!("{}-files", args.database)),
        };
        // Files of an earlier run go with its database.
        std::fs::remove_dir_all(&deployment.files_dir).ok();
        // Migrate once, before any node starts, so nodes never race to create the schema.
        deployment.cli(&["migrate"])?;
        deployment.spawn_nodes(args).await?;
        eprintln!(
            "{} node(s) up on {} ({})",
            deployment.nodes.len(),
            deployment.database_url,
            if args.nodes > 1 {
                "sharing Redis"
            } else {
                "in-process bus"
            }
        );
        Ok(deployment)
    }

    /// Starts `args.nodes` nodes on the migrated database and waits until each is healthy.
    async fn spawn_nodes(&mut self, args: &Args) -> anyhow::Result<()> {
        let database_url = self.database_url.clone();
        let redis_prefix = format!("{}-{}", args.database, std::process::id());
        for n in 0..args.nodes {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let base = format!("http://127.0.0.1:{port}");
            let mut command = Command::new(&self.natter_bin);
            command
                .env("DATABASE_URL", &database_url)
                .env("NATTER_BIND", format!("127.0.0.1:{port}"))
                .env("NATTER_PUBLIC_URL", &base)
                .env("NATTER_RATE_LIMITS", "off")
                .env("RUST_LOG", "error")
                .env("MEILI_INDEX", &self.meili_index)
                .env("NATTER_FILES_DIR", &self.files_dir)
                .env_remove("NATTER_S3_BUCKET")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit());
            if args.nodes > 1 {
                command
                    .env("REDIS_URL", &args.redis)
                    .env("REDIS_PREFIX", &redis_prefix);
            } else {
                command.env_remove("REDIS_URL");
            }
            match (&args.meili_url, &args.meili_master_key) {
                (Some(url), key) => {
                    command
                        .env("MEILI_URL", url)
                        .env("MEILI_MASTER_KEY", key.as_deref().unwrap_or_default());
                }
                (None, _) => {
                    command.env_remove("MEILI_URL");
                }
            }
            let child = command
                .spawn()
                .with_context(|| format!("starting node {n}"))?;
            self.nodes.push(Node { child, base });
        }
        for node in &mut self.nodes {
            wait_until_healthy(node).await?;
        }
        Ok(())
    }

    /// Stops the nodes and starts fresh ones, so a measurement of memory starts from a process
    /// that has not held (and kept, as allocators do) the memory of an earlier scenario.
    pub async fn restart(&mut self, args: &Args) -> anyhow::Result<()> {
        self.stop_nodes();
        self.spawn_nodes(args).await
    }

    /// Asks each node to shut down (SIGTERM, as a service manager would), so a node run under
    /// a profiler writes its profile, and kills any still running after ten seconds.
    fn stop_nodes(&mut self) {
        for node in &self.nodes {
            let pid = node.child.id() as libc::pid_t;
            // SAFETY: kill only sends a signal to our own child.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        for mut node in self.nodes.drain(..) {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while matches!(node.child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
    }

    /// The base URL of node `i`, round robin: spreads clients over the nodes.
    pub fn base(&self, i: usize) -> &str {
        &self.nodes[i % self.nodes.len()].base
    }

    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().map(|n| n.child.id()).collect()
    }

    /// Runs `natter <args>` against the bench database; its standard output.
    pub fn cli(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = Command::new(&self.natter_bin)
            .args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("RUST_LOG", "error")
            .output()
            .with_context(|| format!("running {}", self.natter_bin.display()))?;
        if !output.status.success() {
            bail!(
                "natter {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Creates an account and a personal token for it.
    pub async fn user(&self, name: &str, workspace: Option<&str>) -> anyhow::Result<User> {
        let email = format!("{name}@bench.example");
        self.cli(&[
            "user",
            "create",
            "--email",
            &email,
            "--username",
            name,
            "--name",
            name,
            "--password",
            "benchmark-password",
        ])?;
        if let Some(slug) = workspace {
            self.cli(&["member", "add", "--workspace", slug, "--email", &email])?;
        }
        let printed = self.cli(&["token", "create", "--email", &email])?;
        let token = printed
            .trim()
            .lines()
            .last()
            .context("token create printed nothing")?
            .trim()
            .to_owned();
        let id = sqlx::query_scalar("select id from users where email = $1")
            .bind(&email)
            .fetch_one(&self.db)
            .await?;
        Ok(User { id, email, token })
    }

    /// Creates a public channel with these members; its id.
    pub async fn channel(
        &self,
        workspace: &str,
        name: &str,
        members: &[&User],
    ) -> anyhow::Result<i64> {
        let emails: Vec<&str> = members.iter().map(|u| u.email.as_str()).collect();
        self.cli(&[
            "channel",
            "create",
            "--workspace",
            workspace,
            "--name",
            name,
            "--members",
            &emails.join(","),
        ])?;
        Ok(sqlx::query_scalar(
            "select c.id from channels c join workspaces w on w.id = c.workspace_id
             where w.slug = $1 and c.name = $2",
        )
        .bind(workspace)
        .bind(name)
        .fetch_one(&self.db)
        .await?)
    }

    /// The senders, the listener and the resume client, in one workspace with its channels.
    pub async fn set_up(&self, args: &Args) -> anyhow::Result<World> {
        eprintln!(
            "setting up {} senders and {} channels through the natter CLI",
            args.senders, args.channels
        );
        let owner = self.user("sender0", None).await?;
        self.cli(&[
            "workspace",
            "create",
            "--slug",
            "bench",
            "--name",
            "Bench",
            "--owner",
            &owner.email,
        ])?;
        let mut senders = vec![owner];
        for n in 1..args.senders.max(1) {
            senders.push(self.user(&format!("sender{n}"), Some("bench")).await?);
        }
        let listener = self.user("listener", Some("bench")).await?;
        let resumer = self.user("resumer", Some("bench")).await?;
        let mut channels = Vec::with_capacity(args.channels);
        for c in 0..args.channels.max(1) {
            let mut members: Vec<&User> = senders.iter().collect();
            if c < args.resume_channels {
                members.push(&resumer);
            }
            channels.push(
                self.channel("bench", &format!("load-{c}"), &members)
                    .await?,
            );
        }
        let fanout_channel = self
            .channel("bench", "fanout", &[&senders[0], &listener])
            .await?;
        Ok(World {
            senders,
            channels,
            listener,
            fanout_channel,
            resumer,
        })
    }
}

async fn wait_until_healthy(node: &mut Node) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Some(status) = node.child.try_wait()? {
            bail!("a natter node exited at start ({status})");
        }
        if let Ok(answer) = http.get(format!("{}/healthz", node.base)).send().await
            && answer.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("natter at {} did not become healthy in 30 s", node.base)
}

impl Drop for Deployment {
    fn drop(&mut self) {
        self.stop_nodes();
        let _ = std::fs::remove_dir_all(&self.files_dir);
        // The run's database is scratch: drop it (a blocking psql, since Drop cannot await).
        let _ = Command::new("psql")
            .arg(format!("{}/postgres", self.postgres))
            .args([
                "-qc",
                &format!("drop database if exists \"{}\" with (force)", self.database),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
