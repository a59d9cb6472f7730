//! Measuring: latency histograms, a progress line while a measurement runs, and what the
//! measured processes cost (resident memory and CPU, read from /proc).

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Latencies (in microseconds, three significant digits), successes and failures of one
/// measurement, shared by its tasks.
pub struct Recorder {
    histogram: Mutex<Histogram<u64>>,
    ops: AtomicU64,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Recorder {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            // From 1 µs to 10 minutes; anything slower is recorded as 10 minutes.
            histogram: Mutex::new(
                Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds"),
            ),
            ops: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            first_error: Mutex::new(None),
        })
    }

    pub fn record(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.histogram
            .lock()
            .expect("no panics while recording")
            .saturating_record(micros);
        self.ops.fetch_add(1, Ordering::Relaxed);
    }

    pub fn error(&self, error: impl std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_error.lock().expect("no panics while recording");
        if first.is_none() {
            *first = Some(error.to_string());
        }
    }

    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::Relaxed)
    }

    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    pub fn first_error(&self) -> Option<String> {
        self.first_error
            .lock()
            .expect("no panics while recording")
            .clone()
    }

    /// p50, p95, p99 and max, in milliseconds.
    pub fn percentiles(&self) -> Percentiles {
        let h = self.histogram.lock().expect("no panics while recording");
        let ms = |micros: u64| micros as f64 / 1000.0;
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            p50: ms(h.value_at_quantile(0.50)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// What the watched processes used over a measurement. CPU is CPU time over wall time, in
/// percent of one core (two busy cores are 200%); the three shares say where the machine's
/// time went.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// The highest summed resident memory of the server seen, in KiB.
    pub rss_kib: u64,
    /// The server's (Natter's nodes, or the raw server).
    pub cpu_percent: f64,
    /// Every Postgres process's.
    pub postgres_cpu_percent: f64,
    /// This process's: the clients.
    pub client_cpu_percent: f64,
}

/// A measurement in progress: prints a progress line every second and samples the watched
/// processes' memory, until [`Progress::finish`].
pub struct Progress {
    started: Instant,
    cpu_ticks_at_start: u64,
    postgres_at_start: HashMap<u32, u64>,
    /// The last CPU ticks seen of every Postgres process, sampled as the measurement runs so a
    /// backend that ends before it (pgbench's) still counts.
    postgres_seen: Arc<Mutex<HashMap<u32, u64>>>,
    client_at_start: f64,
    pids: Vec<u32>,
    peak_rss: Arc<AtomicU64>,
    ticker: tokio::task::JoinHandle<()>,
}

impl Progress {
    pub fn start(name: &str, recorder: &Arc<Recorder>, pids: &[u32]) -> Self {
        let started = Instant::now();
        let peak_rss = Arc::new(AtomicU64::new(rss_kib(pids)));
        let postgres_at_start = postgres_ticks();
        let postgres_seen = Arc::new(Mutex::new(postgres_at_start.clone()));
        let ticker = {
            let (name, recorder, pids, peak_rss, postgres_seen) = (
                name.to_owned(),
                recorder.clone(),
                pids.to_vec(),
                peak_rss.clone(),
                postgres_seen.clone(),
            );
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_millis(250));
                for tick in 0u64.. {
                    every.tick().await;
                    peak_rss.fetch_max(rss_kib(&pids), Ordering::Relaxed);
                    remember(&postgres_seen, postgres_ticks());
                    if tick % 4 == 0 {
                        let seconds = started.elapsed().as_secs_f64();
                        let ops = recorder.ops();
                        eprint!(
                            "\r  {name:<28} {seconds:>6.1} s {ops:>9} ops {:>9.0}/s {:>5} errors ",
                            ops as f64 / seconds.max(0.001),
                            recorder.errors()
                        );
                        let _ = std::io::stderr().flush();
                    }
                }
            })
        };
        Self {
            started,
            cpu_ticks_at_start: cpu_ticks(pids),
            postgres_at_start,
            postgres_seen,
            client_at_start: client_cpu_seconds(),
            pids: pids.to_vec(),
            peak_rss,
            ticker,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Stops the progress line; the wall time and what the watched processes used.
    pub fn finish(self) -> (Duration, Usage) {
        let elapsed = self.started.elapsed();
        self.ticker.abort();
        eprintln!();
        self.peak_rss
            .fetch_max(rss_kib(&self.pids), Ordering::Relaxed);
        let percent =
            |ticks: u64| ticks as f64 / ticks_per_second() / elapsed.as_secs_f64() * 100.0;
        let server = cpu_ticks(&self.pids).saturating_sub(self.cpu_ticks_at_start);
        // A backend that started meanwhile counts from zero; one that ended counts up to its
        // last sample (at most 250 ms before it ended).
        remember(&self.postgres_seen, postgres_ticks());
        let postgres: u64 = self
            .postgres_seen
            .lock()
            .expect("no panics while sampling")
            .iter()
            .map(|(pid, seen)| {
                seen.saturating_sub(self.postgres_at_start.get(pid).copied().unwrap_or(0))
            })
            .sum();
        let client = client_cpu_seconds() - self.client_at_start;
        let usage = Usage {
            rss_kib: self.peak_rss.load(Ordering::Relaxed),
            cpu_percent: percent(server),
            postgres_cpu_percent: percent(postgres),
            client_cpu_percent: client / elapsed.as_secs_f64() * 100.0,
        };
        (elapsed, usage)
    }
}

fn remember(seen: &Mutex<HashMap<u32, u64>>, now: HashMap<u32, u64>) {
    let mut seen = seen.lock().expect("no panics while sampling");
    for (pid, ticks) in now {
        let last = seen.entry(pid).or_insert(ticks);
        *last = (*last).max(ticks);
    }
}

/// CPU seconds of the clients: this process, and the load tools it ran and waited for
/// (pgbench, redis-benchmark).
fn client_cpu_seconds() -> f64 {
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let mut total = 0.0;
    for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
        // SAFETY: getrusage only writes the struct passed to it.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(who, &mut usage) } == 0 {
            total += seconds(usage.ru_utime) + seconds(usage.ru_stime);
        }
    }
    total
}

/// The summed resident memory of the processes, in KiB (0 for one that is gone).
pub fn rss_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .map(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .unwrap_or_default()
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        })
        .sum()
}

/// The summed user and system CPU time of the processes, in clock ticks.
fn cpu_ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // The command name is in parentheses and may hold spaces: count fields after it.
            let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
            let fields: Vec<&str> = after_name.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
            let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
            field(11).unwrap_or(0) + field(12).unwrap_or(0)
        })
        .sum()
}

/// CPU ticks of every process named `postgres`, by pid.
fn postgres_ticks() -> HashMap<u32, u64> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == "postgres")
        })
        .map(|pid| (pid, cpu_ticks(&[pid])))
        .collect()
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// Raises this process's open-file limit to its hard limit (children inherit it); the new limit.
pub fn raise_open_file_limit() -> u64 {
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        limit.rlim_cur
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_what_was_recorded() {
        let recorder = Recorder::new();
        for ms in 1..=100 {
            recorder.record(Duration::from_millis(ms));
        }
        let p = recorder.percentiles();
        assert_eq!(recorder.ops(), 100);
        assert!((p.p50 - 50.0).abs() < 0.1, "{p:?}");
        assert!((p.p99 - 99.0).abs() < 0.1, "{p:?}");
        assert!((p.max - 100.0).abs() < 0.1, "{p:?}");
    }

    #[test]
    fn this_process_has_memory_and_cpu_in_proc() {
        let me = std::process::id();
        assert!(rss_kib(&[me]) > 0);
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_millis(50) {
            std::hint::black_box(spin.elapsed());
        }
        assert!(cpu_ticks(&[me]) > 0);
    }
}
