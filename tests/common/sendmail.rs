//! A private, throw-away Sendmail 8.17 for end-to-end milter tests.
//!
//! Debian's `sendmail-bin` conflicts with `postfix` as a package, so the
//! tests run the binaries unpacked with `dpkg -x` into a cache directory
//! (`.ci/run` does it): `$PITCHFORK_SENDMAIL_ROOT`, by default
//! `/var/cache/pitchfork-ci/sendmail`. Each [`Sendmail`] owns its config,
//! queue, log and Maildir in a fresh directory under `/tmp`, listens on a
//! free port on 127.0.0.1 only and never touches `/etc/mail`. Mail for
//! `pitch.test` lands in one Maildir; other recipients are refused, so
//! nothing leaves the machine.
//!
//! Two facts about the CI machine (no FQDN, no syslog daemon; see
//! `/work/shared/MTA-NOTES.md`) shape the setup:
//! - Sendmail wants a host name with a dot before it reads any config and
//!   sleeps 60 s retrying without one. It runs in its own UTS and mount
//!   namespaces (`unshare`) with host name `mta.pitch.test` and a private
//!   `/etc/hosts`; the host's name and files are untouched.
//! - It logs only through syslog(3). In the same namespace `/dev` is a small
//!   tmpfs whose `log` is a datagram socket read by [`SyslogSink`].

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tempfile::TempDir;

use super::mta;
use super::postfix::{
    MAIL_DOMAIN, SendResult, children_of, free_port, list_files, set_mode, short_tempdir, signal,
    transcript, wait_until_gone,
};

const ROOT_VAR: &str = "PITCHFORK_SENDMAIL_ROOT";
const DEFAULT_ROOT: &str = "/var/cache/pitchfork-ci/sendmail";
const SENDMAIL: &str = "usr/libexec/sendmail/sendmail";
const CF_M4: &str = "usr/share/sendmail/cf/m4/cf.m4";
const SWAKS: &str = "/usr/bin/swaks";
const UNSHARE: &str = "/usr/bin/unshare";

/// Owner of delivered mail (`nobody`): the delivery script never runs as root.
const MAIL_UID: u32 = 65534;

/// Decides whether a Sendmail end-to-end test can run here: like
/// [`require_postfix`](super::postfix::require_postfix), it panics when
/// something is missing unless `PITCHFORK_SKIP_MTA_TESTS=1`, which skips
/// the test (returns `false`) with a `SKIPPED:` line on stderr.
pub fn require_sendmail() -> bool {
    super::mta::require("Sendmail", missing_prerequisite())
}

/// Where the unpacked Sendmail packages are.
fn root() -> PathBuf {
    std::env::var_os(ROOT_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT))
}

/// The m4 that came with the unpacked packages, else the system's.
fn m4() -> PathBuf {
    let unpacked = root().join("usr/bin/m4");
    if unpacked.exists() {
        unpacked
    } else {
        PathBuf::from("/usr/bin/m4")
    }
}

fn missing_prerequisite() -> Option<String> {
    let root = root();
    for needed in [root.join(SENDMAIL), root.join(CF_M4), m4()] {
        if !needed.exists() {
            return Some(format!(
                "{} not found: unpack Sendmail with `bash .ci/run`, or \
                 `cd DIR && apt-get download sendmail-bin sendmail-cf sendmail-base m4 \
                 && for d in *.deb; do dpkg -x $d {}; done` (set {ROOT_VAR} for another place)",
                needed.display(),
                root.display()
            ));
        }
    }
    for tool in [SWAKS, UNSHARE] {
        if !Path::new(tool).exists() {
            return Some(format!(
                "{tool} not found: apt-get install swaks util-linux"
            ));
        }
    }
    match fs::metadata("/proc/self").map(|m| m.uid()) {
        Ok(0) => None,
        Ok(uid) => Some(format!(
            "Sendmail tests must run as root (namespaces, `sendmail -C`), not as uid {uid}"
        )),
        Err(e) => Some(format!("cannot tell whether we run as root: {e}")),
    }
}

/// A running private Sendmail; stopped when dropped.
pub struct Sendmail {
    dir: TempDir,
    port: u16,
    sink: Option<SyslogSink>,
}

impl Sendmail {
    /// Starts a private Sendmail whose milter is the one shipped in
    /// `deploy/sendmail.mc`, pointed at `socket` (Sendmail syntax:
    /// `unix:/abs/path` or `inet:PORT@HOST`).
    ///
    /// Panics, with the Sendmail log, when Sendmail does not come up.
    pub fn start(socket: &str) -> Sendmail {
        let mut sendmail = Sendmail {
            dir: short_tempdir("sm"),
            port: free_port(),
            sink: None,
        };
        sendmail.write_config(socket);
        sendmail.sink = Some(SyslogSink::start(
            &sendmail.dir().join("syslog.sock"),
            &sendmail.log_file(),
        ));
        sendmail.boot();
        sendmail
    }

    /// The instance's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Sends `message_file` (headers and body) with swaks in one SMTP session.
    pub fn send(&self, from: &str, to: &str, message_file: &Path) -> SendResult {
        let mut data = std::ffi::OsString::from("@");
        data.push(message_file);
        let output = Command::new(SWAKS)
            .args(["--server", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--helo", "client.example.org", "--from", from, "--to", to])
            .args(["--timeout", "30", "--data"])
            .arg(data)
            .output()
            .expect("run swaks");
        SendResult {
            status: output.status,
            transcript: transcript(&output),
        }
    }

    /// The messages delivered to `pitch.test` so far, oldest first.
    pub fn delivered(&self) -> Vec<String> {
        let mailbox = self.dir().join("maildir").join(MAIL_DOMAIN);
        // The delivery script writes into tmp/ and renames into new/.
        let mut files = list_files(&mailbox.join("new"));
        files.sort();
        files
            .iter()
            .map(|f| fs::read_to_string(f).expect("read delivered message"))
            .collect()
    }

    /// Waits until at least `count` messages are delivered and returns them
    /// all. Panics with the Sendmail log on timeout.
    pub fn wait_for_delivery(&self, count: usize, timeout: Duration) -> Vec<String> {
        mta::wait_until(
            timeout,
            || Some(self.delivered()).filter(|messages| messages.len() >= count),
            || {
                format!(
                    "{} of {count} messages delivered after {timeout:?}\n{}",
                    self.delivered().len(),
                    self.log_dump()
                )
            },
        )
    }

    /// Messages accepted but not delivered yet (queue files `qf*`).
    pub fn queue_count(&self) -> usize {
        list_files(&self.dir().join("queue"))
            .iter()
            .filter(|f| {
                f.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("qf"))
            })
            .count()
    }

    /// Panics with the Sendmail log unless the queue empties within a few
    /// seconds: see [`mta::assert_queue_empties`].
    pub fn assert_queue_empties(&self) {
        mta::assert_queue_empties("Sendmail", || self.queue_count(), || self.log());
    }

    /// What Sendmail logged through syslog so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    /// Waits until the log contains `needle` and returns the log. Sendmail's
    /// lines reach the file through [`SyslogSink`]'s thread, a moment after
    /// Sendmail sends them. Panics with the log on timeout.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        mta::wait_for_log("Sendmail", needle, timeout, || self.log())
    }

    fn log_file(&self) -> PathBuf {
        self.dir().join("sendmail.log")
    }

    fn log_dump(&self) -> String {
        format!("--- Sendmail log ---\n{}", self.log())
    }

    fn write_config(&self, socket: &str) {
        let dir = self.dir();
        let queue = dir.join("queue");
        fs::create_dir(&queue).expect("create queue");
        // Sendmail refuses a queue other users can read.
        set_mode(&queue, 0o700);
        let maildir = dir.join("maildir");
        fs::create_dir(&maildir).expect("create Maildir base");
        std::os::unix::fs::chown(&maildir, Some(MAIL_UID), Some(MAIL_UID)).expect("chown Maildir");
        fs::write(
            dir.join("hosts"),
            "127.0.0.1 mta.pitch.test mta localhost\n",
        )
        .unwrap();
        fs::write(dir.join("service.switch"), "hosts files\naliases files\n").unwrap();
        fs::write(dir.join("aliases"), "postmaster: root\n").unwrap();
        fs::write(dir.join("helpfile"), "").unwrap();
        fs::write(dir.join("deliver"), DELIVER_SCRIPT).unwrap();
        set_mode(&dir.join("deliver"), 0o755);
        fs::write(dir.join("sendmail.mc"), self.mc(socket)).unwrap();
        self.run_m4();
    }

    fn mc(&self, socket: &str) -> String {
        MC_TEMPLATE
            .replace("@ROOT@", &root().display().to_string())
            .replace("@DIR@", &self.dir().display().to_string())
            .replace("@PORT@", &self.port.to_string())
            .replace("@FILTER@", &shipped_filter_line(socket))
    }

    fn run_m4(&self) {
        let output = Command::new(m4())
            .arg(self.dir().join("sendmail.mc"))
            .output()
            .expect("run m4");
        // cf.m4 reports configuration mistakes on stderr with exit 0.
        assert!(
            output.status.success() && output.stderr.is_empty(),
            "m4 failed on sendmail.mc:\n{}",
            transcript(&output)
        );
        fs::write(self.dir().join("sendmail.cf"), output.stdout).unwrap();
    }

    fn boot(&self) {
        // Not `output()`: a daemon that kept stdout or stderr open would
        // make reading them to the end wait until it stops.
        let startup = self.dir().join("startup.log");
        let status = Command::new(UNSHARE)
            .args(["--uts", "--mount", "--propagation", "private"])
            .args(["/bin/sh", "-ec", NAMESPACE_SCRIPT, "sh"])
            .arg(self.dir())
            .arg(root().join(SENDMAIL))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&startup).expect("create startup.log"))
            .status()
            .expect("run unshare");
        if !status.success() {
            panic!(
                "Sendmail did not start: {status}\n{}\n{}",
                fs::read_to_string(&startup).unwrap_or_default(),
                self.log_dump()
            );
        }
        super::mta::wait_for_banner("Sendmail", self.port, Duration::from_secs(10), || {
            self.log_dump()
        });
    }

    /// The daemon's PID is the first line of its pid file.
    fn daemon_pid(&self) -> Option<u32> {
        let text = fs::read_to_string(self.dir().join("sendmail.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// TERM to the daemon, repeated every second: once it survived a single
    /// TERM while a child was busy.
    fn stop(&self) {
        let Some(daemon) = self.daemon_pid() else {
            return;
        };
        let mut pids = children_of(daemon);
        pids.push(daemon);
        for _ in 0..5 {
            signal(daemon, "TERM");
            if wait_until_gone(&pids, Duration::from_secs(1)) {
                return;
            }
        }
        eprintln!(
            "warning: Sendmail in {} ignored TERM, killing it",
            self.dir().display()
        );
        pids.iter().for_each(|&pid| signal(pid, "KILL"));
    }
}

impl Drop for Sendmail {
    /// Stops Sendmail, then its log sink, before the directory is removed.
    fn drop(&mut self) {
        self.stop();
        self.sink.take();
    }
}

/// The `INPUT_MAIL_FILTER` line users copy from `deploy/sendmail.mc`, with
/// its `S=` socket replaced by `socket`: the test runs the shipped flags
/// (`F=T`) and timeouts, not a copy of them.
fn shipped_filter_line(socket: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/sendmail.mc");
    let text = fs::read_to_string(&path).expect("read deploy/sendmail.mc");
    let line = text
        .lines()
        .find(|l| l.starts_with("INPUT_MAIL_FILTER("))
        .expect("deploy/sendmail.mc has an INPUT_MAIL_FILTER line");
    let start = line.find("S=").expect("the filter line has S=") + 2;
    let end = start + line[start..].find(',').expect("S= is followed by a comma");
    format!("{}{socket}{}", &line[..start], &line[end..])
}

/// Receives what Sendmail writes to `/dev/log` (one datagram per line) and
/// appends it to a file, on a thread of the test process.
struct SyslogSink {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SyslogSink {
    fn start(socket: &Path, log: &Path) -> SyslogSink {
        let receiver = UnixDatagram::bind(socket).expect("bind the syslog socket");
        set_mode(socket, 0o666);
        // The timeout lets the thread notice `stop` while Sendmail is quiet.
        receiver
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut file = fs::File::create(log).expect("create the Sendmail log");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0; 64 * 1024];
            while !stopped.load(Ordering::Relaxed) {
                match receiver.recv(&mut buf) {
                    Ok(n) => {
                        let _ = file.write_all(&buf[..n]);
                        let _ = file.write_all(b"\n");
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(_) => return,
                }
            }
        });
        SyslogSink {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SyslogSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs inside the new namespaces: `$1` is the instance directory, `$2` the
/// sendmail binary. The mounts vanish with the namespace when the daemon
/// exits; the host's `/dev` and `/etc/hosts` are never touched.
const NAMESPACE_SCRIPT: &str = r#"
dir=$1
sendmail=$2
hostname mta.pitch.test
mount --bind "$dir/hosts" /etc/hosts
mkdir "$dir/dev"
mount -t tmpfs -o mode=0755,size=64k pitchfork-dev "$dir/dev"
for node in null zero full random urandom tty; do
  touch "$dir/dev/$node"
  mount --bind "/dev/$node" "$dir/dev/$node"
done
touch "$dir/dev/log"
mount --bind "$dir/syslog.sock" "$dir/dev/log"
mount --move "$dir/dev" /dev
"$sendmail" -C "$dir/sendmail.cf" -bi >/dev/null
exec "$sendmail" -C "$dir/sendmail.cf" -L sm-pitchfork -bd -q1m
"#;

/// The delivery "mailer": stdin into a Maildir (`$1`), written to tmp/ and
/// renamed into new/ so readers only ever see whole messages.
const DELIVER_SCRIPT: &str = r#"#!/bin/sh
set -e
dir=$1
mkdir -p "$dir/tmp" "$dir/new" "$dir/cur"
name=$(date +%s.%N).$$
cat > "$dir/tmp/$name"
mv "$dir/tmp/$name" "$dir/new/$name"
"#;

/// sendmail.mc for one instance; `@NAME@` placeholders are filled in by
/// [`Sendmail::mc`]. Rules in LOCAL_NET_CONFIG need a TAB between the
/// pattern and the replacement.
const MC_TEMPLATE: &str = "\
divert(-1)
Generated by tests/common/sendmail.rs for one test; removed afterwards.
divert(0)dnl
include(`@ROOT@/usr/share/sendmail/cf/m4/cf.m4')dnl
VERSIONID(`pitchfork end-to-end test')dnl
dnl Local mail (postmaster, bounces) goes to the delivery script too, never
dnl to /var/mail. Flags: no `w' (no passwd entry needed), `A' for aliases.
define(`LOCAL_MAILER_PATH', `@DIR@/deliver')dnl
define(`LOCAL_MAILER_ARGS', `deliver @DIR@/maildir/_local')dnl
define(`_DEF_LOCAL_MAILER_FLAGS', `lsDFMA')dnl
define(`LOCAL_MAILER_FLAGS', `9')dnl
define(`STATUS_FILE', `@DIR@/sendmail.st')dnl
dnl The smallest OS type: it keeps the paths defined above.
OSTYPE(`gnu')dnl
dnl No DNS, no interface probing: names come from the private hosts file.
define(`confSERVICE_SWITCH_FILE', `@DIR@/service.switch')dnl
define(`confHOSTS_FILE', `@DIR@/hosts')dnl
define(`confBIND_OPTS', `-DNSRCH -DEFNAMES')dnl
define(`confDONT_PROBE_INTERFACES', `True')dnl
define(`confTO_IDENT', `0s')dnl
dnl The instance lives below /tmp, which is world-writable with the sticky bit.
define(`confDONT_BLAME_SENDMAIL', `TrustStickyBit')dnl
define(`QUEUE_DIR', `@DIR@/queue')dnl
define(`confPID_FILE', `@DIR@/sendmail.pid')dnl
define(`HELP_FILE', `@DIR@/helpfile')dnl
define(`ALIAS_FILE', `@DIR@/aliases')dnl
define(`confDEF_USER_ID', `65534:65534')dnl
FEATURE(`nocanonify')dnl
FEATURE(`accept_unresolvable_domains')dnl
FEATURE(`accept_unqualified_senders')dnl
FEATURE(`no_default_msa')dnl
DAEMON_OPTIONS(`Family=inet, Name=MTA-pitchfork, Addr=127.0.0.1, Port=@PORT@')dnl
@FILTER@
MAILER(`local')dnl
MAILER_DEFINITIONS
Mlabfile, P=@DIR@/deliver, F=lsDFMPhnu9, U=65534:65534, S=EnvFromL/HdrFromL, R=EnvToL/HdrToL,
\tA=deliver @DIR@/maildir/pitch.test $u
LOCAL_NET_CONFIG
# The test domain is delivered to the Maildir.
R$+ < @ pitch.test . >\t$#labfile $: $1
# Other envelope recipients are refused; senders (addr_type `e s') must
# still resolve to a real mailer or MAIL FROM fails.
R$* < @ $* > $*\t$: $&{addr_type} $| $1 < @ $2 > $3
Re r $| $*\t$#error $@ 5.7.1 $: \"550 outside the test domain\"
R$* $| $*\t$#local $: $2
";
