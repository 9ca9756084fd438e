//! A private, throw-away `redis-server` on a free loopback port, for the
//! tests of the shared state store. Nothing is saved to disk; the server is
//! stopped by its PID when dropped.

use std::{
    io::{BufRead, BufReader, Write},
    net::TcpStream,
    path::Path,
    process::{Child, Command, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// Decides whether a Redis test can run: panics when `redis-server` is
/// missing unless `PITCHFORK_SKIP_MTA_TESTS=1` (which skips it, saying so),
/// the policy of the other tests of real software.
pub fn require_redis() -> bool {
    let problem = (!Path::new(REDIS_SERVER).exists()).then(|| {
        format!("{REDIS_SERVER} not found: run `bash .ci/run` or apt-get install redis-server")
    });
    super::mta::require("Redis", problem)
}

/// A running `redis-server`.
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
}

impl Redis {
    /// Starts a server in `dir` and waits until it answers PING.
    pub fn start(dir: &Path) -> Redis {
        let port = super::postfix::free_port();
        let child = Command::new(REDIS_SERVER)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let redis = Redis {
            child: Some(child),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !redis.answers() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING in 10 s"
            );
            sleep(Duration::from_millis(20));
        }
        redis
    }

    /// The `state` value that selects this server's database 0.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut line = String::new();
        stream.write_all(b"PING\r\n").is_ok()
            && BufReader::new(&stream).read_line(&mut line).is_ok()
            && line.starts_with("+PONG")
    }

    /// Stops the server (SIGTERM by PID) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
