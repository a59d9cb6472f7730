//! The command line: `natter` (or `natter serve`), `natter migrate`, and the admin commands
//! that bootstrap a server before anyone can log in.
//!
//! Every command reads the same environment as the server. Bad input prints one clear line
//! and exits non-zero; nothing here panics on what a person typed.

use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use clap::{Parser, Subcommand};
use sqlx::PgPool;

use crate::auth::accounts::{self, NewAccount};
use crate::auth::membership::{Membership, Role};
use crate::config::Config;
use crate::error::AppError;
use crate::server::Server;
use crate::state::AppState;
use crate::workspaces::members::{self, Actor};
use crate::{auth, channels, workspaces};

#[derive(Parser)]
#[command(name = "natter", version, about = "Natter: self-hosted team chat")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web app (the default).
    Serve,
    /// Create the database if needed and apply migrations, then exit.
    Migrate,
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Manage workspace members.
    #[command(subcommand)]
    Member(MemberCommand),
    /// SCIM provisioning.
    #[command(subcommand)]
    Scim(ScimCommand),
    /// Instance administration.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage channels.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Manage personal tokens (for `/ws` and the Web API).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage bots.
    #[command(subcommand)]
    Bot(BotCommand),
    /// Manage incoming webhooks.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Manage the search index.
    #[command(subcommand)]
    Search(SearchCommand),
    /// Manage stored files.
    #[command(subcommand)]
    Files(FilesCommand),
    /// Bring history in from another chat tool.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Write a workspace as a Slack export (people, conversations, messages, threads,
    /// reactions, pins), which `natter import slack` and other tools read.
    Export {
        #[arg(long)]
        workspace: String,
        /// The zip file to write.
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// A Slack export (the zip from Slack's "Export data"): people, channels, DMs, messages,
    /// threads, reactions and pins. Safe to run again: nothing is imported twice.
    Slack {
        /// The workspace to import into (its channels of the same names are merged into).
        #[arg(long)]
        workspace: String,
        /// The export's zip file.
        archive: std::path::PathBuf,
    },
}

/// The import's progress on the terminal: the conversation, messages so far and the rate.
struct ImportBar(indicatif::ProgressBar);

impl crate::slack::import::Progress for ImportBar {
    fn conversation(&self, name: &str, _days: usize) {
        self.0.set_message(name.to_owned());
    }

    fn day_done(&self, messages: u64) {
        self.0.inc(messages);
    }
}

#[derive(Subcommand)]
enum FilesCommand {
    /// Remove what no message can reach: unfinished uploads, deleted files past their grace
    /// period, and stored objects no file names.
    Gc {
        /// How long deleted files are kept first, in seconds (default a day).
        #[arg(long, default_value_t = crate::files::gc::GRACE.whole_seconds())]
        grace_secs: i64,
    },
}

#[derive(Subcommand)]
enum SearchCommand {
    /// Rebuild the Meilisearch index from Postgres without downtime (build, then swap).
    Reindex,
}

#[derive(Subcommand)]
enum BotCommand {
    /// Create a bot in a workspace; its token is printed on the last line.
    Create {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Create an incoming webhook for a channel; its URL is printed on the last line.
    Create {
        #[arg(long)]
        workspace: String,
        /// The channel's name.
        #[arg(long)]
        channel: String,
        /// The email of the member creating it (they must be in the channel).
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Incoming webhook")]
        name: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a personal token for a user; the token is printed on the last line.
    Create {
        #[arg(long)]
        email: String,
        /// A note saying what the token is for.
        #[arg(long, default_value = "")]
        name: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        username: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        password: String,
    },
}

#[derive(Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace with #general, owned by an existing user.
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        /// The owner's email.
        #[arg(long)]
        owner: String,
    },
}

#[derive(Subcommand)]
enum MemberCommand {
    /// Add a user to a workspace (and its #general).
    Add {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Change a member's role (owner, admin, member, guest).
    Role {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: String,
    },
    /// Deactivate a member: they lose the workspace at once; their messages stay.
    Deactivate {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        email: String,
    },
    /// Give a deactivated member the workspace back.
    Reactivate {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Make an account an instance admin: they see every workspace and account at /admin.
    Grant {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum ScimCommand {
    /// Make the workspace's SCIM token (printed on the last line; earlier ones stop working).
    Token {
        #[arg(long)]
        workspace: String,
    },
}

#[derive(Subcommand)]
enum ChannelCommand {
    /// Create a channel.
    Create {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        private: bool,
        /// Comma-separated emails of members to add; the first is the creator.
        #[arg(long, value_delimiter = ',')]
        members: Vec<String>,
        #[arg(long, default_value = "")]
        topic: String,
    },
    /// Archive a channel: readable, no posts, no joins.
    Archive {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        name: String,
    },
    /// Unarchive a channel.
    Unarchive {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        name: String,
    },
}

/// Runs the command line and turns any error into one line on stderr and exit code 1.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    let serving = matches!(cli.command, None | Some(Command::Serve));
    init_tracing(serving);
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(serving: bool) {
    let default = if serving {
        "natter=info,tower_http=info"
    } else {
        "natter=warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let db = crate::db::connect(&config.database_url).await?;
            crate::db::migrate(&db).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::User(UserCommand::Create {
            email,
            username,
            name,
            password,
        }) => {
            let db = pool(&config).await?;
            let account = NewAccount {
                email,
                username,
                name,
                password,
            };
            // The operator may be told plainly what sign-up keeps to itself.
            let email = account.email.trim();
            if auth::db::user_by_email(&db, email).await?.is_some() {
                bail!("an account with the email {email} already exists");
            }
            let id = accounts::create(&db, &account).await.map_err(plain)?;
            println!(
                "created user {} (@{}) with id {id}",
                account.email.trim(),
                account.normalised().map_err(plain)?.username
            );
            Ok(())
        }
        Command::Workspace(WorkspaceCommand::Create { slug, name, owner }) => {
            let db = pool(&config).await?;
            let owner_id = user_id(&db, &owner).await?;
            let workspace = workspaces::create(&db, &slug, &name, owner_id)
                .await
                .map_err(plain)?;
            println!(
                "created workspace {} at {}/w/{}",
                workspace.name, config.public_url, workspace.slug
            );
            Ok(())
        }
        Command::Member(MemberCommand::Add {
            workspace,
            email,
            role,
        }) => {
            let db = pool(&config).await?;
            let workspace = workspace_by_slug(&db, &workspace).await?;
            let user = user_id(&db, &email).await?;
            let added = workspaces::add_member(&db, workspace.id, user, &role)
                .await
                .map_err(plain)?;
            if added {
                println!("added {email} to {} as {role}", workspace.slug);
            } else {
                println!("{email} is already a member of {}", workspace.slug);
            }
            Ok(())
        }
        Command::Member(MemberCommand::Role {
            workspace,
            email,
            role,
        }) => {
            let (state, workspace, user) = member_of(&config, &workspace, &email).await?;
            let role = role.parse().map_err(|why: String| anyhow!(why))?;
            let actor = Actor::command_line(workspace.id);
            members::set_role(&state.db, actor, user, role)
                .await
                .map_err(plain)?;
            state.realtime.flush().await;
            println!("{email} is now {role} in {}", workspace.slug);
            Ok(())
        }
        Command::Admin(AdminCommand::Grant { email }) => {
            let db = pool(&config).await?;
            if !auth::db::grant_instance_admin(&db, email.trim()).await? {
                bail!(
                    "no active person has the email {email}; create one with `natter user create`"
                );
            }
            println!("{email} is an instance admin: {}/admin", config.public_url);
            Ok(())
        }
        Command::Scim(ScimCommand::Token { workspace }) => {
            let db = pool(&config).await?;
            let workspace = workspace_by_slug(&db, &workspace).await?;
            let token = crate::scim::create_token(&db, workspace.id, None)
                .await
                .map_err(plain)?;
            println!(
                "made a SCIM token for {} ({}/scim/v2); it is shown only this once:",
                workspace.slug, config.public_url
            );
            println!("{token}");
            Ok(())
        }
        Command::Member(MemberCommand::Deactivate { workspace, email }) => {
            set_active(&config, &workspace, &email, false).await
        }
        Command::Member(MemberCommand::Reactivate { workspace, email }) => {
            set_active(&config, &workspace, &email, true).await
        }
        Command::Bot(BotCommand::Create { workspace, name }) => {
            let db = pool(&config).await?;
            let workspace = workspace_by_slug(&db, &workspace).await?;
            let bot = crate::integrations::create_bot(&db, workspace.id, &name, None)
                .await
                .map_err(plain)?;
            println!(
                "created bot {name} in {}; its secrets are shown only this once.",
                workspace.slug
            );
            println!(
                "signing secret (for X-Slack-Signature): {}",
                bot.signing_secret
            );
            println!("token:");
            println!("{}", bot.token);
            Ok(())
        }
        Command::Webhook(WebhookCommand::Create {
            workspace,
            channel,
            email,
            name,
        }) => {
            let db = pool(&config).await?;
            let workspace = workspace_by_slug(&db, &workspace).await?;
            let user = user_id(&db, &email).await?;
            let channel_name = channel.trim_start_matches('#');
            let channel = channels::db::channel_by_name(&db, workspace.id, channel_name)
                .await?
                .ok_or_else(|| anyhow!("no channel #{channel_name} in {}", workspace.slug))?;
            let access = channels::db::channel_for(&db, workspace.id, channel.id, user).await?;
            if access.and_then(|a| a.last_read_seq).is_none() {
                bail!(
                    "{email} is not a member of #{channel_name}; webhooks are made by channel members"
                );
            }
            let token =
                crate::integrations::create_webhook(&db, workspace.id, channel.id, &name, user)
                    .await
                    .map_err(plain)?;
            println!(
                "created webhook {name:?} for #{channel_name}; its URL is shown only this once:"
            );
            println!("{}/hooks/{token}", config.public_url);
            Ok(())
        }
        Command::Import(ImportCommand::Slack { workspace, archive }) => {
            let db = pool(&config).await?;
            let state = AppState::for_command_line(db, config)?;
            let bar = indicatif::ProgressBar::new_spinner().with_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {elapsed_precise} {pos} messages ({per_sec}) · {msg}",
                )
                .expect("the template is valid"),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            let mut summary = crate::slack::import::Summary::default();
            let outcome = crate::slack::import::run(
                &state,
                &workspace,
                &archive,
                &ImportBar(bar.clone()),
                &mut summary,
            )
            .await;
            bar.finish_and_clear();
            state.realtime.flush().await;
            match outcome {
                Ok(()) => {
                    println!("{}", summary.line());
                    Ok(())
                }
                Err(e) => {
                    println!("stopped; what was complete stays: {}", summary.line());
                    Err(e)
                }
            }
        }
        Command::Export { workspace, out } => {
            let db = pool(&config).await?;
            let written = crate::slack::export::run(&db, &workspace, &out).await?;
            println!("{}", written.line());
            Ok(())
        }
        Command::Files(FilesCommand::Gc { grace_secs }) => {
            let db = pool(&config).await?;
            let state = AppState::for_command_line(db, config)?;
            let c = crate::files::gc::collect(&state, time::Duration::seconds(grace_secs.max(0)))
                .await?;
            println!(
                "removed {} file records and {} stored objects ({} of objects no record named) from {}",
                c.rows,
                c.objects,
                crate::files::size_label(c.bytes as i64),
                state.storage.description
            );
            Ok(())
        }
        Command::Search(SearchCommand::Reindex) => {
            let db = pool(&config).await?;
            let Some(url) = &config.meili_url else {
                println!(
                    "search runs on Postgres full-text search (MEILI_URL is not set); Postgres keeps that index itself, so there is nothing to rebuild"
                );
                return Ok(());
            };
            let meili = crate::index::meili::Meili::new(
                url,
                config.meili_master_key.as_deref(),
                &config.meili_index,
            )?;
            let started = std::time::Instant::now();
            let total = crate::index::meili::reindex(&db, &meili, |done, rate| {
                eprint!("\rindexed {done} messages ({rate:.0}/s)   ");
            })
            .await
            .context("reindexing failed; the old index still serves searches")?;
            eprintln!();
            println!(
                "reindexed {total} messages in {:.1?} and swapped the new index in",
                started.elapsed()
            );
            Ok(())
        }
        Command::Token(TokenCommand::Create { email, name }) => {
            let db = pool(&config).await?;
            let user = user_id(&db, &email).await?;
            let token = auth::tokens::create_personal(&db, user, &name).await?;
            println!("created a personal token for {email}; it is shown only this once:");
            println!("{token}");
            Ok(())
        }
        Command::Channel(ChannelCommand::Create {
            workspace,
            name,
            private,
            members,
            topic,
        }) => {
            let db = pool(&config).await?;
            let workspace = workspace_by_slug(&db, &workspace).await?;
            let mut member_ids = Vec::new();
            for email in members.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
                let id = user_id(&db, email).await?;
                if auth::membership::membership(&db, &workspace.slug, id)
                    .await?
                    .is_none()
                {
                    bail!(
                        "{email} is not a member of {}; add them with `natter member add` first",
                        workspace.slug
                    );
                }
                member_ids.push(id);
            }
            let Some((&creator, rest)) = member_ids.split_first() else {
                bail!("name at least one member with --members <email> (the first is the creator)");
            };
            let id = channels::create(&db, workspace.id, &name, private, &topic, creator, rest)
                .await
                .map_err(plain)?;
            println!(
                "created #{} in {} with id {id}",
                channels::normalise_name(&name).map_err(plain)?,
                workspace.slug
            );
            Ok(())
        }
        Command::Channel(ChannelCommand::Archive { workspace, name }) => {
            archive(&config, &workspace, &name, true).await
        }
        Command::Channel(ChannelCommand::Unarchive { workspace, name }) => {
            archive(&config, &workspace, &name, false).await
        }
    }
}

/// The state of a node that is the command line, the workspace, and a member's user id.
async fn member_of(
    config: &Config,
    slug: &str,
    email: &str,
) -> anyhow::Result<(AppState, workspaces::Workspace, i64)> {
    let db = pool(config).await?;
    let workspace = workspace_by_slug(&db, slug).await?;
    let user = user_id(&db, email).await?;
    if workspaces::db::member(&db, workspace.id, user)
        .await?
        .is_none()
    {
        bail!("{email} is not a member of {}", workspace.slug);
    }
    // What it publishes reaches the running nodes' sockets: through Redis when REDIS_URL is
    // set, through Postgres otherwise.
    Ok((
        AppState::for_command_line(db, config.clone())?,
        workspace,
        user,
    ))
}

async fn set_active(config: &Config, slug: &str, email: &str, active: bool) -> anyhow::Result<()> {
    let (state, workspace, user) = member_of(config, slug, email).await?;
    let actor = Actor::command_line(workspace.id);
    let (done, verb) = if active {
        (
            members::reactivate(&state, actor, user).await,
            "reactivated",
        )
    } else {
        (
            members::deactivate(&state, actor, user).await,
            "deactivated",
        )
    };
    done.map_err(plain)?;
    state.realtime.flush().await;
    println!("{verb} {email} in {}", workspace.slug);
    Ok(())
}

async fn archive(config: &Config, slug: &str, name: &str, archived: bool) -> anyhow::Result<()> {
    let db = pool(config).await?;
    let workspace = workspace_by_slug(&db, slug).await?;
    let channel = channels::db::channel_by_name(&db, workspace.id, name.trim_start_matches('#'))
        .await?
        .ok_or_else(|| anyhow!("{} has no channel named #{name}", workspace.slug))?;
    let operator = Membership {
        id: workspace.id,
        slug: workspace.slug.clone(),
        name: workspace.name.clone(),
        role: Role::Owner,
    };
    channels::manage::set_archived(&db, &operator, None, channel.id, archived)
        .await
        .map_err(|e| plain(e.into()))?;
    let done = if archived { "archived" } else { "unarchived" };
    println!(
        "{done} #{} in {}",
        channel.name.unwrap_or_default(),
        workspace.slug
    );
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let server = Server::build(config.clone()).await?;
    tracing::info!(address = %server.local_addr(), public_url = %config.public_url, "Natter is listening");
    eprintln!("Natter is running at {}", config.public_url);
    server.run(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Admin commands need the schema too, so they migrate first (a no-op when up to date).
async fn pool(config: &Config) -> anyhow::Result<PgPool> {
    let db = crate::db::connect(&config.database_url).await?;
    crate::db::migrate(&db).await?;
    Ok(db)
}

async fn user_id(db: &PgPool, email: &str) -> anyhow::Result<i64> {
    auth::db::user_by_email(db, email.trim())
        .await?
        .map(|u| u.id)
        .ok_or_else(|| {
            anyhow!("no active user has the email {email}; create one with `natter user create`")
        })
}

async fn workspace_by_slug(db: &PgPool, slug: &str) -> anyhow::Result<workspaces::Workspace> {
    workspaces::db::workspace_by_slug(db, slug)
        .await
        .context("looking up the workspace")?
        .ok_or_else(|| anyhow!("no workspace has the slug {slug:?}"))
}

/// A user-facing error as one plain sentence for the terminal.
fn plain(error: AppError) -> anyhow::Error {
    match error {
        AppError::Internal(e) => e,
        other => anyhow!("{other}"),
    }
}
