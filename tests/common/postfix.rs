//! A private, throw-away Postfix instance for end-to-end milter tests.
//!
//! Each [`Postfix`] owns its own config, queue, log and Maildir in a fresh
//! directory under `/tmp`, listens on a free port on 127.0.0.1 only and never
//! touches `/etc/postfix`. Mail for `pitch.test` lands in one Maildir; mail for
//! any other domain is refused or dies in the `error` transport, so nothing
//! ever leaves the machine and no DNS query is made.
//!
//! The config choices follow what was found when running Postfix 3.7 on the
//! CI machine (Debian 12, root, no systemd, no syslog daemon); see
//! `/work/shared/MTA-NOTES.md`. The reasons are repeated next to the code
//! they shaped.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime};

use tempfile::TempDir;

use super::mta;

const POSTFIX: &str = "/usr/sbin/postfix";
const SWAKS: &str = "/usr/bin/swaks";

/// The only domain this instance delivers; everything else goes nowhere.
pub const MAIL_DOMAIN: &str = "pitch.test";

/// Owner of delivered mail (`nobody`). virtual(8) refuses uids below
/// `virtual_minimum_uid` (100), so the Maildir cannot belong to root.
const MAIL_UID: u32 = 65534;

/// Decides whether an end-to-end MTA test can run here.
///
/// Returns `true` when Postfix and swaks are installed and we are root (a
/// private Postfix instance can only be started by root). Otherwise it
/// panics, so a CI machine without an MTA fails loudly instead of passing
/// silently. Setting `PITCHFORK_SKIP_MTA_TESTS=1` opts out explicitly: the
/// test is then skipped (this returns `false`) with a `SKIPPED:` line on
/// stderr, whether or not Postfix is present.
pub fn require_postfix() -> bool {
    super::mta::require("Postfix", missing_prerequisite())
}

/// Explains the first missing prerequisite of the MTA tests, if any.
fn missing_prerequisite() -> Option<String> {
    for tool in [POSTFIX, SWAKS] {
        if !Path::new(tool).exists() {
            return Some(format!(
                "{tool} not found, postfix is not installed: run `bash .ci/run` \
                 or apt-get install postfix swaks"
            ));
        }
    }
    // The owner of /proc/self is our effective uid: no libc needed.
    match fs::metadata("/proc/self").map(|m| m.uid()) {
        Ok(0) => None,
        Ok(uid) => Some(format!(
            "MTA tests must run as root to start a private Postfix, \
             not as uid {uid}: run them as root, e.g. `bash .ci/run`"
        )),
        Err(e) => Some(format!("cannot tell whether we run as root: {e}")),
    }
}

/// Creates an empty directory `/tmp/<prefix>XXXXXX` with mode 0755.
///
/// Unix socket paths (Postfix's own postlog socket, the milter's socket) are
/// limited to 107 bytes, and Postfix dies silently when one is too long, so
/// everything lives in short `/tmp` paths. Mode 0755 because user `postfix`
/// must be able to search every directory above its queue and above the
/// milter's socket (temp dirs are created 0700). Also useful to tests for
/// the milter's socket directory.
pub fn short_tempdir(prefix: &str) -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .expect("create temp dir under /tmp");
    set_mode(dir.path(), 0o755);
    dir
}

/// What swaks reported for one message.
#[derive(Debug)]
pub struct SendResult {
    /// swaks's exit status: nonzero when the server refused or tempfailed
    /// anything, which is an expected outcome in many tests.
    pub status: ExitStatus,
    /// The whole SMTP conversation (stdout then stderr), for asserting on
    /// reply codes such as `550 5.7.1` or `451 4.7.1`.
    pub transcript: String,
}

impl SendResult {
    /// Whether the server accepted the message.
    pub fn success(&self) -> bool {
        self.status.success()
    }
}

/// A running private Postfix; stopped when dropped.
pub struct Postfix {
    dir: TempDir,
    port: u16,
}

impl Postfix {
    /// Starts a private Postfix whose smtpd uses the milter `milter`
    /// (`unix:/abs/path` or `inet:127.0.0.1:PORT`, Postfix syntax).
    ///
    /// Panics, with the Postfix log, when Postfix does not come up.
    pub fn start(milter: &str) -> Postfix {
        Self::start_with(milter, "")
    }

    /// Like [`Postfix::start`], with `extra` appended to main.cf (e.g.
    /// `virtual_transport = lmtp:unix:/path` to deliver through LMTP).
    pub fn start_with(milter: &str, extra: &str) -> Postfix {
        // Built before anything runs so that a panic below still stops
        // whatever did start, through Drop.
        let postfix = Postfix {
            dir: short_tempdir("pf"),
            port: free_port(),
        };
        postfix.write_config(milter, extra);
        postfix.boot();
        postfix
    }

    /// The SMTP port on 127.0.0.1.
    pub fn smtp_port(&self) -> u16 {
        self.port
    }

    /// The instance's directory (config in `etc/`, queue in `queue/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Sends `message_file` (headers and body) with swaks in one SMTP session.
    pub fn send(&self, from: &str, to: &str, message_file: &Path) -> SendResult {
        // A leading `@` makes swaks read DATA from that file.
        let mut data = OsString::from("@");
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

    /// The messages delivered so far, oldest first.
    pub fn delivered(&self) -> Vec<String> {
        let mailbox = self.mail_base().join(MAIL_DOMAIN);
        // virtual(8) writes into tmp/ and renames into new/, so new/ and
        // cur/ only ever hold complete messages.
        let mut files: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .flat_map(|sub| list_files(&mailbox.join(sub)))
            .collect();
        // Maildir names start with the delivery time.
        files.sort_by_key(|f| f.file_name().map(|n| n.to_owned()));
        files
            .iter()
            .map(|f| fs::read_to_string(f).expect("read delivered message"))
            .collect()
    }

    /// Waits until at least `count` messages are delivered and returns them
    /// all. Panics with the Postfix log on timeout.
    pub fn wait_for_delivery(&self, count: usize, timeout: Duration) -> Vec<String> {
        mta::wait_until(
            timeout,
            || Some(self.delivered()).filter(|messages| messages.len() >= count),
            || {
                format!(
                    "{} of {count} messages delivered after {timeout:?}; {} still queued\n{}",
                    self.delivered().len(),
                    self.queue_count(),
                    self.log_dump()
                )
            },
        )
    }

    /// Messages Postfix holds in its queue (accepted, not yet delivered).
    ///
    /// A tempfailed message must not be here: the client keeps it and
    /// retries, the server never accepted it.
    pub fn queue_count(&self) -> usize {
        ["maildrop", "incoming", "active", "deferred", "hold"]
            .iter()
            .map(|q| count_files(&self.queue_dir().join(q)))
            .sum()
    }

    /// Panics with the Postfix log unless the queue empties within a few
    /// seconds: see [`mta::assert_queue_empties`].
    pub fn assert_queue_empties(&self) {
        mta::assert_queue_empties("Postfix", || self.queue_count(), || self.log());
    }

    /// The Postfix log so far (empty before the first line is written).
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    /// Waits until the log contains `needle` and returns the log. Postfix
    /// writes its log through postlogd, so lines appear slightly after the
    /// SMTP reply. Panics with the log on timeout.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        mta::wait_for_log("Postfix", needle, timeout, || self.log())
    }

    fn etc_dir(&self) -> PathBuf {
        self.dir().join("etc")
    }

    fn queue_dir(&self) -> PathBuf {
        self.dir().join("queue")
    }

    fn mail_base(&self) -> PathBuf {
        self.dir().join("maildir")
    }

    fn log_file(&self) -> PathBuf {
        self.dir().join("postfix.log")
    }

    fn log_dump(&self) -> String {
        format!(
            "--- Postfix log {} ---\n{}",
            self.log_file().display(),
            self.log()
        )
    }

    fn write_config(&self, milter: &str, extra: &str) {
        // The queue must belong to root with mode 0755; `postfix start`
        // creates its subdirectories and the data directory itself.
        for dir in [self.etc_dir(), self.queue_dir(), self.mail_base()] {
            fs::create_dir(&dir).expect("create instance directory");
            set_mode(&dir, 0o755);
        }
        // virtual(8) creates the Maildir as the mail owner.
        std::os::unix::fs::chown(self.mail_base(), Some(MAIL_UID), Some(MAIL_UID))
            .expect("chown Maildir base");
        let etc = self.etc_dir();
        write_backdated(&etc.join("main.cf"), &(self.main_cf(milter) + extra));
        write_backdated(&etc.join("master.cf"), &self.master_cf());
        // Trailing `/` = Maildir. virtual(8) forbids `$1` substitution here,
        // so all recipients share one Maildir (each copy has Delivered-To).
        let vmailbox = format!("/@pitch\\.test$/ {MAIL_DOMAIN}/\n");
        write_backdated(&etc.join("vmailbox.regexp"), &vmailbox);
    }

    fn main_cf(&self, milter: &str) -> String {
        let dir = self.dir().display();
        let etc = self.etc_dir();
        let etc = etc.display();
        let queue = self.queue_dir();
        let queue = queue.display();
        let mail_base = self.mail_base();
        let mail_base = mail_base.display();
        let log = self.log_file();
        let log = log.display();
        format!(
            "\
# Generated by tests/common/postfix.rs for one test; removed afterwards.
compatibility_level = 3.6
config_directory = {etc}
queue_directory = {queue}
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop

# No syslog daemon here: without a log file Postfix logs nothing at all.
# The prefixes list must allow the file (default: /var and /dev/stdout).
maillog_file = {log}
maillog_file_prefixes = {dir}

myhostname = mta.pitch.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8

# Nothing is local (no /etc/aliases needed); only the test domain is
# accepted and delivered, to one Maildir owned by nobody.
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
virtual_mailbox_domains = {MAIL_DOMAIN}
virtual_mailbox_base = {mail_base}
virtual_mailbox_maps = regexp:{etc}/vmailbox.regexp
virtual_uid_maps = static:{MAIL_UID}
virtual_gid_maps = static:{MAIL_UID}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = reject_unauth_destination

# Nothing leaves the machine and no DNS query is made (bounces die here).
default_transport = error:outside_test_domain
relay_transport = error:outside_test_domain
smtp_host_lookup = native

smtpd_milters = {milter}
non_smtpd_milters =
# Postfix's default, spelled out: a broken milter must never let mail
# through unfiltered; the client gets 451 and keeps the message.
milter_default_action = tempfail
milter_protocol = 6
milter_connect_timeout = 10s
milter_command_timeout = 30s
milter_content_timeout = 60s

# Retry deferred mail quickly.
queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 60s
"
        )
    }

    /// Only the services this setup uses. The chroot column (5th) is `n`
    /// everywhere: a chroot would need copies of /etc files in the queue
    /// and would resolve `unix:/abs/path` milter sockets inside it.
    fn master_cf(&self) -> String {
        let port = self.port;
        format!(
            "\
# service type  private unpriv chroot wakeup maxproc command
127.0.0.1:{port} inet n - n - - smtpd
pickup     unix  n - n 60 1 pickup
cleanup    unix  n - n - 0 cleanup
qmgr       unix  n - n 300 1 qmgr
rewrite    unix  - - n - - trivial-rewrite
bounce     unix  - - n - 0 bounce
defer      unix  - - n - 0 bounce
trace      unix  - - n - 0 bounce
verify     unix  - - n - 1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n - - proxymap
proxywrite unix  - - n - 1 proxymap
smtp       unix  - - n - - smtp
relay      unix  - - n - - smtp
showq      unix  n - n - - showq
error      unix  - - n - - error
retry      unix  - - n - - error
discard    unix  - - n - - discard
virtual    unix  - n n - - virtual
lmtp       unix  - - n - - lmtp
anvil      unix  - - n - 1 anvil
scache     unix  - - n - 1 scache
# Every Postfix program sends its log lines to postlogd when
# maillog_file is set.
postlog    unix-dgram n - n - 1 postlogd
"
        )
    }

    fn boot(&self) {
        let output = self.postfix_command("start");
        if !output.status.success() {
            panic!(
                "`postfix start` failed: {}\n{}\n{}\n{}",
                output.status,
                transcript(&output),
                self.start_under_tty(),
                self.log_dump()
            );
        }
        super::mta::wait_for_banner("Postfix", self.port, Duration::from_secs(10), || {
            self.log_dump()
        });
    }

    fn postfix_command(&self, action: &str) -> Output {
        Command::new(POSTFIX)
            .arg("-c")
            .arg(self.etc_dir())
            .arg(action)
            .output()
            .expect("run postfix")
    }

    /// Postfix prints fatal start errors only to syslog or a terminal, never
    /// to a pipe; running it again under `script` gives it a terminal.
    fn start_under_tty(&self) -> String {
        let command = format!("{POSTFIX} -c {} start", self.etc_dir().display());
        match Command::new("script")
            .args(["-qc", &command, "/dev/null"])
            .output()
        {
            Ok(output) => format!("--- `{command}` on a terminal ---\n{}", transcript(&output)),
            Err(e) => format!("(could not run `script`: {e})"),
        }
    }

    /// What `postfix stop` does: TERM to the master, which TERMinates its
    /// children. Collects the children first to wait for them too.
    fn stop(&self) {
        let Some(master) = self.master_pid() else {
            return;
        };
        let mut pids = children_of(master);
        pids.push(master);
        signal(master, "TERM");
        if !wait_until_gone(&pids, Duration::from_secs(5)) {
            eprintln!(
                "warning: Postfix in {} ignored TERM, killing it",
                self.dir().display()
            );
            pids.iter().for_each(|&pid| signal(pid, "KILL"));
        }
    }

    fn master_pid(&self) -> Option<u32> {
        let pid_file = self.queue_dir().join("pid/master.pid");
        fs::read_to_string(pid_file).ok()?.trim().parse().ok()
    }
}

impl Drop for Postfix {
    /// Stops Postfix before its directory is removed.
    fn drop(&mut self) {
        self.stop();
    }
}

pub use super::mta::free_port;

pub fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Writes a file dated 10 s in the past. Postfix re-reads a main.cf that
/// changed in the last couple of seconds until it looks stable, which made
/// every `postfix` command stall for 2.5 s.
fn write_backdated(path: &Path, contents: &str) {
    fs::write(path, contents).expect("write Postfix config");
    let past = SystemTime::now() - Duration::from_secs(10);
    fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(past))
        .expect("back-date Postfix config");
}

pub fn transcript(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    text
}

pub fn list_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect()
}

/// Counts files below `dir`; deferred/ and friends hash into subdirectories.
fn count_files(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .map(|p| if p.is_dir() { count_files(&p) } else { 1 })
        .sum()
}

/// The state letter and parent pid of a process, from /proc/PID/stat.
fn proc_stat(pid: u32) -> Option<(char, u32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in parentheses may contain spaces: parse after it.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

pub fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&pid| proc_stat(pid).is_some_and(|(_, ppid)| ppid == parent))
        .collect()
}

/// PID 1 on the CI machine reaps orphans late, so a stopped daemon can
/// linger as a zombie (state Z) that `kill -0` still reports alive.
fn is_gone(pid: u32) -> bool {
    proc_stat(pid).is_none_or(|(state, _)| matches!(state, 'Z' | 'X'))
}

pub fn wait_until_gone(pids: &[u32], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while !pids.iter().all(|&pid| is_gone(pid)) {
        if Instant::now() > deadline {
            return false;
        }
        sleep(Duration::from_millis(10));
    }
    true
}

/// std has no kill(2); the `kill` program is always there.
pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .output();
}
