//! Runs the real `pitchfork serve` binary for end-to-end tests and stops it
//! by its PID.

use std::{
    net::{SocketAddr, TcpStream},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

/// Where the daemon listens.
enum Endpoint {
    Unix(PathBuf),
    Inet(SocketAddr),
}

/// A `pitchfork serve` process.
pub struct Daemon {
    child: Option<Child>,
    endpoint: Endpoint,
    log: PathBuf,
    config: PathBuf,
    socket_line: String,
}

/// Each daemon keeps its state in its own directory (never the system's
/// /var/lib/pitchfork), unless the test sets `state` itself.
fn own_state(dir: &Path, extra: &str) -> String {
    if extra
        .lines()
        .any(|line| line.trim_start().starts_with("state "))
    {
        String::new()
    } else {
        format!("state = \"{}\"", dir.join("state.db").display())
    }
}

/// Tests run as root in CI; serving as root must then be allowed (a test
/// that wants the daemon to drop privileges sets `user`, which wins).
const ALLOW_ROOT: &str = "allow_root = true";

impl Daemon {
    /// Starts the daemon with `extra` appended to a config whose socket is
    /// `dir/milter.sock` (mode 0666, so Postfix's smtpd may connect), and
    /// waits until the socket accepts connections.
    pub fn start(dir: &Path, extra: &str) -> Daemon {
        let socket = dir.join("milter.sock");
        let line = format!(
            "socket = \"unix:{}\"\nsocket_mode = \"0666\"",
            socket.display()
        );
        Self::spawn(dir, &line, extra, Endpoint::Unix(socket), Some(DEBUG))
    }

    /// Starts the daemon on a free TCP port on 127.0.0.1.
    pub fn start_inet(dir: &Path, extra: &str) -> Daemon {
        let addr = super::mta::free_addr();
        let line = format!("socket = \"inet:{}@127.0.0.1\"", addr.port());
        Self::spawn(dir, &line, extra, Endpoint::Inet(addr), Some(DEBUG))
    }

    /// Starts the daemon on a free TCP port without `RUST_LOG`, so that
    /// `log_level` decides what is logged.
    pub fn start_inet_without_rust_log(dir: &Path, extra: &str) -> Daemon {
        let addr = super::mta::free_addr();
        let line = format!("socket = \"inet:{}@127.0.0.1\"", addr.port());
        Self::spawn(dir, &line, extra, Endpoint::Inet(addr), None)
    }

    fn spawn(
        dir: &Path,
        socket_line: &str,
        extra: &str,
        endpoint: Endpoint,
        rust_log: Option<&str>,
    ) -> Daemon {
        let config = dir.join("pitchfork.toml");
        let socket_line = format!("{socket_line}\n{}", own_state(dir, extra));
        let socket_line = socket_line.trim_end();
        std::fs::write(&config, format!("{socket_line}\n{ALLOW_ROOT}\n{extra}\n")).unwrap();
        let log = dir.join("pitchfork.log");
        let child = serve(&config, &log, rust_log);
        let mut daemon = Daemon {
            child: Some(child),
            endpoint,
            log,
            config,
            socket_line: socket_line.to_owned(),
        };
        daemon.wait_until_listening();
        daemon
    }

    /// Runs `pitchfork serve` on exactly `config` (nothing added) and waits
    /// for it to exit, for configurations it must refuse. Returns the exit
    /// status and what it logged.
    pub fn run_to_exit(dir: &Path, config: &str) -> (std::process::ExitStatus, String) {
        let path = dir.join("pitchfork.toml");
        std::fs::write(&path, config).unwrap();
        let log = dir.join("pitchfork.log");
        let mut child = serve(&path, &log, Some(DEBUG));
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("pitchfork kept running on:\n{config}");
            }
            sleep(Duration::from_millis(20));
        };
        (status, std::fs::read_to_string(&log).unwrap_or_default())
    }

    /// Replaces the configuration file (same socket) without telling the
    /// daemon; [`Daemon::signal`] `"HUP"` makes it reload.
    pub fn rewrite_config(&self, extra: &str) {
        let text = format!("{}\n{ALLOW_ROOT}\n{extra}\n", self.socket_line);
        std::fs::write(&self.config, text).unwrap();
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends a signal by name (`"HUP"`, `"TERM"`, …).
    pub fn signal(&self, name: &str) {
        let pid = self.pid().to_string();
        let status = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} {pid} failed");
    }

    /// Waits until the log has at least `count` lines containing `needle`;
    /// panics with the log after 10 s.
    pub fn wait_for_log(&self, needle: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.log().lines().filter(|l| l.contains(needle)).count() < count {
            assert!(
                Instant::now() < deadline,
                "no {count} log lines with {needle:?}:\n{}",
                self.log()
            );
            sleep(Duration::from_millis(20));
        }
    }

    /// The TCP address, if the daemon listens on one.
    pub fn addr(&self) -> Option<SocketAddr> {
        match &self.endpoint {
            Endpoint::Inet(addr) => Some(*addr),
            Endpoint::Unix(_) => None,
        }
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                panic!("pitchfork did not start ({exited:?}):\n{}", self.log());
            }
            sleep(Duration::from_millis(20));
        }
    }

    fn answers(&self) -> bool {
        match &self.endpoint {
            Endpoint::Unix(path) => UnixStream::connect(path).is_ok(),
            Endpoint::Inet(addr) => TcpStream::connect(addr).is_ok(),
        }
    }

    /// The milter spec Postfix uses to reach this daemon (Postfix writes
    /// inet sockets as `inet:HOST:PORT`).
    pub fn milter_spec(&self) -> String {
        match &self.endpoint {
            Endpoint::Unix(path) => format!("unix:{}", path.display()),
            Endpoint::Inet(addr) => format!("inet:{}:{}", addr.ip(), addr.port()),
        }
    }

    /// What the daemon logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for a clean exit; returns the exit status.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().ok();
            }
            sleep(Duration::from_millis(20));
        }
    }

    /// The unix socket path, if the daemon listens on one.
    pub fn socket(&self) -> Option<&Path> {
        match &self.endpoint {
            Endpoint::Unix(path) => Some(path),
            Endpoint::Inet(_) => None,
        }
    }
}

/// The `RUST_LOG` daemons get unless a test wants `log_level` to decide.
const DEBUG: &str = "pitchfork=debug";

/// Starts `pitchfork serve --config CONFIG` logging to `log`.
fn serve(config: &Path, log: &Path, rust_log: Option<&str>) -> Child {
    let mut command = Command::new(binary());
    command.args(["serve", "--config"]).arg(config);
    match rust_log {
        Some(filter) => command.env("RUST_LOG", filter),
        None => command.env_remove("RUST_LOG"),
    };
    command
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// The `pitchfork` under test: `$PITCHFORK_BIN` when set (CI points it at
/// the installed package, started the way its systemd unit would), else the
/// binary cargo just built.
fn binary() -> PathBuf {
    std::env::var_os("PITCHFORK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_pitchfork")))
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}
