//! A smoke run of `natter-bench`: every scenario and every limit at tiny sizes, against real
//! Natter processes, pgbench, redis-benchmark and the raw WebSocket server, so the harness
//! cannot rot. It checks that each measured something and nothing failed; the figures
//! themselves are for `docs/performance.md`, never for a test.

use std::process::Command;

use serde_json::Value;

#[test]
fn the_harness_runs_every_scenario_beside_its_limits() {
    let postgres = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
    let database = format!("natter_bench_smoke_{}", uuid::Uuid::new_v4().simple());
    let json = std::env::temp_dir().join(format!("{database}.json"));
    let output = Command::new(env!("CARGO_BIN_EXE_natter-bench"))
        .args([
            "all",
            "--smoke",
            "--database",
            &database,
            "--postgres",
            &postgres,
        ])
        .arg("--natter-bin")
        .arg(env!("CARGO_BIN_EXE_natter"))
        .arg("--json")
        .arg(&json)
        .env_remove("MEILI_URL")
        .output()
        .expect("natter-bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "natter-bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    let rows = report["rows"].as_array().expect("rows");
    let row = |id: &str| {
        rows.iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no row {id} in:\n{stdout}"))
    };
    for id in [
        "pgbench-spread",
        "redis-publish",
        "send-http",
        "send-ws",
        "pgbench-hot",
        "hot-http",
        "pgbench-single",
        "latency-ws",
        "raw-fanout-10",
        "fanout-10",
        "raw-fanout-20",
        "fanout-20",
        "raw-idle",
        "idle",
        "resume-sql",
        "resume",
        "search-generate",
        "search-index",
        "search-direct",
        "search",
        "thread-baseline-ws",
        "reply-ws",
        "hot-send-alone",
        "hot-send-reacting",
        "reactions-paced",
        "reactions-max",
        "raw-write-1mb",
        "upload-1mb",
        "raw-write-20mb",
        "upload-20mb",
        "upload-10mb-memory",
    ] {
        let r = row(id);
        assert!(r["ops"].as_u64().unwrap() > 0, "{id} measured nothing: {r}");
        assert_eq!(r["errors"], 0, "{id} had errors: {r}");
    }
    // Each Natter figure stands beside its limit, as a ratio.
    for (id, limit) in [
        ("send-http", "pgbench-spread"),
        ("hot-http", "pgbench-hot"),
        ("latency-ws", "pgbench-single"),
        ("fanout-20", "raw-fanout-20"),
        ("idle", "raw-idle"),
        ("resume", "resume-sql"),
        ("search", "search-direct"),
        ("reply-ws", "thread-baseline-ws"),
        ("hot-send-reacting", "hot-send-alone"),
        ("upload-1mb", "raw-write-1mb"),
        ("upload-20mb", "raw-write-20mb"),
    ] {
        let compare = &row(id)["compare"];
        assert_eq!(compare["to"], limit, "{id}");
        assert!(
            compare["ratio"].as_f64().is_some(),
            "{id} has no ratio: {compare}"
        );
    }
    assert!(row("idle")["kib_per_socket"].as_f64().is_some());
    assert!(row("upload-10mb-memory")["rss_kib"].as_u64().unwrap() > 0);
    // The table went to standard output, and the run's database is gone.
    assert!(
        stdout.contains("| send | HTTP chat.postMessage"),
        "{stdout}"
    );
    let left = Command::new("psql")
        .arg(format!("{postgres}/postgres"))
        .args([
            "-Atc",
            &format!("select count(*) from pg_database where datname = '{database}'"),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&left.stdout).trim(), "0");
}
