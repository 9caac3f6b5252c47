//! The link's state machine, in one enum ([`LinkState`]): which carrier the tab uses
//! (a WebSocket, or the SSE fallback with its background probe), and whether the link
//! is down, handshaking or open. Pure: the handle of an open link is a type parameter
//! (the browser's `WebSocket`/`EventSource` in `socket`, plain values in the tests),
//! the clock comes in as arguments, and every decision the heartbeat makes is
//! [`Link::tick`]. Opening, closing and timers are `socket`'s (and `wire`'s) job.

use super::Transport;

/// No frame for this long (no pong, no heartbeat event): the link is dead even if the
/// browser disagrees.
pub const DEAD_AFTER_MS: f64 = 45_000.0;
/// A WebSocket quiet for this long is pinged.
pub const PING_AFTER_MS: f64 = 20_000.0;
/// Unacknowledged messages are resent this often (same client id: harmless).
pub const RESEND_AFTER_MS: f64 = 10_000.0;
/// Failed handshakes in a row (never opened) before the SSE fallback is used.
pub const WS_FAILURES_BEFORE_SSE: u32 = 2;
/// On the fallback, how often a WebSocket is tried again in the background.
pub const PROBE_EVERY_MS: f64 = 180_000.0;

/// On the fallback: when to try a WebSocket again, and whether one is being tried.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Probe {
    pub at: f64,
    pub running: bool,
}

/// What the next link goes over, with what that carrier remembers across reconnects.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Carrier {
    /// `failures`: WebSocket handshakes that failed in a row (closed before `hello`).
    WebSocket { failures: u32 },
    /// The fallback is in use (WebSocket handshakes kept failing).
    Sse(Probe),
}

/// The state of the tab's link to the server; `L` is an open link's handle.
#[derive(Clone, Debug, PartialEq)]
pub enum LinkState<L> {
    /// No link: before the first attempt, waiting for a retry, or sent to sign in.
    Down(Carrier),
    /// A WebSocket that has not said `hello` yet (`failures` as in [`Carrier`]).
    WsConnecting { ws: L, failures: u32 },
    /// A WebSocket that said `hello`: frames go out on it.
    WsOpen { ws: L },
    /// The fallback's stream, before its `hello`.
    SseConnecting { stream: L, probe: Probe },
    /// The fallback after `hello`: frames go up as POSTs. `stream` may be a successor
    /// still waiting for its own `hello` (see [`Link::replace_stream`]).
    SseOpen { stream: L, probe: Probe },
}

/// What a closed WebSocket leads to (see [`Link::ws_closed`]).
#[derive(Debug, PartialEq)]
pub enum AfterClose {
    /// Too many failed handshakes: open the fallback now.
    FallBack,
    /// The link is lost: reconnect later (or sign in).
    Lost,
}

/// What the heartbeat (every second) does, in this order.
#[derive(Debug, Default, PartialEq)]
pub struct Tick {
    /// Close the link and reconnect.
    pub dead: bool,
    pub ping: bool,
    /// Try a WebSocket in the background (on the fallback).
    pub probe: bool,
    /// Send the outbox again.
    pub resend: bool,
}

/// The link's state, and a stream it replaces.
#[derive(Debug)]
pub struct Link<L> {
    state: LinkState<L>,
    /// A stream being replaced: closed once its successor says `hello` (so the server
    /// never sees this tab without a connection, and presence does not flicker).
    replaced: Option<L>,
}

impl<L> Default for Link<L> {
    fn default() -> Self {
        Link {
            state: LinkState::Down(Carrier::WebSocket { failures: 0 }),
            replaced: None,
        }
    }
}

impl<L: PartialEq> Link<L> {
    pub fn state(&self) -> &LinkState<L> {
        &self.state
    }

    /// The carrier of the next link, if none is open (or opening).
    pub fn next_carrier(&self) -> Option<Carrier> {
        match self.state {
            LinkState::Down(carrier) => Some(carrier),
            _ => None,
        }
    }

    /// A link was opened over [`Self::next_carrier`] (no-op if one is already there).
    pub fn opened(&mut self, link: L) {
        self.state = match self.state {
            LinkState::Down(Carrier::WebSocket { failures }) => {
                LinkState::WsConnecting { ws: link, failures }
            }
            LinkState::Down(Carrier::Sse(probe)) => LinkState::SseConnecting {
                stream: link,
                probe,
            },
            _ => return,
        };
    }

    /// The link, open or opening.
    pub fn current(&self) -> Option<&L> {
        match &self.state {
            LinkState::Down(_) => None,
            LinkState::WsConnecting { ws, .. } | LinkState::WsOpen { ws } => Some(ws),
            LinkState::SseConnecting { stream, .. } | LinkState::SseOpen { stream, .. } => {
                Some(stream)
            }
        }
    }

    pub fn is_current(&self, link: &L) -> bool {
        self.current() == Some(link)
    }

    /// The link if frames can go out (it said `hello`).
    pub fn open(&self) -> Option<&L> {
        match &self.state {
            LinkState::WsOpen { ws } => Some(ws),
            LinkState::SseOpen { stream, .. } => Some(stream),
            _ => None,
        }
    }

    /// This link is a WebSocket still waiting for its `hello`.
    pub fn handshaking(&self, link: &L) -> bool {
        matches!(&self.state, LinkState::WsConnecting { ws, .. } if ws == link)
    }

    pub fn transport(&self) -> Transport {
        match self.state {
            LinkState::Down(Carrier::Sse(_))
            | LinkState::SseConnecting { .. }
            | LinkState::SseOpen { .. } => Transport::Sse,
            _ => Transport::WebSocket,
        }
    }

    /// The current link said `hello`: it is open (a WebSocket's failures start over).
    /// Returns the stream it replaces, to close.
    pub fn hello(&mut self) -> Option<L> {
        let down = self.down();
        self.state = match std::mem::replace(&mut self.state, down) {
            LinkState::WsConnecting { ws, .. } | LinkState::WsOpen { ws } => {
                LinkState::WsOpen { ws }
            }
            LinkState::SseConnecting { stream, probe } | LinkState::SseOpen { stream, probe } => {
                LinkState::SseOpen { stream, probe }
            }
            // A `hello` with no link (as before: only the failures start over).
            LinkState::Down(Carrier::WebSocket { .. }) => {
                LinkState::Down(Carrier::WebSocket { failures: 0 })
            }
            down @ LinkState::Down(Carrier::Sse(_)) => down,
        };
        self.replaced.take()
    }

    /// `ws` closed. If it was the current link: a socket that closed before its
    /// `hello` is a failed handshake, and [`WS_FAILURES_BEFORE_SSE`] in a row move the
    /// tab to the fallback (first probe `probe_every` ms from `now`). `None` for a
    /// socket that was no longer current (replaced, or closed by this tab).
    pub fn ws_closed(&mut self, ws: &L, now: f64, probe_every: f64) -> Option<AfterClose> {
        if !self.is_current(ws) {
            return None;
        }
        let failures = match self.state {
            LinkState::WsConnecting { failures, .. } => failures + 1,
            _ => 0,
        };
        if failures >= WS_FAILURES_BEFORE_SSE {
            self.state = LinkState::Down(Carrier::Sse(Probe {
                at: now + probe_every,
                running: false,
            }));
            return Some(AfterClose::FallBack);
        }
        self.state = LinkState::Down(Carrier::WebSocket { failures });
        Some(AfterClose::Lost)
    }

    /// The link is gone (or given up): down, same carrier. Returns it, to close.
    pub fn lost(&mut self) -> Option<L> {
        let down = self.down();
        match std::mem::replace(&mut self.state, down) {
            LinkState::Down(_) => None,
            LinkState::WsConnecting { ws, .. } | LinkState::WsOpen { ws } => Some(ws),
            LinkState::SseConnecting { stream, .. } | LinkState::SseOpen { stream, .. } => {
                Some(stream)
            }
        }
    }

    /// The fallback resumes with a new stream (`successor`, or `None` if it could not be
    /// opened: down then). The open stream stays until the new one says `hello`; the
    /// one it was itself replacing is returned, to close now.
    pub fn replace_stream(&mut self, successor: Option<L>) -> Option<L> {
        let old = self.lost()?;
        let older = self.replaced.replace(old);
        if let (Some(stream), LinkState::Down(Carrier::Sse(probe))) = (successor, &self.state) {
            let probe = *probe;
            self.state = LinkState::SseOpen { stream, probe };
        }
        older
    }

    /// Whether a background WebSocket should be tried now.
    pub fn probe_due(&self, now: f64) -> bool {
        matches!(self.state, LinkState::SseOpen { probe, .. } if !probe.running && now >= probe.at)
    }

    /// A probe started; the next one is due `every` ms from `now`.
    pub fn probe_started(&mut self, now: f64, every: f64) {
        if let Some(probe) = self.probe_mut() {
            *probe = Probe {
                at: now + every,
                running: true,
            };
        }
    }

    /// The probe's socket closed.
    pub fn probe_ended(&mut self) {
        if let Some(probe) = self.probe_mut() {
            probe.running = false;
        }
    }

    /// The probe said `hello`: back to WebSocket, down (the caller connects). Returns
    /// the stream, to close.
    pub fn probe_succeeded(&mut self) -> Option<L> {
        let stream = self.lost();
        self.state = LinkState::Down(Carrier::WebSocket { failures: 0 });
        stream
    }

    /// The heartbeat's decisions at `now`, given when the last frame came and when the
    /// outbox was last sent. `None` without a link.
    pub fn tick(&self, now: f64, last_frame_at: f64, last_flush_at: f64) -> Option<Tick> {
        self.current()?;
        let online = self.open().is_some();
        let quiet = now - last_frame_at;
        let dead = quiet > DEAD_AFTER_MS;
        Some(Tick {
            dead,
            // The fallback's stream has heartbeat events of its own; POSTs need no ping.
            ping: !dead
                && online
                && quiet > PING_AFTER_MS
                && matches!(self.state, LinkState::WsOpen { .. }),
            probe: !dead && self.probe_due(now),
            // Decided before a dead link is closed (the resend then sends nothing).
            resend: online && now - last_flush_at > RESEND_AFTER_MS,
        })
    }

    /// The state once the link is down, keeping the carrier and what it remembers.
    fn down(&self) -> LinkState<L> {
        LinkState::Down(match self.state {
            LinkState::Down(carrier) => carrier,
            LinkState::WsConnecting { failures, .. } => Carrier::WebSocket { failures },
            LinkState::WsOpen { .. } => Carrier::WebSocket { failures: 0 },
            LinkState::SseConnecting { probe, .. } | LinkState::SseOpen { probe, .. } => {
                Carrier::Sse(probe)
            }
        })
    }

    fn probe_mut(&mut self) -> Option<&mut Probe> {
        match &mut self.state {
            LinkState::Down(Carrier::Sse(probe))
            | LinkState::SseConnecting { probe, .. }
            | LinkState::SseOpen { probe, .. } => Some(probe),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY: f64 = PROBE_EVERY_MS;

    fn ws(failures: u32) -> LinkState<u32> {
        LinkState::Down(Carrier::WebSocket { failures })
    }

    /// A link on the fallback, its stream `stream` open, the next probe at `at`.
    fn on_sse(stream: u32, at: f64) -> Link<u32> {
        let mut link = Link::default();
        link.opened(1);
        link.ws_closed(&1, 0.0, at);
        link.opened(2);
        assert_eq!(link.ws_closed(&2, 0.0, at), Some(AfterClose::FallBack));
        link.opened(stream);
        assert_eq!(link.hello(), None);
        link
    }

    #[test]
    fn two_failed_handshakes_in_a_row_switch_to_the_fallback() {
        let mut link = Link::default();
        assert_eq!(link.transport(), Transport::WebSocket);
        link.opened(1);
        assert!(link.handshaking(&1));
        assert_eq!(link.ws_closed(&1, 1_000.0, EVERY), Some(AfterClose::Lost));
        assert_eq!(link.state(), &ws(1));
        link.opened(2);
        assert_eq!(
            link.ws_closed(&2, 2_000.0, EVERY),
            Some(AfterClose::FallBack)
        );
        let probe = Probe {
            at: 2_000.0 + EVERY,
            running: false,
        };
        assert_eq!(link.state(), &LinkState::Down(Carrier::Sse(probe)));
        assert_eq!(link.next_carrier(), Some(Carrier::Sse(probe)));
        assert_eq!(link.transport(), Transport::Sse);
        link.opened(3);
        assert_eq!(link.state(), &LinkState::SseConnecting { stream: 3, probe });
    }

    #[test]
    fn a_socket_that_said_hello_starts_the_count_over() {
        let mut link = Link::default();
        link.opened(1);
        link.ws_closed(&1, 0.0, EVERY);
        link.opened(2);
        assert_eq!(link.hello(), None);
        assert_eq!(link.open(), Some(&2));
        assert!(!link.handshaking(&2));
        // Open, then closed: not a failed handshake.
        assert_eq!(link.ws_closed(&2, 0.0, EVERY), Some(AfterClose::Lost));
        assert_eq!(link.state(), &ws(0));
        link.opened(3);
        assert_eq!(link.ws_closed(&3, 0.0, EVERY), Some(AfterClose::Lost));
        assert_eq!(link.transport(), Transport::WebSocket);
    }

    #[test]
    fn a_socket_no_longer_current_changes_nothing() {
        let mut link = Link::default();
        link.opened(1);
        // Dead (heartbeat) or offline: closed by the tab, not a failed handshake.
        assert_eq!(link.lost(), Some(1));
        assert_eq!(link.ws_closed(&1, 0.0, EVERY), None);
        link.opened(2);
        assert_eq!(link.ws_closed(&1, 0.0, EVERY), None);
        assert!(link.is_current(&2));
        assert_eq!(link.ws_closed(&2, 0.0, EVERY), Some(AfterClose::Lost));
        assert_eq!(link.state(), &ws(1));
    }

    #[test]
    fn one_link_at_a_time() {
        let mut link = Link::default();
        link.opened(1);
        assert_eq!(link.next_carrier(), None);
        link.opened(2);
        assert!(link.is_current(&1));
        assert_eq!(link.open(), None);
    }

    #[test]
    fn the_probe_runs_when_due_and_only_on_an_open_fallback() {
        let mut link = Link::default();
        link.opened(1);
        link.ws_closed(&1, 0.0, EVERY);
        link.opened(2);
        link.ws_closed(&2, 0.0, EVERY);
        assert!(!link.probe_due(EVERY), "down");
        link.opened(3);
        assert!(!link.probe_due(EVERY), "no hello yet");
        link.hello();
        assert!(!link.probe_due(EVERY - 1.0));
        assert!(link.probe_due(EVERY));
        link.probe_started(EVERY, EVERY);
        assert!(!link.probe_due(EVERY * 3.0), "one at a time");
        // It failed: the next one waits its turn.
        link.probe_ended();
        assert!(!link.probe_due(EVERY * 2.0 - 1.0));
        assert!(link.probe_due(EVERY * 2.0));
        assert_eq!(link.transport(), Transport::Sse);
    }

    #[test]
    fn a_probe_that_says_hello_moves_back_to_websocket() {
        let mut link = on_sse(7, 100.0);
        link.probe_started(100.0, EVERY);
        assert_eq!(link.probe_succeeded(), Some(7));
        assert_eq!(link.state(), &ws(0));
        assert_eq!(link.transport(), Transport::WebSocket);
        link.opened(8);
        assert!(link.handshaking(&8));
    }

    #[test]
    fn a_resume_over_the_fallback_keeps_the_old_stream_until_the_new_says_hello() {
        let mut link = on_sse(5, 100.0);
        assert_eq!(link.replace_stream(Some(6)), None);
        // Still open for sending (POSTs) while the new stream connects.
        assert_eq!(link.open(), Some(&6));
        assert!(!link.is_current(&5));
        // Replaced again before its `hello`: the first one goes now.
        assert_eq!(link.replace_stream(Some(9)), Some(5));
        assert_eq!(link.hello(), Some(6));
        assert_eq!(link.hello(), None);
    }

    #[test]
    fn a_resume_stream_that_cannot_open_leaves_the_link_down() {
        let mut link = on_sse(5, 100.0);
        assert_eq!(link.replace_stream(None), None);
        assert!(matches!(link.state(), LinkState::Down(Carrier::Sse(_))));
        assert_eq!(link.transport(), Transport::Sse);
        link.opened(6);
        assert_eq!(link.hello(), Some(5));
    }

    #[test]
    fn the_heartbeat_pings_a_quiet_websocket_and_never_the_fallback() {
        let mut link = Link::default();
        assert_eq!(link.tick(100_000.0, 0.0, 0.0), None, "no link");
        link.opened(1);
        let tick = link.tick(30_000.0, 0.0, 0.0);
        assert_eq!(
            tick,
            Some(Tick::default()),
            "no ping nor resend before hello"
        );
        link.hello();
        let quiet = Tick {
            ping: true,
            ..Tick::default()
        };
        assert_eq!(link.tick(20_001.0, 0.0, 20_001.0), Some(quiet));
        assert_eq!(link.tick(20_000.0, 0.0, 20_000.0), Some(Tick::default()));
        let link = on_sse(5, 1e9);
        assert_eq!(link.tick(30_000.0, 0.0, 30_000.0), Some(Tick::default()));
    }

    #[test]
    fn the_heartbeat_closes_a_link_quiet_for_45_seconds() {
        let mut link = Link::default();
        link.opened(1);
        assert!(!link.tick(45_000.0, 0.0, 45_000.0).is_some_and(|t| t.dead));
        let tick = link.tick(45_001.0, 0.0, 45_001.0);
        assert_eq!(
            tick,
            Some(Tick {
                dead: true,
                ..Tick::default()
            })
        );
        // A dead fallback is not probed either.
        let link = on_sse(5, 0.0);
        assert_eq!(
            link.tick(50_000.0, 0.0, 50_000.0).map(|t| t.probe),
            Some(false)
        );
        assert_eq!(
            link.tick(50_000.0, 10_000.0, 50_000.0).map(|t| t.probe),
            Some(true)
        );
    }

    #[test]
    fn the_heartbeat_resends_the_outbox_every_10_seconds_while_open() {
        let mut link = Link::default();
        link.opened(1);
        assert_eq!(
            link.tick(10_001.0, 10_000.0, 0.0).map(|t| t.resend),
            Some(false)
        );
        link.hello();
        assert_eq!(
            link.tick(10_000.0, 10_000.0, 0.0).map(|t| t.resend),
            Some(false)
        );
        assert_eq!(
            link.tick(10_001.0, 10_000.0, 0.0).map(|t| t.resend),
            Some(true)
        );
        let link = on_sse(5, 1e9);
        assert_eq!(
            link.tick(10_001.0, 10_000.0, 0.0).map(|t| t.resend),
            Some(true)
        );
    }
}
