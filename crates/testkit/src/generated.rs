//! Generated files kept in the repository (TypeScript bindings from Rust types): a test
//! renders what the directory should hold and [`assert_fresh`] makes it so — writing what
//! differs, removing what is left over — then fails if anything had to change, so CI catches
//! a forgotten regeneration while a local rerun passes (the way rust-analyzer's tidy tests
//! keep generated code fresh).

use std::collections::BTreeMap;
use std::path::Path;

/// Makes `dir` hold exactly `wanted` (file name → text) among its `.ts` files; panics, naming
/// the files it rewrote or removed, if it was not so already. `what` names the directory in
/// the message (e.g. "widget/src/bindings").
pub fn assert_fresh(dir: &Path, what: &str, wanted: &BTreeMap<String, String>) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {what}: {e}"));
    let mut updated = Vec::new();
    for (name, text) in wanted {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
            updated.push(name.clone());
        }
    }
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {what}: {e}"));
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".ts") && !wanted.contains_key(&name) {
            std::fs::remove_file(entry.path()).unwrap_or_else(|e| panic!("removing {name}: {e}"));
            updated.push(format!("{name} (removed)"));
        }
    }
    assert!(
        updated.is_empty(),
        "{what} was stale and has been regenerated ({}); rerun the test and commit the files",
        updated.join(", ")
    );
}
