//! Tauri's build step reads `tauri.conf.json` (a symlink to the repository root's) and checks
//! that the UI's `frontendDist` (`ui/dist`) exists. A checkout where the UI was not built yet
//! (`npm run build` in `ui/`) still compiles, lints and tests: the app then shows a page that
//! says so.

use std::path::Path;

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    if !dist.join("index.html").exists() {
        let page = "<!doctype html><meta charset=utf-8><title>meetdesk</title>\
                    <p>The UI is not built: run <code>npm ci &amp;&amp; npm run build</code> in <code>ui/</code>, \
                    then build the app again.</p>\n";
        if let Err(e) =
            std::fs::create_dir_all(&dist).and_then(|()| std::fs::write(dist.join("index.html"), page))
        {
            println!("cargo:warning=could not write a placeholder UI into {}: {e}", dist.display());
        }
    }
    tauri_build::build()
}
