//! The shipped files agree with the code: the man pages describe every
//! command, option and configuration key (with its default), the package
//! metadata, systemd unit and examples name files and metrics that exist.
//! A key added to the code without its documentation fails here.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// roff source as plain text: escapes and font changes removed.
fn plain_roff(text: &str) -> String {
    text.replace("\\-", "-")
        .replace("\\(dq", "\"")
        .replace("\\(aq", "'")
        .replace("\\(ga", "`")
        .replace("\\e", "\\")
        .replace("\\fB", "")
        .replace("\\fI", "")
        .replace("\\fR", "")
        .replace("\\fP", "")
}

/// The man page's sections (`.SH NAME` → body), in plain text.
fn man_sections(path: &str) -> Vec<(String, String)> {
    let text = plain_roff(&read(path));
    text.split("\n.SH ")
        .skip(1)
        .map(|section| {
            let (title, body) = section.split_once('\n').unwrap_or((section, ""));
            (title.trim_matches('"').to_owned(), body.to_owned())
        })
        .collect()
}

/// The `.TP` entries of a section: the first word of the tag line and the
/// text up to the next entry.
fn tagged_paragraphs(body: &str) -> Vec<(String, String)> {
    body.split(".TP\n")
        .skip(1)
        .filter_map(|entry| {
            let (tag, text) = entry.split_once('\n')?;
            let name = tag.strip_prefix(".B ")?.split_whitespace().next()?;
            Some((name.to_owned(), text.to_owned()))
        })
        .collect()
}

/// `(section, key, default)` of every key in the sample configuration,
/// which lists each one commented out at its default (`# key = value`).
fn sample_keys() -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut keys = Vec::new();
    for line in read("config/pitchfork.toml").lines() {
        let Some(line) = line.strip_prefix("# ") else {
            continue;
        };
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
        } else if let Some((key, value)) = line.split_once(" = ")
            && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            keys.push((section.clone(), key.to_owned(), value.to_owned()));
        }
    }
    keys
}

#[test]
fn the_config_man_page_describes_every_key_with_its_default() {
    let keys = sample_keys();
    assert!(keys.len() > 20, "sample parsed wrongly: {keys:?}");
    let mut documented = BTreeSet::new();
    for (title, body) in man_sections("man/pitchfork.toml.5") {
        let section = match title.as_str() {
            "TOP-LEVEL KEYS" => String::new(),
            t if t.starts_with('[') => t.trim_matches(['[', ']']).to_owned(),
            _ => continue,
        };
        for (key, text) in tagged_paragraphs(&body) {
            documented.insert((section.clone(), key, text));
        }
    }
    for (section, key, default) in &keys {
        let entry = documented
            .iter()
            .find(|(s, k, _)| s == section && k == key)
            .unwrap_or_else(|| panic!("pitchfork.toml(5) lacks [{section}] {key}"));
        let text = entry.2.replace('\n', " ");
        assert!(
            text.contains(default.as_str()),
            "pitchfork.toml(5): [{section}] {key} does not give its default {default}:\n{text}"
        );
    }
    let stale: Vec<_> = documented
        .iter()
        .filter(|(s, k, _)| !keys.iter().any(|(ks, kk, _)| ks == s && kk == k))
        .map(|(s, k, _)| format!("[{s}] {k}"))
        .collect();
    assert!(
        stale.is_empty(),
        "documented but not in the sample: {stale:?}"
    );
}

/// The `Commands:` or `Options:` items of `pitchfork ARGS --help`.
fn help_items(args: &[&str], heading: &str) -> Vec<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_pitchfork"))
        .args(args)
        .arg("--help")
        .output()
        .expect("run pitchfork --help");
    assert!(output.status.success(), "{args:?} --help failed");
    let text = String::from_utf8(output.stdout).unwrap();
    let items = text
        .split_once(&format!("{heading}:\n"))
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    items
        .lines()
        .take_while(|line| line.starts_with(' '))
        .filter_map(|line| {
            let line = line.trim_start();
            // Options: "-c, --config <CONFIG>"; commands: "serve  Run ...".
            let item = line.split_whitespace().find(|w| w.starts_with("--"));
            let item = if heading == "Options" {
                item?
            } else {
                line.split_whitespace().next()?
            };
            Some(item.trim_end_matches(',').to_owned())
        })
        .collect()
}

/// A command's entry in COMMANDS: its tag line up to the end of its
/// indented option list.
fn command_entry<'a>(page: &'a str, command: &str) -> &'a str {
    let commands = page.split_once("\n.SH COMMANDS\n").expect("COMMANDS").1;
    let start = commands
        .find(&format!("\n.B {command}\n"))
        .unwrap_or_else(|| panic!("pitchfork(8), COMMANDS has no entry for `{command}`"));
    let entry = &commands[start..];
    entry.find("\n.RE\n").map_or(entry, |end| &entry[..end])
}

#[test]
fn the_daemon_man_page_describes_every_command_and_option() {
    let page = plain_roff(&read("man/pitchfork.8"));
    let commands: Vec<String> = help_items(&[], "Commands")
        .into_iter()
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 3, "{commands:?}");
    for command in &commands {
        assert!(
            page.contains(&format!("\n.B pitchfork {command}\n")),
            "pitchfork(8), SYNOPSIS lacks `{command}`"
        );
        let entry = command_entry(&page, command);
        // --help is described once, for every command.
        for option in help_items(&[command], "Options") {
            if option == "--help" {
                continue;
            }
            assert!(
                entry.contains(&option),
                "pitchfork(8) does not describe `pitchfork {command} {option}`"
            );
        }
    }
    for option in help_items(&[], "Options") {
        assert!(page.contains(&option), "pitchfork(8) lacks {option}");
    }
}

#[test]
fn man_pages_carry_the_crate_version() {
    let version = format!("\"pitchfork {}\"", env!("CARGO_PKG_VERSION"));
    for page in ["man/pitchfork.8", "man/pitchfork.toml.5"] {
        let header = read(page)
            .lines()
            .find(|l| l.starts_with(".TH "))
            .map(str::to_owned)
            .unwrap_or_default();
        assert!(header.contains(&version), "{page}: {header}");
    }
}

/// Names of the form `pitchfork_*` in a text, histogram suffixes removed.
fn metric_names(text: &str) -> BTreeSet<String> {
    let pattern = regex::Regex::new(r"\bpitchfork_[a-z_]+").unwrap();
    pattern
        .find_iter(text)
        .map(|m| {
            let name = m.as_str();
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name)
                .to_owned()
        })
        .collect()
}

#[test]
fn dashboards_and_man_page_use_the_metrics_the_daemon_exports() {
    let catalogue: BTreeSet<String> = pitchfork::metrics::CATALOGUE
        .iter()
        .map(|m| m.name.to_owned())
        .collect();
    let dashboard = read("deploy/grafana-dashboard.json");
    serde_json::from_str::<serde_json::Value>(&dashboard).expect("dashboard is JSON");
    let used = metric_names(&dashboard);
    let unknown: Vec<_> = used.difference(&catalogue).collect();
    assert!(
        unknown.is_empty(),
        "dashboard uses unknown metrics {unknown:?}"
    );
    let unused: Vec<_> = catalogue.difference(&used).collect();
    assert!(unused.is_empty(), "dashboard shows no panel for {unused:?}");
    // The man page lists exactly the catalogue.
    let page = plain_roff(&read("man/pitchfork.8"));
    assert_eq!(metric_names(&page), catalogue, "pitchfork(8), METRICS");
}

#[test]
fn package_unit_and_examples_point_at_files_that_exist() {
    let manifest: toml::Table = read("Cargo.toml").parse().unwrap();
    let deb = &manifest["package"]["metadata"]["deb"];
    let assets = deb["assets"].as_array().expect("assets");
    let mut targets = Vec::new();
    for asset in assets {
        let source = asset[0].as_str().unwrap();
        let target = asset[1].as_str().unwrap();
        // target/release/ is what cargo-deb builds; the rest is in the repo.
        if !source.starts_with("target/release/") {
            assert!(repo(source).is_file(), "package asset {source} missing");
        }
        targets.push(format!("/{target}"));
    }
    let unit = read("deploy/pitchfork.service");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart=");
    let words: Vec<&str> = exec.split_whitespace().collect();
    assert!(targets.contains(&"/usr/bin/".to_owned()), "{targets:?}");
    assert_eq!(words[0], "/usr/bin/pitchfork");
    assert!(
        targets.contains(&words[3].to_owned()),
        "{exec} vs {targets:?}"
    );
    // Everything in deploy/ ships: the unit through systemd-units.
    for entry in std::fs::read_dir(repo("deploy")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let shipped = name == "pitchfork.service"
            || assets
                .iter()
                .any(|a| a[0].as_str() == Some(&format!("deploy/{name}")));
        assert!(
            shipped || path.is_dir(),
            "deploy/{name} is not in the package"
        );
    }
    for script in ["postinst", "postrm"] {
        let text = read(&format!("deploy/debian/{script}"));
        assert!(text.contains("#DEBHELPER#"), "{script} lacks #DEBHELPER#");
    }
}

#[test]
fn the_example_configuration_uses_only_known_keys() {
    let text = read("deploy/pitchfork-postfix.toml");
    // Structure only: socket_group names a group that exists where Postfix
    // is installed; .ci/run checks the whole file with check-config there.
    let raw = pitchfork::config::parse_raw(&text).unwrap_or_else(|errors| {
        panic!("deploy/pitchfork-postfix.toml: {errors:?}");
    });
    assert_eq!(raw.socket_group, "postfix");
    assert!(raw.socket.starts_with("unix:/var/spool/postfix/"));
    // Postfix names the same socket relative to its chroot.
    let chrooted = raw.socket.replace("unix:/var/spool/postfix", "unix:");
    let postfix = read("deploy/postfix-main.cf");
    assert!(
        postfix.contains(&format!("\nsmtpd_milters = {chrooted}\n")),
        "postfix-main.cf does not use {chrooted}"
    );
}

#[test]
fn the_readme_shows_the_shipped_sieve_script() {
    let script: String = read("deploy/pitches.sieve")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    let readme = read("README.md");
    assert!(
        readme.contains(&format!("```sieve\n{script}```")),
        "README's Sieve block differs from deploy/pitches.sieve:\n{script}"
    );
}
