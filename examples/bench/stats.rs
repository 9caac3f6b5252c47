//! Measurements: latency percentiles, server RSS and CPU time from /proc, result rows.

use serde::Serialize;
use std::time::Duration;

/// Latency percentiles in milliseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(samples: &mut [Duration]) -> Self {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort_unstable();
        let at = |q: f64| {
            let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
            samples[i].as_secs_f64() * 1000.0
        };
        Latency {
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            p999_ms: at(0.999),
            max_ms: samples[samples.len() - 1].as_secs_f64() * 1000.0,
        }
    }
}

/// One scenario's result: a table row, or a JSON object with `--json`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Row {
    pub scenario: String,
    pub params: String,
    pub sent: u64,
    pub expected: u64,
    pub received: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub seconds: f64,
    pub deliveries_per_s: f64,
    pub latency: Latency,
    pub server_rss_before_kib: u64,
    pub server_rss_after_kib: u64,
    pub server_cpu_ms: f64,
    pub bench_cpu_ms: f64,
    /// Scenario-specific figures (e.g. "first_send_to_last_ack_ms").
    pub extra: Vec<(String, f64)>,
}

impl Row {
    pub fn print(&self, json: bool) {
        if json {
            println!("{}", serde_json::to_string(self).unwrap_or_default());
            return;
        }
        let extra: Vec<String> = self
            .extra
            .iter()
            .map(|(k, v)| format!("{k}={v:.3}"))
            .collect();
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.3} | {:.0} | {:.2} / {:.2} / {:.2} / {:.2} | {} → {} | {:.0} | {:.0} | {} |",
            self.scenario,
            self.params,
            self.sent,
            self.expected,
            self.received,
            self.lost,
            self.duplicated,
            self.seconds,
            self.deliveries_per_s,
            self.latency.p50_ms,
            self.latency.p99_ms,
            self.latency.p999_ms,
            self.latency.max_ms,
            self.server_rss_before_kib,
            self.server_rss_after_kib,
            self.server_cpu_ms,
            self.bench_cpu_ms,
            extra.join(" "),
        );
    }

    pub fn header() {
        println!(
            "| scenario | params | sent | expected | received | lost | dup | seconds | deliveries/s | latency ms p50 / p99 / p999 / max | server RSS KiB before → after | server CPU ms | bench CPU ms | extra |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    }
}

/// Resident memory of a process in KiB (`VmRSS` in /proc/<pid>/status).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// User + system CPU time of a process in milliseconds (/proc/<pid>/stat).
pub fn cpu_ms(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the ")" that ends the command name: utime is the 12th, stime the 13th.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    // Linux reports in clock ticks of 1/100 s (USER_HZ) on every common platform.
    ticks * 10.0
}

/// Server and bench CPU and memory around a measured section.
pub struct Meter {
    pid: u32,
    rss_before: u64,
    server_cpu: f64,
    bench_cpu: f64,
}

impl Meter {
    pub fn start(pid: u32) -> Self {
        Meter {
            pid,
            rss_before: rss_kib(pid),
            server_cpu: cpu_ms(pid),
            bench_cpu: cpu_ms(std::process::id()),
        }
    }

    pub fn finish(&self, row: &mut Row) {
        row.server_rss_before_kib = self.rss_before;
        row.server_rss_after_kib = rss_kib(self.pid);
        row.server_cpu_ms = cpu_ms(self.pid) - self.server_cpu;
        row.bench_cpu_ms = cpu_ms(std::process::id()) - self.bench_cpu;
    }
}
