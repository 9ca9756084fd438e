//! Milter processes the load tool starts: `pitchfork serve` on a temporary
//! configuration and the do-nothing milter (this same binary, `noop`).
//! Each is stopped by its PID when dropped.

use crate::{client::Endpoint, noop::Flavor, proto::Negotiated};
use std::{
    fmt::Write as _,
    fs,
    net::{TcpListener, TcpStream},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

/// Which socket a milter listens on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    Unix,
    Inet,
}

/// Resident memory of a process, from `/proc/PID/status`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// `VmRSS`, KiB.
    pub rss: u64,
    /// `VmHWM`: the peak of `VmRSS`, KiB.
    pub peak: u64,
}

/// A running milter process.
pub struct Daemon {
    pub name: &'static str,
    pub endpoint: Endpoint,
    child: Option<Child>,
    log: PathBuf,
}

/// Starts `pitchfork serve` with `extra` configuration lines; stderr (its
/// log) goes to a file in `dir`.
pub fn pitchfork(dir: &Path, transport: Transport, extra: &str) -> Result<Daemon, String> {
    pitchfork_binary(
        dir,
        transport,
        extra,
        Path::new(env!("CARGO_BIN_EXE_pitchfork")),
        "pitchfork",
    )
}

/// [`pitchfork`] from another build of it, for before/after comparisons.
pub fn pitchfork_binary(
    dir: &Path,
    transport: Transport,
    extra: &str,
    binary: &Path,
    name: &'static str,
) -> Result<Daemon, String> {
    let (socket, endpoint) = socket(dir, name, transport);
    let config = dir.join(format!("{name}.toml"));
    // The load tool runs as root (Postfix needs it); the daemon would
    // otherwise refuse to. The state store, on as shipped, lives in the
    // run's directory unless `extra` names one.
    let names_state = |line: &str| line.split('=').next().map(str::trim) == Some("state");
    let state = if extra.lines().any(names_state) {
        String::new()
    } else {
        format!(
            "state = \"{}\"\n",
            dir.join(format!("{name}-state.db")).display()
        )
    };
    let text = format!(
        "socket = \"{socket}\"\nsocket_mode = \"0666\"\nallow_root = true\n{state}{extra}\n"
    );
    fs::write(&config, text).map_err(|e| format!("cannot write {}: {e}", config.display()))?;
    let mut command = Command::new(binary);
    command.args(["serve", "--config"]).arg(&config);
    Daemon::spawn(name, command, endpoint, dir.join(format!("{name}.log")))
}

/// Starts the do-nothing milter (this binary, `noop`), answering OPTNEG
/// with `negotiated`. `plain_tcp` leaves Nagle and delayed ACKs as
/// libmilter does.
pub fn noop(
    dir: &Path,
    transport: Transport,
    negotiated: &Negotiated,
    flavor: Flavor,
    plain_tcp: bool,
) -> Result<Daemon, String> {
    // One socket and log per flavour: two noop milters run side by side.
    let name = match flavor {
        Flavor::Raw => "noop-raw",
        Flavor::Indymilter => "noop-indymilter",
    };
    let (socket, endpoint) = socket(dir, name, transport);
    let exe = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
    let mut command = Command::new(exe);
    command
        .args(["noop", "--socket", &socket, "--optneg"])
        .arg(hex(&negotiated.encode()))
        .args(["--flavor", flavor.name()]);
    if plain_tcp {
        command.arg("--plain-tcp");
    }
    Daemon::spawn(name, command, endpoint, dir.join(format!("{name}.log")))
}

/// A fresh directory under /tmp: unix socket paths must stay short.
pub fn temp_dir(prefix: &str) -> Result<tempfile::TempDir, String> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .map_err(|e| format!("cannot create a directory in /tmp: {e}"))
}

fn socket(dir: &Path, name: &str, transport: Transport) -> (String, Endpoint) {
    match transport {
        Transport::Unix => {
            let path = dir.join(format!("{name}.sock"));
            (format!("unix:{}", path.display()), Endpoint::Unix(path))
        }
        Transport::Inet => {
            let addr = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free loopback port");
            (
                format!("inet:{}@127.0.0.1", addr.port()),
                Endpoint::Inet(addr),
            )
        }
    }
}

impl Daemon {
    fn spawn(
        name: &'static str,
        mut command: Command,
        endpoint: Endpoint,
        log: PathBuf,
    ) -> Result<Self, String> {
        let stderr = fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let child = command
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let mut daemon = Self {
            name,
            endpoint,
            child: Some(child),
            log,
        };
        daemon.wait_until_listening()?;
        Ok(daemon)
    }

    fn wait_until_listening(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answers = match &self.endpoint {
                Endpoint::Unix(path) => UnixStream::connect(path).is_ok(),
                Endpoint::Inet(addr) => TcpStream::connect(addr).is_ok(),
            };
            if answers {
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                return Err(format!(
                    "{} did not start ({exited:?}):\n{}",
                    self.name,
                    self.log_text()
                ));
            }
            sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Current and peak resident memory.
    pub fn memory(&self) -> Memory {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        Memory {
            rss: field("VmRSS:"),
            peak: field("VmHWM:"),
        }
    }

    /// CPU time used so far, user and system, in clock ticks (fields 14
    /// and 15 of `/proc/PID/stat`; 100 per second on Linux).
    pub fn cpu_ticks(&self) -> u64 {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // The command name may hold spaces: count fields after its `)`.
        let fields = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        fields
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|v| v.parse::<u64>().ok())
            .sum()
    }

    /// Resets the peak (`VmHWM`) to the current RSS (Linux `clear_refs`).
    pub fn reset_peak(&self) -> Result<(), String> {
        fs::write(format!("/proc/{}/clear_refs", self.pid()), "5")
            .map_err(|e| format!("cannot reset the peak RSS of {}: {e}", self.name))
    }

    /// The log written so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then SIGKILL after 5 s; always by PID.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Reverse of [`hex`].
pub fn unhex(text: &str) -> Result<Vec<u8>, String> {
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("not hex: {text}"))
        })
        .collect()
}
