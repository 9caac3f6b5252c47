//! `/admin`: the figures, the sign-up mode, invitation links, the people (search,
//! pages, deactivate / reactivate, administrator or not, password reset links) and the
//! audit log. Each action is a plain form that posts to its server function
//! (`api::admin`) and comes back here; a link made by an action (an invitation, a reset
//! link) comes back in this page's address and is shown once in a read-only field.

use super::{document, form_error};
use crate::api::admin::{
    AdminClearProfile, AdminCreateInvitation, AdminDeactivate, AdminReactivate, AdminResetLink,
    AdminRevokeInvitation, AdminSetAdmin, AdminSetSignup,
};
use crate::model::admin::{
    AuditEntry, InstanceFigures, InvitationLink, PeoplePage, Person, SignupMode,
};
use crate::model::User;
use crate::ui::time::iso_utc;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// Everything the page shows, gathered by the edge.
pub struct AdminView {
    pub me: User,
    pub figures: InstanceFigures,
    pub mode: SignupMode,
    pub invitations: Vec<InvitationLink>,
    /// The link of the invitation just made.
    pub new_invitation: Option<String>,
    pub people: PeoplePage,
    pub query: String,
    pub page: i64,
    /// The reset link just made: (for whom, the link).
    pub reset: Option<(String, String)>,
    pub audit: Vec<AuditEntry>,
    pub error: Option<String>,
}

pub fn page(v: AdminView) -> String {
    let AdminView {
        me,
        figures,
        mode,
        invitations,
        new_invitation,
        people,
        query,
        page,
        reset,
        audit,
        error,
    } = v;
    let body = view! {
        <main class="admin">
            <header class="admin-header">
                <h1>"Administration"</h1>
                <p>
                    <a href="/chats">"Back to chats"</a>
                    <span class="field-hint">{format!(" Signed in as {}", me.username)}</span>
                </p>
                {form_error(error)}
            </header>
            <Figures figures />
            <section class="admin-section" id="signup" aria-labelledby="signup-title">
                <h2 id="signup-title">"Sign-up"</h2>
                <form class="inline-form" method="post" action=AdminSetSignup::PATH>
                    <label class="field">
                        <span class="field-label">"Sign-up"</span>
                        <select name="mode">
                            {SignupMode::ALL.into_iter().map(|m| view! {
                                <option value=m.as_str() selected=m == mode>{m.label()}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    <button class="btn btn-primary" type="submit">"Save"</button>
                </form>
            </section>
            <Invitations invitations new_invitation />
            <People people query page reset me=me.id />
            <Audit audit />
        </main>
    };
    document("Administration", body)
}

#[component]
fn Figures(figures: InstanceFigures) -> impl IntoView {
    let rows = [
        ("People", figures.people.to_string()),
        ("Chats", figures.chats.to_string()),
        ("Messages", figures.messages.to_string()),
        ("Stored files", megabytes(figures.storage_bytes)),
        (
            "Connections now (this node)",
            figures.connections.to_string(),
        ),
    ];
    view! {
        <section class="admin-section" aria-labelledby="figures-title">
            <h2 id="figures-title">"At a glance"</h2>
            <dl class="figures">
                {rows.into_iter().map(|(k, v)| view! { <div><dt>{k}</dt><dd>{v}</dd></div> }).collect_view()}
            </dl>
        </section>
    }
}

fn megabytes(bytes: i64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

#[component]
fn Invitations(invitations: Vec<InvitationLink>, new_invitation: Option<String>) -> impl IntoView {
    view! {
        <section class="admin-section" id="invitations" aria-labelledby="invitations-title">
            <h2 id="invitations-title">"Invitations"</h2>
            <form class="inline-form" method="post" action=AdminCreateInvitation::PATH>
                <label class="field">
                    <span class="field-label">"Uses"</span>
                    <select name="uses">
                        <option value="once">"One sign-up"</option>
                        <option value="many">"Any number of sign-ups"</option>
                    </select>
                </label>
                <label class="field">
                    <span class="field-label">"Valid for"</span>
                    <select name="days">
                        <option value="1">"1 day"</option>
                        <option value="7" selected>"7 days"</option>
                        <option value="30">"30 days"</option>
                    </select>
                </label>
                <button class="btn btn-primary" type="submit">"Create invitation"</button>
            </form>
            {new_invitation.map(|link| view! {
                <label class="field new-link">
                    <span class="field-label">"Invitation link"</span>
                    <input type="text" readonly value=link />
                </label>
                <p class="field-hint" role="status">
                    "Copy it now and send it to the person: it is shown this once."
                </p>
            })}
            {if invitations.is_empty() {
                view! { <p class="field-hint">"No invitation can be used now."</p> }.into_any()
            } else {
                view! {
                    <ul class="devices">
                        {invitations.into_iter().map(|i| {
                            let uses = match i.max_uses {
                                Some(1) => format!("one sign-up ({} used)", i.uses),
                                Some(n) => format!("{n} sign-ups ({} used)", i.uses),
                                None => format!("any number of sign-ups ({} so far)", i.uses),
                            };
                            let what = format!("#{} by {}: {uses}, until {}", i.id, i.inviter, iso_utc(i.expires_at));
                            let label = format!("invitation-{}", i.id);
                            view! {
                                <li>
                                    <span id=label.clone()>{what}</span>
                                    <form class="mute-form" method="post" action=AdminRevokeInvitation::PATH>
                                        <input type="hidden" name="id" value=i.id.to_string() />
                                        <button class="btn btn-ghost btn-small" type="submit"
                                            aria-describedby=label>"Revoke"</button>
                                    </form>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn People(
    people: PeoplePage,
    query: String,
    page: i64,
    reset: Option<(String, String)>,
    me: crate::model::UserId,
) -> impl IntoView {
    let more = people.more;
    let pages = {
        let q = urlencoding(&query);
        let prev = (page > 0).then(|| format!("/admin?q={q}&page={}#people", page - 1));
        let next = more.then(|| format!("/admin?q={q}&page={}#people", page + 1));
        view! {
            <nav class="admin-pages" aria-label="People pages">
                {prev.map(|href| view! { <a href=href>"Previous page"</a> })}
                {next.map(|href| view! { <a href=href>"Next page"</a> })}
            </nav>
        }
    };
    view! {
        <section class="admin-section" id="people" aria-labelledby="people-title">
            <h2 id="people-title">"People"</h2>
            <form class="inline-form" method="get" action="/admin#people" role="search">
                <label class="field">
                    <span class="field-label">"Find people"</span>
                    <input type="search" name="q" value=query maxlength="32" />
                </label>
                <button class="btn btn-ghost" type="submit">"Search"</button>
            </form>
            {reset.map(|(name, link)| view! {
                <label class="field new-link">
                    <span class="field-label">"Reset password link"</span>
                    <input type="text" readonly value=link />
                </label>
                <p class="field-hint" role="status">
                    {format!("Give this link to {name} yourself: it sets a new password once, within 24 hours.")}
                </p>
            })}
            {if people.people.is_empty() {
                view! { <p class="field-hint">"Nobody matches."</p> }.into_any()
            } else {
                view! {
                    <table class="people">
                        <thead>
                            <tr><th scope="col">"Name"</th><th scope="col">"Joined"</th><th scope="col">"Actions"</th></tr>
                        </thead>
                        <tbody>
                            {people.people.into_iter().map(|p| view! { <PersonRow p me /> }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            {pages}
        </section>
    }
}

#[component]
fn PersonRow(p: Person, me: crate::model::UserId) -> impl IntoView {
    let label = format!("person-{}", p.id);
    let mut badges = Vec::new();
    if p.admin {
        badges.push("administrator");
    }
    if p.deactivated {
        badges.push("deactivated");
    }
    if p.id == me {
        badges.push("you");
    }
    let badges = (!badges.is_empty()).then(|| format!(" ({})", badges.join(", ")));
    let joined = match &p.invited_by {
        Some(by) => format!("{}, invited by {by}", &iso_utc(p.created_at)[..10]),
        None => iso_utc(p.created_at)[..10].to_string(),
    };
    let id = p.id.to_string();
    let (active_path, active_text) = if p.deactivated {
        (AdminReactivate::PATH, "Reactivate")
    } else {
        (AdminDeactivate::PATH, "Deactivate")
    };
    let (admin_on, admin_text) = if p.admin {
        ("false", "Remove administrator")
    } else {
        ("true", "Make administrator")
    };
    view! {
        <tr>
            <th scope="row" id=label.clone()>
                <span class="member-name">{p.username.clone()}</span>
                <span class="field-hint">{badges}</span>
            </th>
            <td>{joined}</td>
            <td class="person-actions">
                {(p.id != me).then(|| view! {
                    <form class="mute-form" method="post" action=active_path>
                        <input type="hidden" name="user_id" value=id.clone() />
                        <button class="btn btn-ghost btn-small" type="submit" aria-describedby=label.clone()>{active_text}</button>
                    </form>
                })}
                {(!p.deactivated).then(|| view! {
                    <form class="mute-form" method="post" action=AdminResetLink::PATH>
                        <input type="hidden" name="user_id" value=id.clone() />
                        <button class="btn btn-ghost btn-small" type="submit" aria-describedby=label.clone()>"Reset password link"</button>
                    </form>
                })}
                <form class="mute-form" method="post" action=AdminClearProfile::PATH>
                    <input type="hidden" name="user_id" value=id.clone() />
                    <button class="btn btn-ghost btn-small" type="submit" aria-describedby=label.clone()>"Clear profile"</button>
                </form>
                // A deactivated administrator can still be made a plain member.
                {(!p.deactivated || p.admin).then(|| view! {
                    <form class="mute-form" method="post" action=AdminSetAdmin::PATH>
                        <input type="hidden" name="user_id" value=id.clone() />
                        <input type="hidden" name="on" value=admin_on />
                        <button class="btn btn-ghost btn-small" type="submit" aria-describedby=label.clone()>{admin_text}</button>
                    </form>
                })}
            </td>
        </tr>
    }
}

#[component]
fn Audit(audit: Vec<AuditEntry>) -> impl IntoView {
    view! {
        <section class="admin-section" id="audit" aria-labelledby="audit-title">
            <h2 id="audit-title">"Audit log"</h2>
            {if audit.is_empty() {
                view! { <p class="field-hint">"Nothing yet."</p> }.into_any()
            } else {
                view! {
                    <ol class="audit">
                        {audit.into_iter().map(|e| {
                            let who = e.actor.clone().unwrap_or_else(|| "the command line".into());
                            let whom = e.target.clone().map(|t| format!(" {t}")).unwrap_or_default();
                            let detail = match (e.action.as_str(), e.detail.is_empty()) {
                                (_, true) => String::new(),
                                ("signup_mode", false) => format!(" {}", e.detail),
                                _ => format!(" ({})", e.detail),
                            };
                            view! {
                                <li>
                                    <time datetime=iso_utc(e.at)>{iso_utc(e.at).replace('T', " ")}</time>
                                    {format!(" {who}: {}{whom}{detail}", describe(&e.action))}
                                </li>
                            }
                        }).collect_view()}
                    </ol>
                }.into_any()
            }}
        </section>
    }
}

/// An audit action in words.
fn describe(action: &str) -> &str {
    match action {
        "signup_mode" => "set sign-up to",
        "invitation_created" => "created invitation",
        "invitation_revoked" => "revoked invitation",
        "deactivated" => "deactivated",
        "reactivated" => "reactivated",
        "reset_link" => "made a password reset link for",
        "password_reset" => "set a new password through a reset link as",
        "admin_granted" => "made administrator:",
        "admin_revoked" => "removed as administrator:",
        other => other,
    }
}

/// `s` for a query string's value.
fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
