//! Runs the real `pitchfork serve` binary for end-to-end tests and stops it
//! by its PID.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

/// A `pitchfork serve` process listening on a unix socket.
pub struct Daemon {
    child: Option<Child>,
    socket: PathBuf,
    log: PathBuf,
}

impl Daemon {
    /// Starts the daemon with `extra` appended to a config whose socket is
    /// `dir/milter.sock` (mode 0666, so Postfix's smtpd may connect), and
    /// waits until the socket accepts connections.
    pub fn start(dir: &Path, extra: &str) -> Daemon {
        let socket = dir.join("milter.sock");
        let config = dir.join("pitchfork.toml");
        let text = format!(
            "socket = \"unix:{}\"\nsocket_mode = \"0666\"\n{extra}\n",
            socket.display()
        );
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
            socket,
            log,
        };
        daemon.wait_until_listening();
        daemon
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&self.socket).is_err() {
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                panic!("pitchfork did not start ({exited:?}):\n{}", self.log());
            }
            sleep(Duration::from_millis(20));
        }
    }

    /// The milter spec Postfix uses to reach this daemon.
    pub fn milter_spec(&self) -> String {
        format!("unix:{}", self.socket.display())
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

    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}
