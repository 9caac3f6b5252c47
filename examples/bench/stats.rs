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

    /// One row for several runs of a scenario: counts summed (so a loss in any run shows),
    /// every other figure the median of the runs, and for each key in `spread` its
    /// minimum and maximum too (`<key>_min`, `<key>_max`).
    pub fn median_of(runs: &[Row], spread: &[&str]) -> Row {
        let median = |f: &dyn Fn(&Row) -> f64| {
            let mut v: Vec<f64> = runs.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            match v.len() {
                0 => 0.0,
                n if n % 2 == 1 => v[n / 2],
                n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
            }
        };
        let sum = |f: &dyn Fn(&Row) -> u64| runs.iter().map(f).sum();
        let extra_of = |r: &Row, key: &str| {
            r.extra
                .iter()
                .find(|(k, _)| k == key)
                .map_or(f64::NAN, |(_, v)| *v)
        };
        let first = runs.first().cloned().unwrap_or_default();
        let mut extra = Vec::new();
        for (key, _) in &first.extra {
            extra.push((key.clone(), median(&|r| extra_of(r, key))));
            if spread.contains(&key.as_str()) {
                let values = runs.iter().map(|r| extra_of(r, key));
                extra.push((
                    format!("{key}_min"),
                    values.clone().fold(f64::INFINITY, f64::min),
                ));
                extra.push((
                    format!("{key}_max"),
                    values.fold(f64::NEG_INFINITY, f64::max),
                ));
            }
        }
        Row {
            scenario: format!("{} (median of {})", first.scenario, runs.len()),
            params: first.params,
            sent: sum(&|r| r.sent),
            expected: sum(&|r| r.expected),
            received: sum(&|r| r.received),
            lost: sum(&|r| r.lost),
            duplicated: sum(&|r| r.duplicated),
            seconds: median(&|r| r.seconds),
            deliveries_per_s: median(&|r| r.deliveries_per_s),
            latency: Latency {
                p50_ms: median(&|r| r.latency.p50_ms),
                p99_ms: median(&|r| r.latency.p99_ms),
                p999_ms: median(&|r| r.latency.p999_ms),
                max_ms: median(&|r| r.latency.max_ms),
            },
            server_rss_before_kib: median(&|r| r.server_rss_before_kib as f64) as u64,
            server_rss_after_kib: median(&|r| r.server_rss_after_kib as f64) as u64,
            server_cpu_ms: median(&|r| r.server_cpu_ms),
            bench_cpu_ms: median(&|r| r.bench_cpu_ms),
            extra,
        }
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

/// Server and bench CPU and memory around a measured section. With several server
/// processes (a cluster: the senders' node first), RSS and CPU are their sums and each
/// node's CPU is also given on its own.
pub struct Meter {
    pids: Vec<u32>,
    rss_before: u64,
    server_cpu: Vec<f64>,
    bench_cpu: f64,
}

impl Meter {
    pub fn start(pids: &[u32]) -> Self {
        Meter {
            pids: pids.to_vec(),
            rss_before: pids.iter().map(|&p| rss_kib(p)).sum(),
            server_cpu: pids.iter().map(|&p| cpu_ms(p)).collect(),
            bench_cpu: cpu_ms(std::process::id()),
        }
    }

    /// Fills the row's memory and CPU figures; returns each node's CPU ms.
    pub fn finish(&self, row: &mut Row) -> Vec<f64> {
        let per_node: Vec<f64> = self
            .pids
            .iter()
            .zip(&self.server_cpu)
            .map(|(&p, before)| cpu_ms(p) - before)
            .collect();
        row.server_rss_before_kib = self.rss_before;
        row.server_rss_after_kib = self.pids.iter().map(|&p| rss_kib(p)).sum();
        row.server_cpu_ms = per_node.iter().sum();
        row.bench_cpu_ms = cpu_ms(std::process::id()) - self.bench_cpu;
        if per_node.len() > 1 {
            for (i, ms) in per_node.iter().enumerate() {
                row.extra.push((format!("node{}_cpu_ms", i + 1), *ms));
            }
        }
        per_node
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ms: f64, p99: f64, lost: u64) -> Row {
        Row {
            scenario: "burst".into(),
            sent: 10,
            lost,
            latency: Latency {
                p99_ms: p99,
                ..Latency::default()
            },
            extra: vec![
                ("first_send_to_last_delivery_ms".into(), ms),
                ("acked".into(), 10.0),
            ],
            ..Row::default()
        }
    }

    #[test]
    fn median_of_sums_counts_and_takes_medians() {
        let runs = [
            run(9.0, 8.0, 0),
            run(12.0, 11.0, 1),
            run(7.0, 6.0, 0),
            run(30.0, 29.0, 0),
        ];
        let m = Row::median_of(&runs, &["first_send_to_last_delivery_ms"]);
        assert_eq!(m.scenario, "burst (median of 4)");
        assert_eq!((m.sent, m.lost), (40, 1));
        assert_eq!(m.latency.p99_ms, 9.5);
        let extra = |k: &str| m.extra.iter().find(|(key, _)| key == k).map(|(_, v)| *v);
        assert_eq!(extra("first_send_to_last_delivery_ms"), Some(10.5));
        assert_eq!(extra("first_send_to_last_delivery_ms_min"), Some(7.0));
        assert_eq!(extra("first_send_to_last_delivery_ms_max"), Some(30.0));
        assert_eq!(extra("acked"), Some(10.0));
        assert_eq!(extra("acked_min"), None);
    }

    #[test]
    fn median_of_an_odd_count_is_the_middle_run() {
        let runs = [run(9.0, 1.0, 0), run(3.0, 2.0, 0), run(5.0, 3.0, 0)];
        let m = Row::median_of(&runs, &[]);
        assert_eq!(m.latency.p99_ms, 2.0);
        assert_eq!(m.extra[0].1, 5.0);
    }
}
