//! `--sign-in-flood N`: N clients send sign-in attempts with wrong passwords while the
//! scenarios run, each answered before the next. Every attempt names a new username, so
//! no lock-out refuses it before the password hash: what is left between the flood and
//! the server's CPU is the bounded hash pool (one hash per core; a wait over 2 s is a
//! 429). The bench's own server lifts the per-IP limits, so this is the flood that got
//! past them (many addresses, or one limit set too high).

use crate::client::Server;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub struct Flood {
    stop: Arc<AtomicBool>,
    statuses: Arc<Mutex<BTreeMap<u16, u64>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    started: Instant,
}

pub fn start(server: &Server, clients: usize) -> Flood {
    let stop = Arc::new(AtomicBool::new(false));
    let statuses = Arc::new(Mutex::new(BTreeMap::new()));
    let tasks = (0..clients)
        .map(|c| {
            let server = server.clone();
            let (stop, statuses) = (stop.clone(), statuses.clone());
            tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let status = server
                        .sign_in_status(&format!("flood{c}x{i}"), "wrong-password")
                        .await
                        .unwrap_or(0);
                    if let Ok(mut s) = statuses.lock() {
                        *s.entry(status).or_insert(0) += 1;
                    }
                }
            })
        })
        .collect();
    Flood {
        stop,
        statuses,
        tasks,
        started: Instant::now(),
    }
}

impl Flood {
    /// Stops the flood; a line on what it sent and got.
    pub async fn stop(self) -> String {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        let secs = self.started.elapsed().as_secs_f64();
        let statuses = self.statuses.lock().map(|s| s.clone()).unwrap_or_default();
        let total: u64 = statuses.values().sum();
        let by_status: Vec<String> = statuses
            .iter()
            .map(|(status, n)| format!("{n}× {status}"))
            .collect();
        format!(
            "sign-in flood: {total} attempts in {secs:.1} s ({:.0}/s): {}",
            total as f64 / secs.max(0.001),
            by_status.join(", ")
        )
    }
}
