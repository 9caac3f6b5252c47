//! Group invitations, above the chat list: an add that the invitee's "who can add me
//! to groups" setting did not allow waits here until they accept or decline. Plain
//! forms: they work without JavaScript too.

use crate::api::consent::{list_invitations, AcceptInvitation, DeclineInvitation};
use crate::ui::layout::ChatListRefresh;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

#[component]
pub fn Invitations() -> impl IntoView {
    let refresh = use_context::<ChatListRefresh>();
    // Plain forms even with JavaScript: the page comes back with the group joined (or
    // the invitation gone); an `ActionForm` each would weigh on every first visit.
    let list = Resource::new(move || refresh.map(|r| r.0.get()), |_| list_invitations());
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
                                view! {
                                    <li>
                                        <span class="member-name" id=desc.clone()>
                                            {format!("{} invited you to {}", i.inviter, i.title)}
                                        </span>
                                        <form class="mute-form" method="post" action=AcceptInvitation::PATH>
                                            <input type="hidden" name="chat_id" value=id.clone() />
                                            <button class="btn btn-primary btn-small" type="submit"
                                                aria-describedby=desc.clone()>"Accept"</button>
                                        </form>
                                        <form class="mute-form" method="post" action=DeclineInvitation::PATH>
                                            <input type="hidden" name="chat_id" value=id />
                                            <button class="btn btn-ghost btn-small" type="submit"
                                                aria-describedby=desc>"Decline"</button>
                                        </form>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    </section>
                })
            })}
        </Transition>
    }
}
