//! The command line surface: `--version`, and `check-config` refusing
//! what the daemon would refuse, every error with its key path, exit 2.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_pitchfork");

fn pitchfork(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

#[test]
fn version_names_the_release() {
    let output = pitchfork(&["--version"]);
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout, format!("pitchfork {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn check_config_lists_every_error_with_its_key_and_exits_2() {
    let cases: [(&str, &[&str]); 2] = [
        (
            "tests/cli/invalid-keys.toml",
            &[
                "mode: unknown variant `loud`",
                "log_format: unknown variant `xml`",
                "allow_root: invalid type",
                "shutdown_timeout: invalid value",
            ],
        ),
        (
            "tests/cli/invalid-values.toml",
            &[
                "user: no user `no-such-user-pitchfork`",
                "socket_group: no group `no-such-group-pitchfork`",
                "metrics_listen: `localhost` is not ADDRESS:PORT",
                "thresholds.reject: 1 is below thresholds.flag",
            ],
        ),
    ];
    for (file, errors) in cases {
        let output = pitchfork(&["check-config", "--config", file]);
        assert_eq!(output.status.code(), Some(2), "{file}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(
            stderr.contains(&format!("invalid configuration in {file}")),
            "{stderr}"
        );
        for error in errors {
            assert!(stderr.contains(error), "{error} missing in\n{stderr}");
        }
        // one line per error under the heading
        assert_eq!(stderr.lines().count(), errors.len() + 1, "{stderr}");
    }
}

#[test]
fn check_config_accepts_the_sample() {
    let output = pitchfork(&["check-config", "--config", "config/pitchfork.toml"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}
