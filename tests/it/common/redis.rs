//! A real Redis server for the cluster tests: Debian's `redis-server` on a free
//! loopback port, without persistence, stopped (killed) when dropped. With a password,
//! as a deployment should have one (anyone on the machine reaches a loopback port):
//! every cluster test connects through `redis://:PASSWORD@…`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TestRedis {
    pub port: u16,
    pub url: String,
    pub password: String,
    child: Option<Child>,
}

impl TestRedis {
    pub async fn start() -> TestRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let password = format!("pw{port}x{}", std::process::id());
        let mut redis = TestRedis {
            port,
            url: format!("redis://:{password}@127.0.0.1:{port}"),
            password,
            child: None,
        };
        redis.restart().await;
        redis
    }

    /// Starts the server (again) on the same port, and waits until it answers.
    pub async fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--requirepass", &self.password])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (apt-get install redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the server (as a crash would: nothing is flushed, clients see the link drop).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
