//! LICENSES.md lists every crate `cargo tree` shows, at its version, with
//! the licence its manifest declares: built into the binary, or used only
//! by tests and benchmarks. On a mismatch the test prints the tables as
//! they should read.

use std::{collections::BTreeSet, path::Path, process::Command};

/// `name|version|licence` rows of `cargo tree` for the given edge kinds.
fn tree(edges: &str) -> BTreeSet<String> {
    let output = Command::new(env!("CARGO"))
        .args(["tree", "--locked", "--offline", "--prefix", "none"])
        .args(["--format", "{p}|{l}", "-e", edges])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| {
            // A crate seen before is marked ` (*)`.
            let line = line.trim_end_matches(" (*)");
            let (package, licence) = line.split_once('|')?;
            let mut words = package.split(' ');
            let (name, version) = (words.next()?, words.next()?);
            (name != "pitchfork").then(|| format!("| {name} | {} | {licence} |", &version[1..]))
        })
        .collect()
}

/// The table rows of LICENSES.md under `## {heading}`.
fn listed(text: &str, heading: &str) -> BTreeSet<String> {
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("no section {heading:?}"));
    section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| crate ") && !l.starts_with("| ---"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn licenses_md_lists_every_dependency_with_its_licence() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("LICENSES.md")).unwrap();
    let built_in = tree("normal,build");
    let all = tree("normal,build,dev");
    let tests_only: BTreeSet<String> = all.difference(&built_in).cloned().collect();
    let table = |rows: &BTreeSet<String>| rows.iter().cloned().collect::<Vec<_>>().join("\n");
    assert_eq!(
        listed(&text, "Built into pitchfork"),
        built_in,
        "expected:\n{}",
        table(&built_in)
    );
    assert_eq!(
        listed(&text, "Tests and benchmarks only"),
        tests_only,
        "expected:\n{}",
        table(&tests_only)
    );
}
