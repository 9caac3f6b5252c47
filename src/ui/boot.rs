//! The script that loads the WASM and hydrates the page: leptos's `HydrationScripts`,
//! except that nothing of the JS or WASM is fetched before the first paint. The page is
//! complete and usable without them (plain forms and links), and a fetch that starts
//! in `<head>` made Lighthouse's simulated slow link count the ~0.5 MB WASM into the
//! largest paint (3.6–3.9 s instead of ~1 s; BENCHMARKS.md, "Lighthouse").

use leptos::prelude::*;

/// After the first frame is painted (an animation frame, then a task), or after a
/// second at the latest (a tab opened in the background paints no frame), fetch the
/// WASM and the JS glue side by side, then hydrate.
const SCRIPT: &str = r#"(function (js, wasm) {
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    const module = fetch(wasm);
    import(js).then((glue) => glue.default({ module_or_path: module }).then(() => glue.hydrate()));
  };
  const afterPaint = () => {
    requestAnimationFrame(() => setTimeout(start, 0));
    setTimeout(start, 1000);
  };
  if (document.readyState === "complete") afterPaint();
  else addEventListener("load", afterPaint, { once: true });
})"#;

/// In the document's `<head>`, in place of `HydrationScripts`.
#[component]
pub fn BootScript(options: LeptosOptions) -> impl IntoView {
    let pkg = format!("/{}", options.site_pkg_dir);
    let js = format!("{pkg}/{}.js", options.output_name);
    // cargo-leptos names the WASM after the output name; a plain cargo build (tests)
    // leaves wasm-bindgen's `_bg` suffix.
    let wasm = if option_env!("LEPTOS_OUTPUT_NAME").is_some() {
        format!("{pkg}/{}.wasm", options.output_name)
    } else {
        format!("{pkg}/{}_bg.wasm", options.output_name)
    };
    let nonce = leptos::nonce::use_nonce();
    view! { <script type="module" nonce=nonce>{format!("{SCRIPT}({js:?}, {wasm:?});")}</script> }
}
