//! The table: a row per measurement, limits included, each Natter row beside the limit it is
//! compared with (as a ratio, which carries across runs where raw figures drift) and the goal
//! it is held to.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::Args;
use crate::stats::{Percentiles, Recorder, Usage};

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// A short name other rows compare against (`pgbench-spread`, `send-http`, …).
    pub id: String,
    pub scenario: &'static str,
    pub what: String,
    /// A limit of the machine (pgbench, Redis, a raw server), not Natter.
    pub is_limit: bool,
    pub ops: u64,
    pub seconds: f64,
    pub per_second: f64,
    pub latency_ms: Percentiles,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Memory and CPU of the measured server (Natter's nodes, or the raw server).
    pub rss_kib: Option<u64>,
    pub cpu_percent: Option<f64>,
    pub postgres_cpu_percent: Option<f64>,
    pub client_cpu_percent: Option<f64>,
    pub kib_per_socket: Option<f64>,
    pub compare: Option<Compare>,
    pub goal: Option<Goal>,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    PerSecond,
    P50,
    P95,
    P99,
    KibPerSocket,
}

impl Metric {
    fn of(self, row: &Row) -> Option<f64> {
        match self {
            Metric::PerSecond => Some(row.per_second),
            Metric::P50 => Some(row.latency_ms.p50),
            Metric::P95 => Some(row.latency_ms.p95),
            Metric::P99 => Some(row.latency_ms.p99),
            Metric::KibPerSocket => row.kib_per_socket,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Metric::PerSecond => "rate",
            Metric::P50 => "p50",
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::KibPerSocket => "KiB/socket",
        }
    }
}

/// This row's `metric` over the same metric of row `to`.
#[derive(Clone, Debug, Serialize)]
pub struct Compare {
    pub to: String,
    pub metric: Metric,
    pub ratio: Option<f64>,
}

/// A target from the performance plan: a ceiling on one of this row's figures, or a floor on
/// its ratio to another row.
#[derive(Clone, Debug, Serialize)]
pub struct Goal {
    pub text: String,
    #[serde(skip)]
    check: Check,
    pub met: Option<bool>,
}

#[derive(Clone, Debug)]
enum Check {
    AtMost(Metric, f64),
    RatioAtLeast {
        to: String,
        ratio: f64,
    },
    /// `metric` (a latency) at most `ratio` times row `to`'s.
    RatioAtMost {
        to: String,
        metric: Metric,
        ratio: f64,
    },
}

impl Row {
    /// A row from a finished measurement.
    pub fn measured(
        id: impl Into<String>,
        scenario: &'static str,
        what: impl Into<String>,
        recorder: &Recorder,
        elapsed: Duration,
        usage: Option<Usage>,
    ) -> Self {
        let ops = recorder.ops();
        Self {
            id: id.into(),
            scenario,
            what: what.into(),
            is_limit: false,
            ops,
            seconds: elapsed.as_secs_f64(),
            per_second: ops as f64 / elapsed.as_secs_f64().max(1e-9),
            latency_ms: recorder.percentiles(),
            errors: recorder.errors(),
            first_error: recorder.first_error(),
            rss_kib: usage.map(|u| u.rss_kib),
            cpu_percent: usage.map(|u| u.cpu_percent),
            postgres_cpu_percent: usage.map(|u| u.postgres_cpu_percent),
            client_cpu_percent: usage.map(|u| u.client_cpu_percent),
            kib_per_socket: None,
            compare: None,
            goal: None,
        }
    }

    pub fn limit(mut self) -> Self {
        self.is_limit = true;
        self
    }

    pub fn compare(mut self, to: impl Into<String>, metric: Metric) -> Self {
        self.compare = Some(Compare {
            to: to.into(),
            metric,
            ratio: None,
        });
        self
    }

    /// Goal: `metric` at most `value` (milliseconds, or KiB per socket).
    pub fn at_most(mut self, metric: Metric, value: f64) -> Self {
        let unit = if metric == Metric::KibPerSocket {
            "KiB"
        } else {
            "ms"
        };
        self.goal = Some(Goal {
            text: format!("{} ≤ {value} {unit}", metric.name()),
            check: Check::AtMost(metric, value),
            met: None,
        });
        self
    }

    /// Goal: the rate at least `ratio` of row `to`'s.
    /// Goal: `metric` (a latency) at most `ratio` times row `to`'s.
    pub fn latency_at_most(mut self, metric: Metric, ratio: f64, to: &str) -> Self {
        self.goal = Some(Goal {
            text: format!("{} ≤ {:.0}% of {to}'s", metric.name(), ratio * 100.0),
            check: Check::RatioAtMost {
                to: to.to_owned(),
                metric,
                ratio,
            },
            met: None,
        });
        self
    }

    pub fn rate_at_least(mut self, ratio: f64, to: &str) -> Self {
        self.goal = Some(Goal {
            text: format!("≥ {:.0}% of {to}", ratio * 100.0),
            check: Check::RatioAtLeast {
                to: to.to_owned(),
                ratio,
            },
            met: None,
        });
        self
    }
}

pub struct Report {
    rows: Vec<Row>,
    machine: String,
    setup: String,
}

impl Report {
    pub fn new(args: &Args) -> Self {
        let setup = format!(
            "{} Natter node(s){}, search on {}, rate limits off; Postgres, Redis, Natter and the \
             clients all on this machine",
            args.nodes,
            if args.nodes > 1 { " over Redis" } else { "" },
            if args.meili_url.is_some() {
                "Meilisearch"
            } else {
                "Postgres"
            }
        );
        Self {
            rows: Vec::new(),
            machine: machine(),
            setup,
        }
    }

    pub fn extend(&mut self, rows: Vec<Row>) {
        self.rows.extend(rows);
        self.resolve();
    }

    /// Fills in ratios and goals now that the rows they refer to may be here.
    fn resolve(&mut self) {
        let by_id: HashMap<String, Row> = self
            .rows
            .iter()
            .map(|r| (r.id.clone(), r.clone()))
            .collect();
        for row in &mut self.rows {
            let ratio = row.compare.as_ref().and_then(|c| {
                let other = by_id.get(&c.to)?;
                let (mine, theirs) = (c.metric.of(row)?, c.metric.of(other)?);
                (theirs > 0.0).then(|| mine / theirs)
            });
            let met = row.goal.as_ref().and_then(|g| match &g.check {
                Check::AtMost(metric, value) => metric.of(row).map(|v| v <= *value),
                Check::RatioAtLeast { to, ratio } => by_id
                    .get(to)
                    .filter(|other| other.per_second > 0.0)
                    .map(|other| row.per_second / other.per_second >= *ratio),
                Check::RatioAtMost { to, metric, ratio } => by_id.get(to).and_then(|other| {
                    let (mine, theirs) = (metric.of(row)?, metric.of(other)?);
                    (theirs > 0.0).then(|| mine / theirs <= *ratio)
                }),
            });
            if let Some(compare) = &mut row.compare {
                compare.ratio = ratio;
            }
            if let Some(goal) = &mut row.goal {
                goal.met = met;
            }
        }
    }

    /// Errors in Natter's rows (a limit's own failures are reported, not counted).
    pub fn natter_errors(&self) -> u64 {
        self.rows
            .iter()
            .filter(|r| !r.is_limit)
            .map(|r| r.errors)
            .sum()
    }

    /// Prints the table as Markdown on standard output.
    pub fn print(&self) {
        println!("Machine: {}.", self.machine);
        println!("Setup: {}.", self.setup);
        println!();
        println!(
            "| scenario | measured | ops | ops/s | p50 ms | p95 ms | p99 ms | max ms | errors | server RSS MiB | CPU % server / Postgres / client | beside its limit | goal |"
        );
        println!("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|");
        for row in &self.rows {
            let p = row.latency_ms;
            let what = if row.is_limit {
                format!("*limit:* {}", row.what)
            } else {
                row.what.clone()
            };
            let vs = match &row.compare {
                Some(Compare {
                    to,
                    metric: Metric::PerSecond,
                    ratio: Some(r),
                }) => format!("{:.0}% of `{to}`", r * 100.0),
                Some(Compare {
                    to,
                    metric,
                    ratio: Some(r),
                }) => format!("{} {r:.2}× `{to}`", metric.name()),
                Some(Compare { to, .. }) => format!("(`{to}` not run)"),
                None => String::new(),
            };
            let goal = match &row.goal {
                Some(g) => format!(
                    "{} {}",
                    g.text,
                    match g.met {
                        Some(true) => "✅",
                        Some(false) => "❌",
                        None => "?",
                    }
                ),
                None => String::new(),
            };
            let per_socket = row
                .kib_per_socket
                .map(|k| format!("; {k:.1} KiB/socket"))
                .unwrap_or_default();
            println!(
                "| {} | {what}{per_socket} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {vs} | {goal} |",
                row.scenario,
                row.ops,
                row.per_second,
                p.p50,
                p.p95,
                p.p99,
                p.max,
                row.errors,
                row.rss_kib
                    .filter(|k| *k > 0)
                    .map(|k| format!("{:.0}", k as f64 / 1024.0))
                    .unwrap_or_default(),
                match (
                    row.rss_kib.filter(|k| *k > 0).and(row.cpu_percent),
                    row.postgres_cpu_percent,
                    row.client_cpu_percent
                ) {
                    (Some(s), Some(p), Some(c)) => format!("{s:.0} / {p:.0} / {c:.0}"),
                    // No server of ours ran (pgbench): Postgres and its client.
                    (None, Some(p), Some(c)) => format!("– / {p:.0} / {c:.0}"),
                    _ => String::new(),
                },
            );
        }
        for row in self.rows.iter().filter(|r| r.errors > 0) {
            println!(
                "\n`{}`: {} errors, the first: {}",
                row.id,
                row.errors,
                row.first_error.as_deref().unwrap_or("?")
            );
        }
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let json = serde_json::json!({
            "machine": self.machine,
            "setup": self.setup,
            "rows": self.rows,
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)?;
        Ok(())
    }
}

/// The CPU model, cores and memory, from /proc.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    format!("{model}, {cores} cores, {mem_gib:.0} GiB")
}
