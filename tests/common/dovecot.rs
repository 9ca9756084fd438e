//! A private, throw-away Dovecot (LMTP + IMAP + Sieve) for end-to-end tests,
//! and a minimal IMAP client to read mail back.
//!
//! Postfix hands mail to it over LMTP (`virtual_transport`), Pigeonhole runs
//! a Sieve script for every recipient before their own (`sieve_before`),
//! and the tests read the folders over IMAP the way a user's client would.
//! Every user of any domain exists, has no password and owns a Maildir
//! under the instance directory as `nobody`. Listens on 127.0.0.1 only and
//! never touches `/etc/dovecot`. Config choices follow
//! `/work/shared/MTA-NOTES.md`; the reasons are next to the lines. A test
//! may add its own lines ([`Dovecot::start_with`]), such as the IMAPSieve
//! recipe of `deploy/dovecot/`, and move mail around over IMAP.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::mta;
use super::postfix::{children_of, free_port, set_mode, short_tempdir, signal, wait_until_gone};

const DOVECOT: &str = "/usr/sbin/dovecot";

/// Owner of the mail (`nobody`); Dovecot refuses uids below `first_valid_uid`.
const MAIL_UID: u32 = 65534;

/// Decides whether a Dovecot end-to-end test can run here: like
/// [`require_postfix`](super::postfix::require_postfix) (which a caller
/// delivering through Postfix also needs), it panics when something is missing unless
/// `PITCHFORK_SKIP_MTA_TESTS=1`, which skips the test with a `SKIPPED:` line.
pub fn require_dovecot() -> bool {
    super::mta::require("Dovecot", missing_prerequisite())
}

fn missing_prerequisite() -> Option<String> {
    let needed = [
        DOVECOT,
        "/usr/lib/dovecot/lmtp",
        "/usr/lib/dovecot/imap",
        "/usr/lib/dovecot/modules/lib90_sieve_plugin.so",
        // IMAPSieve and `pipe` (deploy/dovecot/), also from dovecot-sieve.
        "/usr/lib/dovecot/modules/lib95_imap_sieve_plugin.so",
        "/usr/lib/dovecot/modules/sieve/lib90_sieve_imapsieve_plugin.so",
        "/usr/lib/dovecot/modules/sieve/lib90_sieve_extprograms_plugin.so",
        "/usr/bin/sievec",
    ];
    if let Some(missing) = needed.iter().find(|p| !Path::new(p).exists()) {
        return Some(format!(
            "{missing} not found: run `bash .ci/run` or apt-get install \
             dovecot-core dovecot-lmtpd dovecot-imapd dovecot-sieve"
        ));
    }
    match fs::metadata("/proc/self").map(|m| m.uid()) {
        Ok(0) => None,
        Ok(uid) => Some(format!("Dovecot tests must run as root, not as uid {uid}")),
        Err(e) => Some(format!("cannot tell whether we run as root: {e}")),
    }
}

/// A running private Dovecot; stopped when dropped.
pub struct Dovecot {
    dir: TempDir,
    imap_port: u16,
}

impl Dovecot {
    /// Starts Dovecot with `sieve` as every user's `sieve_before` script.
    ///
    /// Panics, with the Dovecot log, when it does not come up.
    pub fn start(sieve: &Path) -> Dovecot {
        Self::start_with(sieve, "")
    }

    /// Like [`start`](Self::start), with `extra` appended to the generated
    /// `dovecot.conf` (later settings win; `plugin {}` blocks merge).
    pub fn start_with(sieve: &Path, extra: &str) -> Dovecot {
        let dovecot = Dovecot {
            // Short: Dovecot's own sockets below it must fit in 107 bytes.
            dir: short_tempdir("dv"),
            imap_port: free_port(),
        };
        dovecot.write_config(sieve, extra);
        dovecot.boot();
        dovecot
    }

    /// The generated configuration file, for Dovecot's own tools
    /// (`sievec -c`, `doveconf -c`).
    pub fn config_path(&self) -> PathBuf {
        self.dir().join("dovecot.conf")
    }

    /// What Postfix's `virtual_transport` must say to deliver here.
    pub fn lmtp_transport(&self) -> String {
        format!("lmtp:unix:{}", self.run_dir().join("lmtp").display())
    }

    /// Logs in over IMAP as `user` (any password works).
    pub fn imap(&self, user: &str) -> Imap {
        Imap::login(self.imap_port, user)
            .unwrap_or_else(|e| panic!("IMAP login as {user}: {e}\n{}", self.log()))
    }

    /// Waits until `user`'s `folders` together hold at least `count`
    /// messages, asking over IMAP. Panics with the log on timeout.
    pub fn wait_for_messages(&self, user: &str, folders: &[&str], count: usize, timeout: Duration) {
        let total = || {
            let mut imap = self.imap(user);
            folders.iter().map(|f| imap.message_count(f)).sum::<usize>()
        };
        mta::wait_until(
            timeout,
            || (total() >= count).then_some(()),
            || {
                format!(
                    "{} of {count} messages in {folders:?} after {timeout:?}\n{}",
                    total(),
                    self.log()
                )
            },
        );
    }

    /// Dovecot's log so far (LMTP deliveries, Sieve actions).
    pub fn log(&self) -> String {
        let text = fs::read_to_string(self.dir().join("dovecot.log")).unwrap_or_default();
        format!("--- Dovecot log ---\n{text}")
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn run_dir(&self) -> PathBuf {
        self.dir().join("run")
    }

    fn write_config(&self, sieve: &Path, extra: &str) {
        for sub in ["run", "state", "mail", "sieve"] {
            let path = self.dir().join(sub);
            fs::create_dir(&path).expect("create Dovecot directory");
            set_mode(&path, 0o755);
        }
        // Pigeonhole stores the compiled script next to it, as the mail user.
        let script = self.dir().join("sieve/before.sieve");
        fs::copy(sieve, &script).expect("copy the Sieve script");
        for path in [self.dir().join("mail"), self.dir().join("sieve"), script] {
            std::os::unix::fs::chown(&path, Some(MAIL_UID), Some(MAIL_UID)).expect("chown");
        }
        let config = format!("{}{extra}", self.config());
        fs::write(self.config_path(), config).expect("write dovecot.conf");
    }

    fn config(&self) -> String {
        let dir = self.dir().display();
        let port = self.imap_port;
        format!(
            "\
# Generated by tests/common/dovecot.rs for one test; removed afterwards.
instance_name = pitchfork-{port}
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = lmtp imap
listen = 127.0.0.1
ssl = no
# Loopback only, no TLS: plain LOGIN is what the test client speaks.
disable_plaintext_auth = no
first_valid_uid = {MAIL_UID}
mail_location = maildir:~/Maildir
# `fileinto` a folder that does not exist yet creates it.
lda_mailbox_autocreate = yes
lda_mailbox_autosubscribe = yes

# Every user exists, needs no password and is `nobody` on disk. Dovecot
# wants a passdb even for LMTP.
passdb {{
  driver = static
  args = nopassword=y
}}
userdb {{
  driver = static
  args = uid={MAIL_UID} gid={MAIL_UID} home={dir}/mail/%d/%n allow_all_users=yes
}}

service lmtp {{
  # Postfix's lmtp client connects as user postfix.
  unix_listener lmtp {{
    mode = 0666
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
protocol lmtp {{
  mail_plugins = $mail_plugins sieve
}}
plugin {{
  sieve_before = {dir}/sieve/before.sieve
}}
"
        )
    }

    fn boot(&self) {
        // Not `output()`: the daemon's children inherit stdout and stderr,
        // so reading them to the end would wait for Dovecot to stop.
        let startup = self.dir().join("startup.log");
        let status = Command::new(DOVECOT)
            .arg("-c")
            .arg(self.dir().join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&startup).expect("create startup.log"))
            .status()
            .expect("run dovecot");
        assert!(
            status.success(),
            "dovecot did not start: {status}\n{}\n{}",
            fs::read_to_string(&startup).unwrap_or_default(),
            self.log()
        );
        mta::wait_until(
            Duration::from_secs(10),
            || (self.run_dir().join("lmtp").exists() && self.answers_imap()).then_some(()),
            || format!("Dovecot did not listen within 10 s\n{}", self.log()),
        );
    }

    fn answers_imap(&self) -> bool {
        TcpStream::connect(("127.0.0.1", self.imap_port)).is_ok()
    }

    fn master_pid(&self) -> Option<u32> {
        let text = fs::read_to_string(self.run_dir().join("master.pid")).ok()?;
        text.trim().parse().ok()
    }

    /// TERM to the master, which stops its children; it takes about a
    /// second to exit.
    fn stop(&self) {
        let Some(master) = self.master_pid() else {
            return;
        };
        let mut pids = children_of(master);
        pids.push(master);
        signal(master, "TERM");
        if !wait_until_gone(&pids, Duration::from_secs(10)) {
            eprintln!(
                "warning: Dovecot in {} ignored TERM, killing it",
                self.dir().display()
            );
            pids.iter().for_each(|&pid| signal(pid, "KILL"));
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Just enough IMAP4rev1 (RFC 3501) to read headers back and file mail the
/// way a user's client does: LOGIN, STATUS, EXAMINE, FETCH, CREATE, APPEND,
/// SELECT, UID SEARCH, UID MOVE (RFC 6851), LOGOUT.
pub struct Imap {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    tag: u32,
}

impl Imap {
    fn login(port: u16, user: &str) -> std::io::Result<Imap> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let reader = BufReader::new(stream.try_clone()?);
        let mut imap = Imap {
            stream,
            reader,
            tag: 0,
        };
        let greeting = imap.read_line()?;
        if !greeting.starts_with("* OK") {
            return Err(std::io::Error::other(format!("greeting: {greeting}")));
        }
        let (status, _) = imap.command(&format!("LOGIN \"{user}\" \"any\""))?;
        if !status.starts_with("OK") {
            return Err(std::io::Error::other(format!("LOGIN: {status}")));
        }
        Ok(imap)
    }

    /// Messages in `folder`; 0 when the folder does not exist (yet).
    pub fn message_count(&mut self, folder: &str) -> usize {
        let (status, untagged) = self
            .command(&format!("STATUS \"{folder}\" (MESSAGES)"))
            .expect("IMAP STATUS");
        if !status.starts_with("OK") {
            return 0;
        }
        untagged
            .iter()
            .find_map(|line| {
                let count = line.split("(MESSAGES ").nth(1)?;
                count.trim_end_matches([')', '\r', '\n']).parse().ok()
            })
            .unwrap_or(0)
    }

    /// The header section of every message in `folder`, in order.
    pub fn headers(&mut self, folder: &str) -> Vec<String> {
        let (status, _) = self
            .command(&format!("EXAMINE \"{folder}\""))
            .expect("IMAP EXAMINE");
        assert!(status.starts_with("OK"), "EXAMINE {folder}: {status}");
        let (status, untagged) = self
            .command("FETCH 1:* (BODY.PEEK[HEADER])")
            .expect("IMAP FETCH");
        assert!(status.starts_with("OK"), "FETCH in {folder}: {status}");
        untagged
            .into_iter()
            .filter(|item| item.contains(" FETCH "))
            .collect()
    }

    /// Creates `folder`; one that exists already is fine.
    pub fn create(&mut self, folder: &str) {
        let (status, _) = self
            .command(&format!("CREATE \"{folder}\""))
            .expect("IMAP CREATE");
        assert!(
            status.starts_with("OK") || status.contains("[ALREADYEXISTS]"),
            "CREATE {folder}: {status}"
        );
    }

    /// Uploads `message` into `folder`, as a client saving a draft or
    /// filing a message from another account does (RFC 3501 APPEND with a
    /// synchronising literal).
    pub fn append(&mut self, folder: &str, message: &[u8]) {
        let message = crlf(message);
        self.tag += 1;
        let tag = format!("p{}", self.tag);
        let command = format!("{tag} APPEND \"{folder}\" {{{}}}\r\n", message.len());
        self.stream
            .write_all(command.as_bytes())
            .expect("send APPEND");
        let go_ahead = self.read_line().expect("APPEND continuation");
        assert!(go_ahead.starts_with('+'), "APPEND {folder}: {go_ahead}");
        self.stream
            .write_all(&message)
            .expect("send APPEND literal");
        self.stream.write_all(b"\r\n").expect("end APPEND");
        let (status, _) = self.responses(&tag).expect("APPEND status");
        assert!(status.starts_with("OK"), "APPEND {folder}: {status}");
    }

    /// Selects `folder` for the UID commands below.
    pub fn select(&mut self, folder: &str) {
        let (status, _) = self
            .command(&format!("SELECT \"{folder}\""))
            .expect("IMAP SELECT");
        assert!(status.starts_with("OK"), "SELECT {folder}: {status}");
    }

    /// The UID of the message with `message_id` (without angle brackets)
    /// in the selected folder, if it is there.
    pub fn uid_of(&mut self, message_id: &str) -> Option<u32> {
        let (status, untagged) = self
            .command(&format!("UID SEARCH HEADER Message-ID \"<{message_id}>\""))
            .expect("IMAP UID SEARCH");
        assert!(status.starts_with("OK"), "SEARCH {message_id}: {status}");
        untagged
            .iter()
            .find_map(|line| line.strip_prefix("* SEARCH"))
            .and_then(|uids| uids.split_whitespace().next()?.parse().ok())
    }

    /// Moves the message with `message_id` from the selected folder into
    /// `to`, the way a client's drag and drop does; panics when it is not
    /// there or the server refuses.
    pub fn move_message(&mut self, message_id: &str, to: &str) {
        let uid = self
            .uid_of(message_id)
            .unwrap_or_else(|| panic!("<{message_id}> not in the selected folder"));
        let (status, _) = self
            .command(&format!("UID MOVE {uid} \"{to}\""))
            .expect("IMAP UID MOVE");
        assert!(
            status.starts_with("OK"),
            "MOVE <{message_id}> to {to}: {status}"
        );
    }

    /// Sends one tagged command; returns the tagged status (`OK ...`,
    /// `NO ...`) and the untagged responses, each with its literals inlined.
    fn command(&mut self, command: &str) -> std::io::Result<(String, Vec<String>)> {
        self.tag += 1;
        let tag = format!("p{}", self.tag);
        write!(self.stream, "{tag} {command}\r\n")?;
        self.responses(&tag)
    }

    /// Reads responses up to `tag`'s status: that status and the untagged
    /// responses before it.
    fn responses(&mut self, tag: &str) -> std::io::Result<(String, Vec<String>)> {
        let mut untagged = Vec::new();
        loop {
            let response = self.read_response()?;
            if let Some(status) = response.strip_prefix(&format!("{tag} ")) {
                return Ok((status.to_owned(), untagged));
            }
            untagged.push(response);
        }
    }

    /// One response: a line, plus any `{N}` literal and what follows it.
    fn read_response(&mut self) -> std::io::Result<String> {
        let mut response = String::new();
        loop {
            let line = self.read_line()?;
            response.push_str(&line);
            let Some(size) = literal_size(&line) else {
                return Ok(response);
            };
            let mut literal = vec![0; size];
            self.reader.read_exact(&mut literal)?;
            response.push_str(&String::from_utf8_lossy(&literal));
        }
    }

    fn read_line(&mut self) -> std::io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("IMAP server closed the connection"));
        }
        Ok(line)
    }
}

impl Drop for Imap {
    fn drop(&mut self) {
        let _ = self.command("LOGOUT");
    }
}

/// `message` with every line ending CRLF, as IMAP wants it on the wire.
fn crlf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 40);
    for (i, &byte) in message.iter().enumerate() {
        if byte == b'\n' && (i == 0 || message[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(byte);
    }
    out
}

/// The size of the literal announced at the end of `line` (`... {123}\r\n`).
fn literal_size(line: &str) -> Option<usize> {
    let open = line.trim_end().strip_suffix('}')?;
    open.rsplit_once('{')?.1.parse().ok()
}
