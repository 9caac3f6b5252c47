//! Files in a conversation: a message's attachments (images as thumbnails whose box is
//! reserved before they load, anything else as a card with its download link) and the
//! image viewer, a dialog named by the file (arrows move between the message's images,
//! Escape closes). Without JavaScript a thumbnail is a plain link to the image.

use crate::api::files::{chat_files, CHAT_FILES_PAGE};
use crate::model::{size_label, ChatId, FileId, FileInfo};
use leptos::prelude::*;

/// The largest box a thumbnail takes in a message, in CSS pixels.
const THUMB_BOX: (u32, u32) = (320, 240);

/// The box (width, height) a `w` × `h` image takes as a thumbnail: as large as fits in
/// [`THUMB_BOX`] with its aspect ratio, never larger than the image itself.
pub fn thumb_box(w: u32, h: u32) -> (u32, u32) {
    let (w, h) = (w.max(1), h.max(1));
    let (bw, bh) = THUMB_BOX;
    // The smaller of the two scales, as a fraction num/den, at most 1.
    let (num, den) = if u64::from(bw) * u64::from(h) <= u64::from(bh) * u64::from(w) {
        (bw, w)
    } else {
        (bh, h)
    };
    if num >= den {
        return (w, h);
    }
    let scale = |x: u32| ((u64::from(x) * u64::from(num) / u64::from(den)).max(1)) as u32;
    (scale(w), scale(h))
}

/// The image viewer's state: the images it steps through and the one shown.
#[derive(Clone, Copy)]
pub struct Viewer(pub RwSignal<Option<(Vec<FileInfo>, usize)>>);

/// A conversation's viewer, for its messages to open.
pub fn provide_viewer() -> Viewer {
    let viewer = Viewer(RwSignal::new(None));
    provide_context(viewer);
    viewer
}

/// A message's files, in the order they were attached.
#[component]
pub fn Attachments(files: Vec<FileInfo>) -> impl IntoView {
    let viewer = use_context::<Viewer>();
    let images: Vec<FileInfo> = files.iter().filter(|f| f.is_image()).cloned().collect();
    let mut image_index = 0;
    let items = files
        .into_iter()
        .map(|f| {
            if f.is_image() {
                let index = image_index;
                image_index += 1;
                let images = images.clone();
                let (w, h) = thumb_box(f.width.unwrap_or(1), f.height.unwrap_or(1));
                view! {
                    <a class="file-image" href=f.url()
                        on:click=move |ev| {
                            if let Some(v) = viewer {
                                ev.prevent_default();
                                v.0.set(Some((images.clone(), index)));
                            }
                        }>
                        <img src=f.thumb_url() alt=f.name.clone() width=w.to_string() height=h.to_string() loading="lazy" />
                    </a>
                }
                .into_any()
            } else {
                file_card(f).into_any()
            }
        })
        .collect_view();
    view! { <div class="msg-files">{items}</div> }
}

/// A file that is not shown inline: what it is, and its download link.
pub fn file_card(f: FileInfo) -> impl IntoView {
    let label = format!("Download {}", f.name);
    let meta = format!("{} · {}", size_label(f.size), f.mime);
    let icon = if f.is_image() {
        view! { <img class="file-icon" src=f.thumb_url() alt="" width="40" height="40" loading="lazy" /> }.into_any()
    } else {
        view! { <span class="file-icon" aria-hidden="true">"📄"</span> }.into_any()
    };
    view! {
        <div class="file-card">
            {icon}
            <span class="file-text">
                <span class="file-name">{f.name.clone()}</span>
                <span class="file-meta">{meta}</span>
            </span>
            <a class="btn btn-ghost btn-small" href=f.url() download=f.name.clone() aria-label=label>"Download"</a>
        </div>
    }
}

/// The header's "Files" button and the panel of the chat's files it opens (newest
/// first, a page at a time; Escape closes it).
#[component]
pub fn FilesPanel(chat_id: ChatId) -> impl IntoView {
    let open = RwSignal::new(false);
    let files = RwSignal::new(Vec::<FileInfo>::new());
    let more = RwSignal::new(false);
    let loading = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let load = move |before: Option<FileId>| {
        loading.set(true);
        leptos::task::spawn_local(async move {
            match chat_files(chat_id, before).await {
                Ok(page) => {
                    more.set(page.len() as i64 == CHAT_FILES_PAGE);
                    files.update(|f| f.extend(page));
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            loading.set(false);
        });
    };
    let toggle = move |_| {
        let now = !open.get_untracked();
        open.set(now);
        if now {
            files.set(Vec::new());
            load(None);
        }
    };
    view! {
        <div class="files-toggle">
            <button class="btn btn-ghost btn-small" type="button" aria-controls="files-panel"
                aria-expanded=move || open.get().to_string() on:click=toggle>"Files"</button>
            {move || open.get().then(|| view! {
                <section id="files-panel" class="files-panel" role="region" aria-label="Files" tabindex="-1"
                    on:keydown=move |ev| if ev.key() == "Escape" { open.set(false) }>
                    {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                    {move || (files.with(Vec::is_empty) && !loading.get())
                        .then(|| view! { <p class="muted">"No files shared here yet."</p> })}
                    <ul class="files-list">
                        {move || files.get().into_iter().map(|f| view! { <li>{file_card(f)}</li> }).collect_view()}
                    </ul>
                    {move || more.get().then(|| view! {
                        <button class="btn btn-ghost btn-small" type="button" disabled=move || loading.get()
                            on:click=move |_| load(files.with_untracked(|f| f.last().map(|x| x.id)))>
                            "Load more files"
                        </button>
                    })}
                </section>
            })}
        </div>
    }
}

/// The dialog that shows one image full size, while the viewer has one.
#[component]
pub fn ImageViewer(viewer: Viewer) -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Div>::new();
    let close = move || viewer.0.set(None);
    let step = move |by: isize| {
        viewer.0.update(|v| {
            if let Some((list, i)) = v {
                let n = list.len() as isize;
                if n > 0 {
                    *i = ((*i as isize + by).rem_euclid(n)) as usize;
                }
            }
        })
    };
    // The dialog takes the focus when it opens, so the keys below reach it.
    Effect::new(move |_| {
        if viewer.0.with(Option::is_some) {
            if let Some(el) = dialog.get() {
                let _ = el.focus();
            }
        }
    });
    move || {
        viewer.0.get().and_then(|(list, i)| {
            let f = list.get(i)?.clone();
            let many = list.len() > 1;
            Some(view! {
                <div class="viewer-backdrop" on:click=move |_| close()>
                    <div class="viewer" role="dialog" aria-modal="true" aria-label=f.name.clone()
                        tabindex="-1" node_ref=dialog
                        on:click=|ev| ev.stop_propagation()
                        on:keydown=move |ev| match ev.key().as_str() {
                            "Escape" => close(),
                            "ArrowRight" => step(1),
                            "ArrowLeft" => step(-1),
                            _ => {}
                        }>
                        <img class="viewer-image" src=f.url() alt=f.name.clone()
                            width=f.width.unwrap_or(1).to_string() height=f.height.unwrap_or(1).to_string() />
                        <div class="viewer-bar">
                            <span class="viewer-name">{f.name.clone()}</span>
                            {many.then(|| view! {
                                <button class="btn btn-ghost btn-small" type="button" on:click=move |_| step(-1)>"Previous image"</button>
                                <button class="btn btn-ghost btn-small" type="button" on:click=move |_| step(1)>"Next image"</button>
                            })}
                            <a class="btn btn-ghost btn-small" href=f.url() download=f.name.clone()>"Download"</a>
                            <button class="btn btn-ghost btn-small" type="button" aria-label="Close" on:click=move |_| close()>"✕"</button>
                        </div>
                    </div>
                </div>
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::thumb_box;

    #[test]
    fn thumbnails_keep_their_shape_and_never_grow() {
        assert_eq!(thumb_box(1200, 600), (320, 160));
        assert_eq!(thumb_box(600, 1200), (120, 240));
        assert_eq!(thumb_box(100, 50), (100, 50));
        assert_eq!(thumb_box(10_000, 1), (320, 1));
        assert_eq!(thumb_box(0, 0), (1, 1));
    }
}
