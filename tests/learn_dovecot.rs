//! Users teach pitchfork by filing their mail: a private Dovecot runs the
//! IMAPSieve recipe of `deploy/dovecot/` as shipped (only its paths moved
//! into the test's directory), the test files messages into and out of
//! `Pitches` over IMAP the way a mail client does, and `pitchfork learn
//! --stats` and `pitchfork check` show what was learned and that it moves
//! the next similar message's score.

mod common;

use common::{
    dovecot::{self, Dovecot},
    postfix::{set_mode, short_tempdir},
};
use serde_json::Value;
use std::{
    fs,
    os::unix::fs::chown,
    path::{Path, PathBuf},
    process::Command,
};

const PITCHFORK: &str = env!("CARGO_BIN_EXE_pitchfork");
const USER: &str = "user@pitch.test";
/// Stands in for the recipe's group `pitchfork`: Debian's `mail` group
/// exists everywhere, and the mail user (`nobody`) is not a member, so
/// the learns can write the store only through `mail_access_groups`.
const GROUP: &str = "mail";
const MIN_LEARNS: u64 = 3;

const PITCHES: [&str; 4] = ["pitch-1", "pitch-2", "pitch-3", "pitch-4"];
const LEGIT: [&str; 3] = ["legit-1", "legit-2", "legit-3"];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn fixture(name: &str) -> PathBuf {
    repo("tests/learn_dovecot").join(format!("{name}.eml"))
}

fn message_id(name: &str) -> String {
    let text = fs::read_to_string(fixture(name)).expect("read fixture");
    let start = text
        .find("Message-ID: <")
        .expect("fixture has a Message-ID")
        + 13;
    let end = start + text[start..].find('>').expect("Message-ID ends");
    text[start..end].to_owned()
}

/// A shipped recipe file with each `(from, to)` replaced; every `from`
/// must be there, so the test notices when the recipe changes its paths.
fn shipped(name: &str, replacements: &[(&str, &str)]) -> String {
    let path = format!("deploy/dovecot/{name}");
    let mut text = fs::read_to_string(repo(&path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    for (from, to) in replacements {
        assert!(text.contains(from), "{path} no longer says {from}");
        text = text.replace(from, to);
    }
    text
}

fn gid_of(group: &str) -> u32 {
    let groups = fs::read_to_string("/etc/group").expect("read /etc/group");
    groups
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            (fields.next()? == group).then(|| fields.nth(1)?.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no group {group} in /etc/group"))
}

/// The recipe installed under `dir` as deploy/dovecot/README.md says, with
/// a pitchfork configuration whose store is `dir/state/state.db`. Returns
/// the pitchfork configuration file and the Dovecot lines.
fn install_recipe(dir: &Path) -> (PathBuf, String) {
    let (sieve, bin, state) = (dir.join("sieve"), dir.join("bin"), dir.join("state"));
    for sub in [&sieve, &bin, &state] {
        fs::create_dir(sub).expect("create directory");
        set_mode(sub, 0o755);
    }
    // The store's directory: group-writable and set-group-ID, so the files
    // SQLite creates there (journal, WAL) stay in the group.
    chown(&state, Some(0), Some(gid_of(GROUP))).expect("chown state directory");
    set_mode(&state, 0o2770);

    let config = dir.join("pitchfork.toml");
    let store = state.join("state.db");
    let text = format!(
        "state = \"{}\"\nstate_ask_all = true\n[learning]\nmin_learns = {MIN_LEARNS}\n",
        store.display()
    );
    fs::write(&config, text).expect("write pitchfork.toml");
    set_mode(&config, 0o644);

    for script in ["learn-pitch.sieve", "learn-legit.sieve"] {
        fs::write(sieve.join(script), shipped(script, &[])).expect("write sieve script");
    }
    let wrapper = bin.join("pitchfork-learn");
    let binary = PITCHFORK.to_owned();
    let config_path = config.display().to_string();
    let text = shipped(
        "pitchfork-learn",
        &[
            ("/usr/bin/pitchfork", &binary),
            ("/etc/pitchfork/pitchfork.toml", &config_path),
        ],
    );
    fs::write(&wrapper, text).expect("write wrapper");
    set_mode(&wrapper, 0o755);

    let dovecot = shipped(
        "90-pitchfork-learn.conf",
        &[
            ("/etc/dovecot/sieve/pitchfork", &sieve.display().to_string()),
            (
                "/usr/local/lib/pitchfork/sieve-pipe",
                &bin.display().to_string(),
            ),
            (
                "mail_access_groups = pitchfork",
                "mail_access_groups = mail",
            ),
        ],
    );

    // The store exists before the first learn, group-writable: pitchfork
    // creates it with the creator's umask (0644 here, 0640 from the unit).
    let created = Command::new(PITCHFORK)
        .args(["learn", "-c"])
        .arg(&config)
        .arg("--stats")
        .output()
        .expect("run pitchfork learn --stats");
    assert!(created.status.success(), "{created:?}");
    set_mode(&store, 0o660);
    (config, dovecot)
}

/// Compiles the recipe's scripts with `sievec`, as the recipe's README
/// says: Dovecot reads them as the mail user, who cannot write the
/// compiled `.svbin` next to them.
fn compile_scripts(dovecot: &Dovecot, dir: &Path) {
    for script in ["learn-pitch.sieve", "learn-legit.sieve"] {
        let path = dir.join("sieve").join(script);
        let out = Command::new("sievec")
            .arg("-c")
            .arg(dovecot.config_path())
            .arg(&path)
            .output()
            .expect("run sievec");
        assert!(
            out.status.success(),
            "sievec {script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(path.with_extension("svbin").exists(), "no {script} binary");
    }
}

/// `(pitches, legitimate, LEARNED line)` from `pitchfork learn --stats`.
fn stats(config: &Path) -> (u64, u64, String) {
    let out = Command::new(PITCHFORK)
        .args(["learn", "-c"])
        .arg(config)
        .arg("--stats")
        .output()
        .expect("run pitchfork learn --stats");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
            .trim()
            .to_owned()
    };
    let count = |name: &str| field(name).parse().expect("a count");
    (
        count("learned pitches:"),
        count("learned legitimate:"),
        field("LEARNED test:"),
    )
}

/// `(score, LEARNED's score if it fired)` of a fixture from `pitchfork
/// check --format json`.
fn check(config: &Path, name: &str) -> (f64, Option<f64>) {
    let out = Command::new(PITCHFORK)
        .args(["check", "--format", "json", "-c"])
        .arg(config)
        .arg(fixture(name))
        .output()
        .expect("run pitchfork check");
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let learned = report["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .find(|test| test["name"] == "LEARNED")
        .map(|test| test["score"].as_f64().expect("a score"));
    (report["score"].as_f64().expect("a score"), learned)
}

/// Moves each fixture's message from the selected folder into `to`.
fn move_all(imap: &mut dovecot::Imap, names: &[&str], to: &str) {
    for name in names {
        imap.move_message(&message_id(name), to);
    }
}

#[test]
fn filing_mail_into_and_out_of_pitches_teaches_the_learned_test() {
    if !dovecot::require_dovecot() {
        return;
    }
    let dir = short_tempdir("lv");
    let (config, recipe) = install_recipe(dir.path());
    assert_eq!(
        stats(&config),
        (
            0,
            0,
            format!("inactive until {MIN_LEARNS} of each are learned (learning.min_learns)")
        )
    );
    let (pitch_before, learned) = check(&config, "probe-pitch");
    assert_eq!(learned, None, "nothing learned yet");

    let server = Dovecot::start_with(&repo("deploy/pitches.sieve"), &recipe);
    compile_scripts(&server, dir.path());
    let mut imap = server.imap(USER);
    for folder in ["Pitches", "Trash"] {
        imap.create(folder);
    }
    // A client uploading a pitch straight into Pitches (APPEND) teaches
    // too; the rest arrive in the inbox.
    let read = |name: &str| fs::read(fixture(name)).expect("read fixture");
    imap.append("Pitches", &read("pitch-4"));
    for name in PITCHES[..3].iter().chain(&LEGIT) {
        imap.append("INBOX", &read(name));
    }
    assert_eq!(stats(&config).0, 1, "APPEND into Pitches\n{}", server.log());

    // The user files three pitches, and by mistake three club messages.
    imap.select("INBOX");
    move_all(&mut imap, &PITCHES[..3], "Pitches");
    move_all(&mut imap, &LEGIT, "Pitches");
    let (pitches, legit, active) = stats(&config);
    assert_eq!((pitches, legit), (7, 0), "{}", server.log());
    assert!(active.starts_with("inactive"), "{active}");

    // Moved back out: each is unlearned as a pitch and learned as
    // legitimate. A pitch deleted into the Trash stays a pitch.
    imap.select("Pitches");
    move_all(&mut imap, &LEGIT, "INBOX");
    move_all(&mut imap, &["pitch-3"], "Trash");
    assert_eq!(stats(&config), (4, 3, "active".into()), "{}", server.log());
    assert_eq!(imap.message_count("Pitches"), 3);
    assert_eq!(imap.message_count("INBOX"), 3);

    // The next similar pitch scores higher than before the moves, through
    // LEARNED; a similar club message gets no push towards pitch.
    let (pitch_after, learned) = check(&config, "probe-pitch");
    let learned = learned.expect("LEARNED fires once enough is learned");
    assert!(learned > 0.0, "LEARNED {learned} on a pitch");
    assert!(
        pitch_after > pitch_before,
        "score {pitch_before} before, {pitch_after} after"
    );
    let (_, learned) = check(&config, "probe-legit");
    assert!(
        learned.is_some_and(|score| score < 0.0),
        "LEARNED {learned:?} on a club message"
    );

    // Every learn ran without a Sieve or program error.
    let log = server.log();
    assert!(!log.contains("Error:"), "{log}");
}
