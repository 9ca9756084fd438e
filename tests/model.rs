//! The shipped model (`config/model.json`) is reproducible from the
//! repository alone: training on the corpus's training split with the
//! shipped rules gives the same file, byte for byte (the category model
//! from the categories in the corpus's labels).

use std::process::Command;

#[test]
fn shipped_model_is_reproducible_from_the_training_split() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model.json");
    let status = Command::new(env!("CARGO_BIN_EXE_pitchfork"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["train", "--pitch", "tests/corpus/train/pitch"])
        .args([
            "--legit",
            "tests/corpus/train/legit",
            "--cold",
            "tests/corpus/train/cold",
            "--categories",
            "tests/corpus/labels.tsv",
        ])
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let trained = std::fs::read_to_string(&out).unwrap();
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/model.json"),
    )
    .unwrap();
    assert!(
        trained == shipped,
        "config/model.json is stale: retrain with `cargo run --release -- train \
         --pitch tests/corpus/train/pitch --legit tests/corpus/train/legit \
         --cold tests/corpus/train/cold --categories tests/corpus/labels.tsv \
         --out config/model.json`"
    );
}
