//! Started as root, the real binary refuses to serve as root unless told
//! to, and with `user` set it binds, hands the socket to its owner and
//! group, then runs (every thread of it) as that user.
//!
//! Only root can start it as root: these tests need root like the MTA
//! tests, and fail loudly without it unless `PITCHFORK_SKIP_MTA_TESTS=1`.

mod common;

use common::{client, daemon::Daemon};
use nix::unistd::{Group, User, getgrouplist};
use std::{
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

const SKIP_VAR: &str = "PITCHFORK_SKIP_MTA_TESTS";

fn require_root() -> bool {
    if std::env::var(SKIP_VAR).as_deref() == Ok("1") {
        eprintln!("\nSKIPPED: ROOT-ONLY TEST NOT RUN, {SKIP_VAR}=1 is set\n");
        return false;
    }
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    assert_eq!(
        uid, 0,
        "this test starts pitchfork as root and must run as root \
         (e.g. `bash .ci/run`); set {SKIP_VAR}=1 to skip explicitly"
    );
    true
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new("tests/privileges").join(name)).unwrap()
}

#[test]
fn refuses_to_serve_as_root_unless_allowed() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("milter.sock");
    let socket_line = format!("socket = \"unix:{}\"\n", socket.display());
    let (status, log) = Daemon::run_to_exit(dir.path(), &format!("{socket_line}user = \"root\"\n"));
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(log.contains("refusing to serve as root"), "{log}");
    assert!(!socket.exists(), "bound before refusing");
}

/// `pitchfork serve` on the built-in configuration, started as root, binds
/// and then serves as `nobody`.
#[test]
fn started_as_root_without_a_user_it_serves_as_nobody() {
    if !require_root() {
        return;
    }
    // The built-in `state` lives in /var/lib/pitchfork, which serve
    // creates for the user it switches to; the test removes what it made.
    let state_dir = Path::new("/var/lib/pitchfork");
    let made_here = !state_dir.exists();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pitchfork"))
        .args(["serve", "--socket", "inet:0@127.0.0.1"])
        .env("RUST_LOG", "pitchfork=info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().unwrap()));
    let serving = lines
        .by_ref()
        .map(Result::unwrap)
        .find(|line| line.contains("pitchfork serving"))
        .expect("the daemon announced itself");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    assert!(
        serving.contains(&format!("uid={}", nobody.uid)),
        "{serving}"
    );
    if made_here {
        let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(state_dir).unwrap());
        std::fs::remove_dir_all(state_dir).unwrap();
        assert_eq!(
            owner,
            nobody.uid.as_raw(),
            "the state directory belongs to nobody"
        );
    }
}

/// The `Uid:`/`Gid:`/`Groups:` lines of every thread of a process.
fn thread_ids(pid: u32) -> Vec<(PathBuf, String)> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    tasks
        .map(|task| {
            let path = task.unwrap().path().join("status");
            let status = std::fs::read_to_string(&path).unwrap();
            let ids = status
                .lines()
                .filter(|l| {
                    l.starts_with("Uid:") || l.starts_with("Gid:") || l.starts_with("Groups:")
                })
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join("; ");
            (path, ids)
        })
        .collect()
}

#[tokio::test]
async fn drops_to_the_configured_user_after_binding() {
    if !require_root() {
        return;
    }
    let nobody = User::from_name("nobody").unwrap().expect("user nobody");
    let group = Group::from_gid(nobody.gid)
        .unwrap()
        .expect("nobody's group");
    let (uid, gid) = (nobody.uid.as_raw(), nobody.gid.as_raw());
    let dir = tempfile::tempdir().unwrap();
    // nobody must read its configuration (reload) and remove its socket
    std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
    let extra = format!(
        "user = \"nobody\"\nsocket_owner = \"nobody\"\nsocket_group = \"{}\"",
        group.name
    );
    let mut daemon = Daemon::start(dir.path(), &extra);
    let socket = daemon.socket().unwrap().to_owned();
    // The socket accepts connections as soon as it is bound, before the
    // privileges are dropped; "serving" is logged after the drop.
    daemon.wait_for_log("pitchfork serving", 1);

    // supplementary groups as initgroups(3) gives them; the kernel sorts them
    let name = std::ffi::CString::new("nobody").unwrap();
    let mut groups: Vec<u32> = getgrouplist(&name, nobody.gid)
        .unwrap()
        .iter()
        .map(|g| g.as_raw())
        .collect();
    groups.sort_unstable();
    groups.dedup();
    let groups: Vec<String> = groups.iter().map(u32::to_string).collect();
    let expected = format!(
        "Uid: {uid} {uid} {uid} {uid}; Gid: {gid} {gid} {gid} {gid}; Groups: {}",
        groups.join(" ")
    );
    for (path, ids) in thread_ids(daemon.pid()) {
        assert_eq!(ids, expected, "{}", path.display());
    }
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (uid, gid));

    // it serves, and reloads, as nobody
    let mut conn = client::connect_unix(&socket).await;
    let (actions, _) = client::send(&mut conn, &fixture("pitch.eml"), "P1").await;
    assert_eq!(
        client::header(&actions, "X-Pitchfork-Flag").as_deref(),
        Some("YES")
    );
    conn.close().await.unwrap();
    daemon.signal("HUP");
    daemon.wait_for_log("configuration reloaded", 1);

    let exit = daemon.stop().unwrap();
    assert!(exit.success(), "{exit:?}\n{}", daemon.log());
    assert!(!socket.exists(), "nobody could not remove its socket");
}
