//! Tauri's build step reads this crate's `tauri.conf.json` and embeds `dist/`.

fn main() {
    tauri_build::build()
}
