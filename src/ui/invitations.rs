//! Group invitations, above the chat list: an add that the invitee's "who can add me
//! to groups" setting did not allow waits here until they accept or decline. Plain
//! forms: they work without JavaScript too.

use crate::api::consent::{list_invitations, AcceptInvitation, DeclineInvitation};
use crate::ui::auth::{action_error, FormError};
use crate::ui::layout::ChatListRefresh;
use leptos::prelude::*;

#[component]
pub fn Invitations() -> impl IntoView {
    let refresh = use_context::<ChatListRefresh>();
    let accept = ServerAction::<AcceptInvitation>::new();
    let decline = ServerAction::<DeclineInvitation>::new();
    let list = Resource::new(
        move || {
            (
                refresh.map(|r| r.0.get()),
                accept.version().get(),
                decline.version().get(),
            )
        },
        |_| list_invitations(),
    );
    Effect::new(move |_| {
        if matches!(accept.value().get(), Some(Ok(_))) {
            if let Some(r) = refresh {
                r.bump();
            }
        }
    });
    let error = move || {
        action_error(*accept)
            .or_else(|| action_error(*decline))
            .map(|e| e.to_string())
    };
    view! {
        <Transition>
            {move || Suspend::new(async move {
                let invitations = list.await.unwrap_or_default();
                (!invitations.is_empty()).then(|| view! {
                    <section class="invitations" aria-label="Invitations">
                        <h2 class="field-label">"Invitations"</h2>
                        <ul class="member-list">
                            {invitations.into_iter().map(|i| {
                                let id = i.chat_id.to_string();
                                let desc = format!("invitation-{id}");
                                // Each form's children may render again: their own copies.
                                let (accept_id, decline_id) = (id.clone(), id);
                                let (accept_desc, decline_desc) = (desc.clone(), desc.clone());
                                view! {
                                    <li>
                                        <span class="member-name" id=desc>
                                            {format!("{} invited you to {}", i.inviter, i.title)}
                                        </span>
                                        <ActionForm action=accept attr:class="mute-form">
                                            <input type="hidden" name="chat_id" value=accept_id.clone() />
                                            <button class="btn btn-primary btn-small" type="submit"
                                                aria-describedby=accept_desc.clone()>"Accept"</button>
                                        </ActionForm>
                                        <ActionForm action=decline attr:class="mute-form">
                                            <input type="hidden" name="chat_id" value=decline_id.clone() />
                                            <button class="btn btn-ghost btn-small" type="submit"
                                                aria-describedby=decline_desc.clone()>"Decline"</button>
                                        </ActionForm>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                        <FormError error />
                    </section>
                })
            })}
        </Transition>
    }
}
