//! Attaching files to the next message: picked with "Attach files", pasted or dropped.
//! Each file uploads at once (`POST /api/files`, its bytes as the body, with progress)
//! and shows in the composer, where it can be cancelled or removed; the message goes out, with its
//! `client_id` as always, only when every file of it is stored.
//!
//! The list's rules are pure ([`ready`], [`failure`]) and tested natively; the uploads
//! themselves (XMLHttpRequest, for its progress events) are in `imp`, browser only.

use crate::model::FileInfo;
use leptos::prelude::*;

/// One file on its way.
#[derive(Clone, Debug, PartialEq)]
pub struct Attachment {
    /// This page's own number for it (cancel and remove name it).
    pub key: u64,
    pub name: String,
    /// Bytes sent so far and in all.
    pub sent: f64,
    pub size: f64,
    pub state: Upload,
}

// The server never uploads: only the browser's half makes the later states.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, Debug, PartialEq)]
pub enum Upload {
    Sending,
    Stored(FileInfo),
    Failed(String),
}

/// The files to send with the message, or why it cannot go yet.
pub fn ready(list: &[Attachment]) -> Result<Vec<FileInfo>, &'static str> {
    let mut files = Vec::with_capacity(list.len());
    for a in list {
        match &a.state {
            Upload::Stored(f) => files.push(f.clone()),
            Upload::Sending => return Err("Wait until the files have uploaded"),
            Upload::Failed(_) => return Err("Remove the files that did not upload"),
        }
    }
    Ok(files)
}

/// What a failed upload shows: the server's own words for a refusal it explains (a
/// 4xx with text), else a plain one.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn failure(status: u16, body: &str) -> String {
    let text = body.trim();
    match status {
        0 => "The upload did not reach the server".into(),
        400..=499 if !text.is_empty() && text.len() <= 200 && !text.starts_with('<') => text.into(),
        _ => format!("The upload failed ({status})"),
    }
}

/// "40%", for an upload's progress.
pub fn percent(sent: f64, size: f64) -> String {
    if size <= 0.0 {
        return "0%".into();
    }
    format!("{}%", ((sent / size).clamp(0.0, 1.0) * 100.0).floor())
}

/// The files waiting in a composer, as a list under the message box.
#[component]
pub fn AttachmentList(list: RwSignal<Vec<Attachment>>) -> impl IntoView {
    move || {
        let items = list.get();
        (!items.is_empty()).then(|| {
            view! {
                <ul class="attachments" aria-label="Attached files">
                    {items.into_iter().map(|a| {
                        let key = a.key;
                        let (status, label) = match &a.state {
                            Upload::Sending => (percent(a.sent, a.size), format!("Cancel {}", a.name)),
                            Upload::Stored(_) => ("ready".to_string(), format!("Remove {}", a.name)),
                            Upload::Failed(e) => (e.clone(), format!("Remove {}", a.name)),
                        };
                        let thumb = match &a.state {
                            Upload::Stored(f) if f.is_image() => Some(f.thumb_url()),
                            _ => None,
                        };
                        view! {
                            <li class="attachment" class:attachment-failed=matches!(a.state, Upload::Failed(_))>
                                {thumb.map(|src| view! { <img src=src alt="" width="40" height="40" /> })}
                                <span class="attachment-name">{a.name.clone()}</span>
                                <span class="attachment-status" role="status">{status}</span>
                                <button class="btn btn-ghost btn-small" type="button" aria-label=label
                                    on:click=move |_| remove(list, key)>"✕"</button>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }
        })
    }
}

/// Stops an upload (if still going) and drops it from the list.
pub fn remove(list: RwSignal<Vec<Attachment>>, key: u64) {
    #[cfg(feature = "hydrate")]
    imp::abort(key);
    list.update(|l| l.retain(|a| a.key != key));
}

#[cfg(feature = "hydrate")]
pub use imp::start_all;

#[cfg(feature = "hydrate")]
mod imp {
    use super::{failure, Attachment, Upload};
    use crate::model::{ChatId, FileInfo};
    use leptos::prelude::*;
    use std::cell::RefCell;
    use std::collections::HashMap;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;
    use web_sys::{File, FileList, ProgressEvent, XmlHttpRequest};

    /// Uploads running at once from this tab (the server takes 3 per person: one is
    /// left for another tab or device).
    const AT_ONCE: usize = 2;

    /// A file waiting for its turn.
    struct Queued {
        key: u64,
        chat: ChatId,
        file: File,
        name: String,
        list: RwSignal<Vec<Attachment>>,
    }

    thread_local! {
        /// The uploads still going, by key (to cancel them).
        static GOING: RefCell<HashMap<u64, XmlHttpRequest>> = RefCell::new(HashMap::new());
        /// Files picked but not started yet, oldest first.
        static WAITING: RefCell<std::collections::VecDeque<Queued>> = RefCell::new(Default::default());
        static NEXT: RefCell<u64> = const { RefCell::new(0) };
    }

    pub fn abort(key: u64) {
        WAITING.with_borrow_mut(|w| w.retain(|q| q.key != key));
        if let Some(xhr) = GOING.with_borrow_mut(|g| g.remove(&key)) {
            let _ = xhr.abort();
        }
        pump();
    }

    /// Uploads every file of `files` to `chat`, [`AT_ONCE`] at a time.
    pub fn start_all(chat: ChatId, files: &FileList, list: RwSignal<Vec<Attachment>>) {
        for i in 0..files.length() {
            let Some(file) = files.get(i) else { continue };
            let key = NEXT.with_borrow_mut(|n| {
                *n += 1;
                *n
            });
            let name = if file.name().is_empty() {
                "pasted image".to_string()
            } else {
                file.name()
            };
            list.update(|l| {
                l.push(Attachment {
                    key,
                    name: name.clone(),
                    sent: 0.0,
                    size: file.size(),
                    state: Upload::Sending,
                })
            });
            WAITING.with_borrow_mut(|w| {
                w.push_back(Queued {
                    key,
                    chat,
                    file,
                    name,
                    list,
                })
            });
        }
        pump();
    }

    /// Starts waiting files while fewer than [`AT_ONCE`] are going.
    fn pump() {
        while GOING.with_borrow(HashMap::len) < AT_ONCE {
            let Some(next) = WAITING.with_borrow_mut(std::collections::VecDeque::pop_front) else {
                return;
            };
            start(next);
        }
    }

    /// Uploads one file, tracked in its list.
    fn start(q: Queued) {
        let Queued {
            key,
            chat,
            file,
            name,
            list,
        } = q;
        let set = move |state: Upload| {
            GOING.with_borrow_mut(|g| g.remove(&key));
            list.update(|l| {
                if let Some(a) = l.iter_mut().find(|a| a.key == key) {
                    a.state = state;
                }
            });
            pump();
        };
        let Some(xhr) = prepare(chat, &name) else {
            set(Upload::Failed(failure(0, "")));
            return;
        };
        // Every listener before `send`: upload progress is only reported to listeners
        // that were there when the request started.
        if let Ok(upload) = xhr.upload() {
            let progress = Closure::<dyn Fn(ProgressEvent)>::new(move |ev: ProgressEvent| {
                if ev.length_computable() {
                    list.update(|l| {
                        if let Some(a) = l.iter_mut().find(|a| a.key == key) {
                            a.sent = ev.loaded();
                        }
                    });
                }
            });
            upload.set_onprogress(Some(progress.as_ref().unchecked_ref()));
            progress.forget();
        }
        let done = xhr.clone();
        let onload = Closure::<dyn Fn()>::new(move || {
            let status = done.status().unwrap_or(0);
            let body = done.response_text().ok().flatten().unwrap_or_default();
            let stored = (status == 200)
                .then(|| serde_json::from_str::<FileInfo>(&body).ok())
                .flatten();
            set(match stored {
                Some(f) => Upload::Stored(f),
                None => Upload::Failed(failure(status, &body)),
            });
        });
        xhr.set_onload(Some(onload.as_ref().unchecked_ref()));
        onload.forget();
        let onerror = Closure::<dyn Fn()>::new(move || set(Upload::Failed(failure(0, ""))));
        xhr.set_onerror(Some(onerror.as_ref().unchecked_ref()));
        onerror.forget();
        if xhr.send_with_opt_blob(Some(&file)).is_err() {
            set(Upload::Failed(failure(0, "")));
            return;
        }
        GOING.with_borrow_mut(|g| g.insert(key, xhr));
    }

    /// The request that uploads a file named `name`: its bytes are the body
    /// (docs/API.md, "Files").
    fn prepare(chat: ChatId, name: &str) -> Option<XmlHttpRequest> {
        let name: String = js_sys::encode_uri_component(name).into();
        let xhr = XmlHttpRequest::new().ok()?;
        xhr.open("POST", &format!("/api/files?chat_id={chat}&name={name}"))
            .ok()?;
        Some(xhr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FileId;

    fn a(key: u64, state: Upload) -> Attachment {
        Attachment {
            key,
            name: format!("f{key}"),
            sent: 0.0,
            size: 10.0,
            state,
        }
    }

    fn info(id: i64) -> FileInfo {
        FileInfo {
            id: FileId(id),
            name: format!("f{id}"),
            size: 10,
            mime: "text/plain".into(),
            width: None,
            height: None,
            thumb: false,
        }
    }

    #[test]
    fn a_message_goes_only_when_every_file_is_stored() {
        assert_eq!(ready(&[]), Ok(vec![]));
        let done = [a(1, Upload::Stored(info(7))), a(2, Upload::Stored(info(8)))];
        assert_eq!(ready(&done), Ok(vec![info(7), info(8)]));
        assert!(ready(&[a(1, Upload::Stored(info(7))), a(2, Upload::Sending)]).is_err());
        assert!(ready(&[a(1, Upload::Failed("x".into()))]).is_err());
    }

    #[test]
    fn failures_say_what_the_server_said_when_it_explains() {
        assert_eq!(
            failure(413, "The file is too large (at most 25.0 MB)"),
            "The file is too large (at most 25.0 MB)"
        );
        assert_eq!(
            failure(413, "<html>nginx</html>"),
            "The upload failed (413)"
        );
        assert_eq!(failure(500, "boom"), "The upload failed (500)");
        assert_eq!(failure(0, ""), "The upload did not reach the server");
        assert_eq!(percent(5.0, 10.0), "50%");
        assert_eq!(percent(1.0, 0.0), "0%");
    }
}
