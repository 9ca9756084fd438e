//! Runs the real `pitchfork serve` binary for end-to-end tests and stops it
//! by its PID.

use std::{
    net::{SocketAddr, TcpListener, TcpStream},
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
}

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
        Self::spawn(dir, &line, extra, Endpoint::Unix(socket))
    }

    /// Starts the daemon on a free TCP port on 127.0.0.1.
    pub fn start_inet(dir: &Path, extra: &str) -> Daemon {
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let line = format!("socket = \"inet:{}@127.0.0.1\"", addr.port());
        Self::spawn(dir, &line, extra, Endpoint::Inet(addr))
    }

    fn spawn(dir: &Path, socket_line: &str, extra: &str, endpoint: Endpoint) -> Daemon {
        let config = dir.join("pitchfork.toml");
        let text = format!("{socket_line}\n{extra}\n");
        std::fs::write(&config, text).unwrap();
        let log = dir.join("pitchfork.log");
        let child = Command::new(env!("CARGO_BIN_EXE_pitchfork"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "pitchfork=debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut daemon = Daemon {
            child: Some(child),
            endpoint,
            log,
        };
        daemon.wait_until_listening();
        daemon
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

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}
