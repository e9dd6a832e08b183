//! An empty Tauri 2 window and nothing else: the baseline for the desktop app's footprint
//! figures (docs/benchmarks.md). Built with the app's Tauri features so both share one build.

fn main() {
    if let Err(e) = tauri::Builder::default().run(tauri::generate_context!()) {
        eprintln!("the empty window stopped with an error: {e}");
        std::process::exit(1);
    }
}
