//! Full-text search over the messages of the chats a user is a member of: SQLite FTS5
//! (`messages_fts`, migrations/sqlite/0005) or PostgreSQL full text
//! (`messages_search`, migrations/postgres/0003). Same query rules and result shape on
//! both: every word of the query must match the start of a word of the message.
//!
//! Shared files are found by name too (issue 32): a message one of whose files has every
//! word of the query in its name is a hit, its snippet the file's name. Names are
//! matched as text (`report` finds `q3-report.pdf`): they are short, and file names
//! join words with `-`, `_` and `.` rather than spaces.

use super::chats::{display_title, kind};
use super::{Pool, Store};
use crate::model::AppError;
use crate::model::{ChatId, MessageId, SearchHit, SearchPage, UserId, SEARCH_PAGE_SIZE};
use crate::server::base::error::{Error, Result};
use std::collections::HashMap;

/// Marks around matched words in the snippet the database returns (private-use code
/// points: they never need escaping and are split off before anything is shown).
const START: char = '\u{E000}';
const STOP: char = '\u{E001}';

/// At most this many words of a query count, each at most this many characters.
const MAX_TERMS: usize = 8;
const MAX_TERM_CHARS: usize = 64;
/// Shorter words match whole words only: the start of a word of one or two letters is
/// a good part of everything ever written, which both databases would gather whole
/// before the first page (seconds over ten million messages; BENCHMARKS.md, issue 31).
/// SQLite's index has prefixes of 3 and 4 letters (migrations/sqlite/0010).
const MIN_PREFIX_CHARS: usize = 3;

/// Indexer steps a search runs first, at most, if the committer has fallen behind
/// (≤ 2 M characters: 4 steps left a test's last message unfound behind a backlog of
/// long hostile bodies, once in CI).
const SEARCH_CATCH_UP_STEPS: usize = 32;

/// Whether a query word matches the starts of words, or only whole words. Words in
/// scripts written without spaces (Chinese, Japanese; Korean words are short) stay
/// prefixes at any length: a sentence is one token there, and "東京" must find
/// "東京に行きます".
fn as_prefix(term: &str) -> bool {
    term.chars().count() >= MIN_PREFIX_CHARS || !term.is_ascii()
}

#[derive(sqlx::FromRow)]
struct HitRow {
    message_id: MessageId,
    chat_id: ChatId,
    seq: i64,
    sender: String,
    created_at: i64,
    kind: String,
    title: Option<String>,
    other_name: Option<String>,
    snippet: String,
}

/// The query's words: letters and digits only, lower case. Everything else separates
/// words, so nothing a user types reaches either database's query syntax.
fn terms(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(MAX_TERMS)
        .map(|w| {
            w.chars()
                .take(MAX_TERM_CHARS)
                .collect::<String>()
                .to_lowercase()
        })
        .collect()
}

/// The chat title columns shared by both queries (`c` the chat, `$1` the reader). The
/// other member only where a title needs one: for a hit in a channel of 10 000 it
/// sorted all of them (issue 31).
macro_rules! hit_columns {
    () => {
        "m.id AS message_id, m.chat_id, m.seq, COALESCE(NULLIF(u.display_name, ''), u.username) AS sender, m.created_at,
         c.kind, c.title,
         CASE WHEN c.kind = 'direct' OR c.title IS NULL THEN
           (SELECT COALESCE(NULLIF(ou.display_name, ''), ou.username) FROM chat_members o JOIN users ou ON ou.id = o.user_id
             WHERE o.chat_id = c.id AND o.user_id != $1
             ORDER BY o.joined_at, o.user_id LIMIT 1) END AS other_name"
    };
}

const SQLITE: &str = concat!(
    "SELECT ",
    hit_columns!(),
    ", snippet(messages_fts, 0, char(57344), char(57345), '…', 24) AS snippet
     FROM messages_fts
     CROSS JOIN messages m ON m.id = messages_fts.rowid
     CROSS JOIN chat_members cm ON cm.chat_id = m.chat_id AND cm.user_id = $1
     CROSS JOIN chats c ON c.id = m.chat_id
     CROSS JOIN users u ON u.id = m.sender_id
     WHERE messages_fts MATCH $2 AND messages_fts.rowid < $3 AND m.deleted_at IS NULL
     ORDER BY messages_fts.rowid DESC LIMIT 21"
);

/// PostgreSQL's match of a message `m` against the query `$2`, behind a cheap
/// necessary condition: the body holds the query's longest word (`$5`, or '' when a
/// word is not ASCII, whose case folding may differ between `lower` and the text
/// search parser). `to_tsvector` costs ~6 µs a message, the condition ~0.3: the
/// walks below look at up to a few thousand messages.
macro_rules! pg_match {
    () => {
        "strpos(lower(m.body), $5) > 0
         AND to_tsvector('simple', m.body) @@ to_tsquery('simple', $2)
         AND m.deleted_at IS NULL"
    };
}

/// Step one: the newest [`PG_WINDOW`] message ids of the instance (`$4` up to `$3`),
/// walked newest first in the reader's (`$1`) chats. Enough alone when the reader's
/// chats are where the instance is busy; exact whenever it finds a page.
const PG_NEWEST: &str = concat!(
    "SELECT m.id FROM messages m WHERE ",
    pg_match!(),
    " AND m.chat_id IN (SELECT chat_id FROM chat_members WHERE user_id = $1)
      AND m.id >= $4 AND m.id < $3
     ORDER BY m.id DESC LIMIT 21"
);

/// The reader's (`$1`) chats with their newest message below `$2`, for step two's
/// order (an index-only probe each).
const PG_MY_CHATS: &str = "SELECT cm.chat_id,
       (SELECT max(w.id) FROM messages w WHERE w.chat_id = cm.chat_id AND w.id < $2)
     FROM chat_members cm WHERE cm.user_id = $1";

/// Step two: some of the reader's chats (`$4`), each walked newest first from its own
/// bound (`$6`: the ids at most that it has not seen), through at most `$3` of its
/// messages, up to a page of matches each. Returns one row per chat and match (`id`
/// NULL for a chat without one) with `beyond`, the id of the chat's first message past
/// the window (NULL when the window reached the chat's start). Cost bounded by chats ×
/// window whatever the data holds (issue 31: the instance-wide window alone sent a
/// common word to the search index, 18 s over ten million messages, when the reader's
/// chats were not the instance's newest). Memberships are probed by key, so a reader
/// in thousands of chats costs each statement only its own chats.
const PG_BY_CHAT: &str = concat!(
    "WITH mine AS MATERIALIZED (
       SELECT s.chat_id, s.upto,
         (SELECT w.id FROM messages w WHERE w.chat_id = s.chat_id AND w.id <= s.upto
           ORDER BY w.id DESC OFFSET $3 LIMIT 1) AS beyond
       FROM unnest($4::bigint[], $6::bigint[]) AS s(chat_id, upto)
       JOIN chat_members cm ON cm.chat_id = s.chat_id AND cm.user_id = $1)
     SELECT mine.chat_id, mine.beyond, h.id FROM mine LEFT JOIN LATERAL (
       SELECT m.id FROM messages m
       WHERE m.chat_id = mine.chat_id AND m.id <= mine.upto AND m.id > COALESCE(mine.beyond, 0) AND ",
    pg_match!(),
    " ORDER BY m.id DESC LIMIT 21) h ON true"
);

/// Step three, only for the chats whose window had less than a page of matches and
/// whose older messages could still be on this page: those older messages (`$3`: the
/// chats, `$4`: each one's `beyond`), newer than the page's last hit so far (`$6`, 0
/// without a full page), through the search index alone: the words were rare in those
/// chats' windows, so they are likely rare. `+ 0` keeps the planner off the chats'
/// indexes: with them it walked each chat's older messages to intersect them with the
/// index (0.4–0.6 s a search for a rare word over ten million messages, against
/// 2 ms from the index alone). A word common elsewhere but rare in the reader's busy
/// chats still costs what the index gathers for it (BENCHMARKS.md, issue 31).
const PG_OLDER: &str = concat!(
    "SELECT m.id FROM messages m
     JOIN unnest($3::bigint[], $4::bigint[]) AS older(chat_id, upto)
       ON older.chat_id = m.chat_id + 0 AND m.id + 0 <= older.upto
     WHERE m.chat_id + 0 IN (SELECT chat_id FROM chat_members WHERE user_id = $1)
       AND m.id > $6 AND ",
    pg_match!(),
    " ORDER BY m.id + 0 DESC LIMIT 21"
);

/// The rare words' plan: every match of the instance through the search index, at most
/// `$4` of them (`$5` probe, `$2` query), and of those the newest page in the reader's
/// (`$1`) chats below `$3`. `matches` tells whether the limit cut the list short.
const PG_RARE: &str = concat!(
    "WITH found AS MATERIALIZED (
       SELECT m.id, m.chat_id FROM messages m WHERE ",
    pg_match!(),
    " LIMIT $4)
     SELECT (SELECT count(*) FROM found) AS matches,
       ARRAY(SELECT id FROM found
             WHERE id < $3 AND chat_id IN (SELECT chat_id FROM chat_members WHERE user_id = $1)
             ORDER BY id DESC LIMIT 21) AS ids"
);

/// The page's hits, by id (`$3`), with what a hit shows.
const PG_HITS: &str = concat!(
    "SELECT ",
    hit_columns!(),
    ", ts_headline('simple', m.body, to_tsquery('simple', $2),
         'StartSel=' || chr(57344) || ', StopSel=' || chr(57345) || CASE
           -- A chat-sized message whole (fragments would drop its last punctuation).
           WHEN length(m.body) <= 280 THEN ', HighlightAll=true'
           ELSE ', MaxWords=30, MinWords=12, MaxFragments=2, FragmentDelimiter=\" … \"' END
       ) AS snippet
     FROM messages m
     JOIN chats c ON c.id = m.chat_id
     JOIN users u ON u.id = m.sender_id
     WHERE m.id = ANY($3)
     ORDER BY m.id DESC"
);

/// Messages of the reader's chats (`$1`) older than `$2` with a stored file whose name
/// has every word: the `lower(f.name) LIKE` conditions are appended, one per word
/// (`$4`...), and the query closed by [`FILES_TAIL`]. Words are letters and digits
/// only ([`terms`]), so none carries a `LIKE` wildcard. No index serves `LIKE '%w%'`:
/// the scan is bounded to the newest [`FILES_WINDOW`] files of the instance (`$3`), so
/// one search costs the same whoever fills a chat with files.
const FILES_WINDOW: i64 = 20_000;
const FILES_HEAD: &str = "WITH found AS (
       SELECT f.message_id AS id, MIN(f.name) AS name FROM files f
       WHERE f.state = 1 AND f.message_id < $2
         AND f.id >= (SELECT COALESCE(MAX(id), 0) FROM files) - $3
         AND f.chat_id IN (SELECT chat_id FROM chat_members WHERE user_id = $1)";
const FILES_TAIL: &str = concat!(
    " GROUP BY f.message_id ORDER BY f.message_id DESC LIMIT 21)
     SELECT ",
    hit_columns!(),
    ", found.name AS snippet
     FROM found
     JOIN messages m ON m.id = found.id
     JOIN chats c ON c.id = m.chat_id
     JOIN users u ON u.id = m.sender_id
     WHERE m.deleted_at IS NULL
     ORDER BY m.id DESC"
);

/// The file-name query for `n` words.
fn files_sql(n: usize) -> String {
    let mut sql = FILES_HEAD.to_string();
    for i in 0..n {
        sql.push_str(&format!(" AND lower(f.name) LIKE ${}", i + 4));
    }
    sql.push_str(FILES_TAIL);
    sql
}

/// `name` marked where the `terms` are, for [`pieces`]. Case folded a character at a
/// time, so the marks fall on the name's own characters.
fn mark_name(name: &str, terms: &[String]) -> String {
    // A name never carries the marks themselves (`validate::file_name`), whatever an
    // older row holds.
    let chars: Vec<char> = name.chars().filter(|c| *c != START && *c != STOP).collect();
    let folded: Vec<char> = chars
        .iter()
        .map(|c| c.to_lowercase().next().unwrap_or(*c))
        .collect();
    let mut hit = vec![false; chars.len()];
    for term in terms {
        let t: Vec<char> = term.chars().collect();
        if t.is_empty() || t.len() > folded.len() {
            continue;
        }
        for start in 0..=folded.len() - t.len() {
            if folded[start..start + t.len()] == t[..] {
                hit[start..start + t.len()].fill(true);
            }
        }
    }
    let mut out = String::from("File: ");
    let mut inside = false;
    for (c, h) in chars.iter().zip(hit) {
        if h != inside {
            out.push(if h { START } else { STOP });
            inside = h;
        }
        out.push(*c);
    }
    if inside {
        out.push(STOP);
    }
    out
}

/// The longest query word, for [`pg_match`]'s necessary condition; '' (always
/// true) when a word is not ASCII.
fn probe(terms: &[String]) -> String {
    if terms.iter().any(|t| !t.is_ascii()) {
        return String::new();
    }
    terms
        .iter()
        .max_by_key(|t| t.len())
        .cloned()
        .unwrap_or_default()
}

/// What step two has seen of one chat: how many matches, and the newest id it has not
/// looked at yet (all below it are unseen too); `None` once it reached the chat's start.
struct Walked {
    hits: usize,
    upto: Option<i64>,
}

/// Which chats must be searched further: those with less than a page of matches seen
/// whose unseen messages go on past the page's last hit so far (`ids`, newest first).
/// Any other chat's unseen matches are older than a full page. Newest first.
fn chats_to_search_further(walked: &HashMap<i64, Walked>, ids: &[i64]) -> (Vec<i64>, Vec<i64>) {
    let last = last_hit(ids);
    let mut short: Vec<(i64, i64)> = walked
        .iter()
        .filter_map(|(chat, w)| match w.upto {
            Some(upto) if w.hits < PAGE_ROWS && upto > last => Some((*chat, upto)),
            _ => None,
        })
        .collect();
    short.sort_unstable_by_key(|(_, upto)| std::cmp::Reverse(*upto));
    short.into_iter().unzip()
}

/// The page's last hit so far (`ids` newest first), or 0 while it is not full.
fn last_hit(ids: &[i64]) -> i64 {
    ids.get(PAGE_ROWS - 1).copied().unwrap_or(0)
}

/// Ids as a page wants them: newest first, each once.
fn newest_first(ids: &mut Vec<i64>) {
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids.dedup();
}

/// A page and one more, to tell whether there is a next page (the SQL's `LIMIT 21`).
const PAGE_ROWS: usize = SEARCH_PAGE_SIZE as usize + 1;

/// How many messages the planner expects to match `q`, from the search index's
/// statistics (an `EXPLAIN`, ~1 ms: nothing is run). It tells a rare word (6 171
/// expected for "zanzibar" over ten million messages, 117 found) from a common one
/// (5.5 million for "the").
async fn pg_expected_rows(tx: &mut sqlx::PgConnection, q: &str) -> Result<i64> {
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT 1 FROM messages m WHERE to_tsvector('simple', m.body) @@ to_tsquery('simple', $1)",
    )
    .bind(q)
    .persistent(false)
    .fetch_all(&mut *tx)
    .await?;
    Ok(plan.first().map_or(i64::MAX, |top| plan_rows(top)))
}

/// The `rows=` estimate of an `EXPLAIN` line; unreadable counts as many.
fn plan_rows(line: &str) -> i64 {
    line.split_once("rows=")
        .and_then(|(_, rest)| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .unwrap_or(i64::MAX)
}

/// How PostgreSQL searches: words expected in at most `rare_rows` messages go to the
/// index at once; otherwise the walks look at up to `walk_rows` rows.
#[derive(Clone, Copy)]
struct Plan {
    rare_rows: i64,
    walk_rows: i64,
}

impl Plan {
    const DEFAULT: Plan = Plan {
        rare_rows: PG_RARE_ROWS,
        walk_rows: PG_WALK_ROWS,
    };
}

/// At most this many expected matches, a search goes to the index at once: its heap
/// reads are then few (a few ms), where the walks cost ~25 ms for a reader in 100
/// chats.
const PG_RARE_ROWS: i64 = 20_000;

/// PostgreSQL's SQLSTATE for a statement cancelled by `statement_timeout`.
const QUERY_CANCELED: &str = "57014";

/// The ids of a page of PostgreSQL matches, newest first: [`PG_NEWEST`], then
/// [`PG_BY_CHAT`], then [`PG_OLDER`], each only when the ones before cannot be sure
/// of the page.
async fn pg_found(
    tx: &mut sqlx::PgConnection,
    user: UserId,
    q: &str,
    probe: &str,
    before: i64,
    plan: Plan,
) -> Result<Vec<i64>> {
    let rare_rows = plan.rare_rows;
    // The window's lower bound as a value, not a subquery, so that the planner sees
    // how narrow it is. A next page starts below `before`; only a first page needs
    // the newest id.
    let top = match before {
        i64::MAX => sqlx::query_scalar::<_, Option<i64>>("SELECT max(id) FROM messages")
            .fetch_one(&mut *tx)
            .await?
            .unwrap_or(0)
            .saturating_add(1),
        b => b,
    };
    // Words the planner expects in few messages: the search index alone, at once (the
    // walks below would look at every chat's window before finding that out). Counted
    // as they are read, since the planner's statistics can be stale (a word added to
    // a tenth of all messages since the last analyse is still "rare" to it): more than
    // `rare_rows`, and the walks take over.
    if pg_expected_rows(tx, q).await? <= rare_rows {
        let (matches, ids): (i64, Vec<i64>) = sqlx::query_as(PG_RARE)
            .bind(user)
            .bind(q)
            .bind(top)
            .bind(rare_rows.saturating_add(1))
            .bind(probe)
            .persistent(false)
            .fetch_one(&mut *tx)
            .await?;
        if matches <= rare_rows {
            return Ok(ids);
        }
    }
    let mut ids: Vec<i64> = sqlx::query_scalar(PG_NEWEST)
        .bind(user)
        .bind(q)
        .bind(top)
        .bind(top.saturating_sub(PG_WINDOW))
        .bind(probe)
        // Planned for these values each time: a generic plan cached after a few calls
        // would not know the window's width.
        .persistent(false)
        .fetch_all(&mut *tx)
        .await?;
    if ids.len() >= PAGE_ROWS {
        return Ok(ids);
    }
    // Step two, in rounds: first every chat through a window of its newest messages,
    // then the chats that could still change the page (less than a page of matches seen,
    // unseen messages newer than its last hit) through windows four times as wide, the
    // chats with the newest unseen messages first, a few per statement, as long as the
    // budget of rows lasts. Once the page is full, a chat whose unseen messages are all
    // older than its last hit cannot change it, so quiet chats cost nothing.
    let chats: Vec<(i64, Option<i64>)> = sqlx::query_as(PG_MY_CHATS)
        .bind(user)
        .bind(top)
        .fetch_all(&mut *tx)
        .await?;
    let mut walked: HashMap<i64, Walked> = chats
        .into_iter()
        .filter_map(|(chat, newest)| {
            newest.map(|n| {
                (
                    chat,
                    Walked {
                        hits: 0,
                        upto: Some(n),
                    },
                )
            })
        })
        .collect();
    let mut budget = plan.walk_rows;
    let mut window = PG_CHAT_WINDOW;
    'rounds: loop {
        let (short, _) = chats_to_search_further(&walked, &ids);
        if short.is_empty() {
            break;
        }
        for step in short.chunks(PG_CHATS_PER_STEP) {
            // Bounds as they are now: an earlier statement may have filled the page.
            let last = last_hit(&ids);
            let step: Vec<(i64, i64)> = step
                .iter()
                .filter_map(|chat| {
                    let w = walked.get(chat)?;
                    w.upto.filter(|u| *u > last).map(|u| (*chat, u))
                })
                .collect();
            if step.is_empty() {
                continue;
            }
            let cost = window.saturating_mul(step.len() as i64);
            if cost > budget {
                break 'rounds;
            }
            budget -= cost;
            let (step_chats, uptos): (Vec<i64>, Vec<i64>) = step.into_iter().unzip();
            let rows: Vec<(i64, Option<i64>, Option<i64>)> = sqlx::query_as(PG_BY_CHAT)
                .bind(user)
                .bind(q)
                .bind(window)
                .bind(&step_chats)
                .bind(probe)
                .bind(&uptos)
                .persistent(false)
                .fetch_all(&mut *tx)
                .await?;
            // A chat the reader left meanwhile comes back with no row: nothing to see.
            for chat in &step_chats {
                if let Some(w) = walked.get_mut(chat) {
                    w.upto = None;
                }
            }
            for (chat, beyond, id) in rows {
                if let Some(w) = walked.get_mut(&chat) {
                    w.upto = beyond;
                    if let Some(id) = id {
                        w.hits += 1;
                        ids.push(id);
                    }
                }
            }
            newest_first(&mut ids);
        }
        window = window.saturating_mul(4);
    }
    // Step three: what the walks could not settle, through the search index.
    let (chats, upto) = chats_to_search_further(&walked, &ids);
    if !chats.is_empty() {
        let older: Vec<i64> = sqlx::query_scalar(PG_OLDER)
            .bind(user)
            .bind(q)
            .bind(&chats)
            .bind(&upto)
            .bind(probe)
            .bind(last_hit(&ids))
            .persistent(false)
            .fetch_all(&mut *tx)
            .await?;
        ids.extend(older);
        newest_first(&mut ids);
    }
    ids.truncate(PAGE_ROWS);
    Ok(ids)
}

/// How many of each chat's newest messages step two's first round walks (~0.3 µs each,
/// ~6 µs for a chat-sized one holding the longest word); each later round four times
/// as many for the chats still short of a page.
const PG_CHAT_WINDOW: i64 = 200;
/// The rows step two may walk in all (~20–40 ms); what is left goes to the index.
const PG_WALK_ROWS: i64 = 60_000;
/// Chats walked per statement of step two.
const PG_CHATS_PER_STEP: usize = 25;

/// How many of the newest message ids the first PostgreSQL plan may walk (~5 µs each
/// when it has to look at all of them: each body's tsvector is computed).
const PG_WINDOW: i64 = 1000;

impl Store {
    /// Messages of `user`'s chats matching every word of `query`, newest first, a page
    /// of [`SEARCH_PAGE_SIZE`] older than message `before`.
    pub async fn search(
        &self,
        user: UserId,
        query: &str,
        before: Option<MessageId>,
    ) -> Result<SearchPage> {
        self.search_planned(user, query, before, Plan::DEFAULT)
            .await
    }

    /// [`Store::search`] as if on a database large enough that PostgreSQL never takes
    /// the words for rare: its walks, which a test's few messages would not reach,
    /// through at most `walk_rows` rows before the index takes the rest.
    #[doc(hidden)]
    pub async fn search_walking(
        &self,
        user: UserId,
        query: &str,
        before: Option<MessageId>,
        walk_rows: i64,
    ) -> Result<SearchPage> {
        self.search_planned(
            user,
            query,
            before,
            Plan {
                rare_rows: -1,
                walk_rows,
            },
        )
        .await
    }

    /// [`Store::search`], on PostgreSQL by `plan`.
    async fn search_planned(
        &self,
        user: UserId,
        query: &str,
        before: Option<MessageId>,
        plan: Plan,
    ) -> Result<SearchPage> {
        let terms = terms(query);
        if terms.is_empty() {
            return Ok(SearchPage {
                hits: Vec::new(),
                next_before: None,
            });
        }
        let before = before.map_or(i64::MAX, |m| m.0);
        let mut rows = match &self.pool {
            Pool::Sqlite(p) => {
                self.catch_up_index().await;
                let q: Vec<String> = terms
                    .iter()
                    .map(|t| format!("\"{t}\"{}", if as_prefix(t) { "*" } else { "" }))
                    .collect();
                sqlx::query_as::<_, HitRow>(SQLITE)
                    .bind(user)
                    .bind(q.join(" "))
                    .bind(before)
                    .fetch_all(p)
                    .await?
            }
            Pool::Postgres(p) => {
                let q: Vec<String> = terms
                    .iter()
                    .map(|t| format!("{t}{}", if as_prefix(t) { ":*" } else { "" }))
                    .collect();
                let q = q.join(" & ");
                // One snapshot for every step and the hits' rows: a message deleted or
                // a chat left in between is not shown by one and not the other.
                let mut tx = p.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                // One round trip for the transaction's settings and the locale:
                // room for the search index's bitmap (with the default 4 MB a common
                // prefix's bitmap turns lossy and every row of every page it names is
                // read and its tsvector computed again: 9 s → 0.7 s for three common
                // words rare together over ten million messages; BENCHMARKS.md), and a
                // backstop (whatever the data, a search gives up rather than hold a
                // connection and a core; the steps keep the usual cost far lower).
                // `lower` folds case as the text search parser does only with the
                // operating system's locales ('c'; ICU lower-cases "İ" to "i̇", the
                // parser to "i"): with any other provider the probe could hide hits, so
                // there is none. NULL before PostgreSQL 15, which had only those.
                let provider: Option<String> = sqlx::query_scalar(
                    "SELECT to_jsonb(d) ->> 'datlocprovider' FROM pg_database d,
                       set_config('work_mem', '64MB', true) AS w,
                       set_config('statement_timeout', '5s', true) AS t
                     WHERE datname = current_database()",
                )
                .fetch_one(&mut *tx)
                .await?;
                let probe = match provider.as_deref() {
                    None | Some("c") => probe(&terms),
                    Some(_) => String::new(),
                };
                let ids = match pg_found(&mut tx, user, &q, &probe, before, plan).await {
                    Err(Error::Db(sqlx::Error::Database(e)))
                        if e.code().as_deref() == Some(QUERY_CANCELED) =>
                    {
                        return Err(AppError::Invalid(
                            "This search would take too long: add a longer or rarer word".into(),
                        )
                        .into());
                    }
                    found => found?,
                };
                let rows = sqlx::query_as::<_, HitRow>(PG_HITS)
                    .bind(user)
                    .bind(&q)
                    .bind(&ids)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                rows
            }
        };
        // Hits by file name, merged in: newest first, a message once (its text hit
        // first), the page cut as before.
        // Names are matched anywhere in them: a word of one or two letters would match
        // most names, so only longer words search them (as prefixes do for text).
        let name_terms = terms.iter().all(|t| as_prefix(t));
        let sql = files_sql(terms.len());
        let patterns: Vec<String> = terms.iter().map(|t| format!("%{t}%")).collect();
        let by_name: Vec<HitRow> = if name_terms {
            on_pool!(&self.pool, p => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(user)
                    .bind(before)
                    .bind(FILES_WINDOW);
                for pattern in patterns {
                    q = q.bind(pattern);
                }
                q.fetch_all(p).await?
            })
        } else {
            Vec::new()
        };
        if !by_name.is_empty() {
            rows.extend(by_name.into_iter().map(|mut r| {
                r.snippet = mark_name(&r.snippet, &terms);
                r
            }));
            rows.sort_by_key(|r| std::cmp::Reverse(r.message_id));
            rows.dedup_by_key(|r| r.message_id);
        }
        let more = rows.len() as i64 > SEARCH_PAGE_SIZE;
        rows.truncate(SEARCH_PAGE_SIZE as usize);
        let next_before = more.then(|| rows.last().map(|r| r.message_id)).flatten();
        let hits = rows
            .into_iter()
            .map(|r| {
                let k = kind(&r.kind)?;
                Ok(SearchHit {
                    chat_id: r.chat_id,
                    chat_title: display_title(k, r.title, r.other_name),
                    message_id: r.message_id,
                    seq: r.seq,
                    sender: r.sender,
                    created_at: r.created_at,
                    snippet: pieces(&r.snippet),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(SearchPage { hits, next_before })
    }
}

/// One step of the search indexer: at most this many messages …
pub const INDEX_STEP_ROWS: i64 = 512;
/// … and this many characters of them, past the first (a step of long messages of
/// distinct words took ~0.5 s before this bound, holding the committer).
const INDEX_STEP_CHARS: i64 = 64 * 1024;

/// The ids one step covers: after `upto`, bounded in rows and characters.
const STEP_RANGE_SQL: &str = "SELECT s.upto, (
       SELECT MAX(id) FROM (
         SELECT id, SUM(length(body)) OVER (ORDER BY id) AS total,
                ROW_NUMBER() OVER (ORDER BY id) AS n
         FROM (SELECT id, body FROM messages WHERE id > s.upto ORDER BY id LIMIT $1))
       WHERE n = 1 OR total <= $2)
     FROM search_indexed s";

impl Store {
    /// One step of SQLite's search indexer: adds the oldest messages not yet in the
    /// index (at most `rows`, and [`INDEX_STEP_CHARS`] of text) and returns how many.
    /// Called by the message committer between batches, and by a search before it
    /// looks. On the committer's connection, so it never waits for SQLite's write lock
    /// behind a batch, and no message is stored meanwhile. PostgreSQL indexes in the
    /// commit (its GIN index defers its own work): nothing to do.
    pub async fn index_pending(&self, rows: i64) -> Result<u64> {
        let Pool::Sqlite(pool) = &self.pool else {
            return Ok(0);
        };
        let mut slot = self.batch_conn.lock().await;
        let conn = super::messages::batch::batch_conn(pool, &mut slot).await?;
        // Nothing pending (the usual case): no write lock taken.
        let pending: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE id > (SELECT upto FROM search_indexed))",
        )
        .fetch_one(&mut *conn)
        .await?;
        if !pending {
            return Ok(0);
        }
        // A failed BEGIN leaves no transaction to undo.
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        let step = async {
            let (from, to): (i64, Option<i64>) = sqlx::query_as(STEP_RANGE_SQL)
                .bind(rows.max(1))
                .bind(INDEX_STEP_CHARS)
                .fetch_one(&mut *conn)
                .await?;
            let mut added = 0;
            if let Some(to) = to {
                added = sqlx::query(
                    "INSERT INTO messages_fts (rowid, body)
                     SELECT id, body FROM messages WHERE id > $1 AND id <= $2",
                )
                .bind(from)
                .bind(to)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                sqlx::query("UPDATE search_indexed SET upto = $1")
                    .bind(to)
                    .execute(&mut *conn)
                    .await?;
            }
            sqlx::query("COMMIT").execute(&mut *conn).await?;
            Ok::<u64, sqlx::Error>(added)
        };
        match step.await {
            Ok(added) => Ok(added),
            Err(e) => {
                // Never leave a transaction open on the committer's connection.
                if sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
                    *slot = None;
                }
                Err(e.into())
            }
        }
    }

    /// A search's catch-up: a few indexer steps, so that one's own message is found the
    /// moment it is acknowledged. Bounded (the committer does the rest when idle), and
    /// a failure only means the newest messages may not be found yet.
    async fn catch_up_index(&self) {
        for _ in 0..SEARCH_CATCH_UP_STEPS {
            match self.index_pending(INDEX_STEP_ROWS).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "search: indexing the newest messages failed");
                    break;
                }
            }
        }
    }
}

/// Splits a marked snippet into (text, matched) pieces.
fn pieces(marked: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut matched = false;
    for part in marked.split([START, STOP]) {
        if !part.is_empty() {
            out.push((part.to_string(), matched));
        }
        matched = !matched;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_words_never_carry_syntax() {
        assert_eq!(terms("Hello, wörld!"), vec!["hello", "wörld"]);
        assert_eq!(
            terms("\"a\" OR b* NEAR(c) -d :e & f | !g"),
            vec!["a", "or", "b", "near", "c", "d", "e", "f", "g"]
                .into_iter()
                .take(8)
                .collect::<Vec<_>>()
        );
        assert!(terms("  ** ").is_empty());
    }

    #[test]
    fn file_names_are_marked_where_the_words_are() {
        let marked = mark_name("Q3-Report_FINAL.pdf", &["report".into(), "final".into()]);
        assert_eq!(
            pieces(&marked),
            vec![
                ("File: Q3-".to_string(), false),
                ("Report".to_string(), true),
                ("_".to_string(), false),
                ("FINAL".to_string(), true),
                (".pdf".to_string(), false)
            ]
        );
        assert_eq!(
            pieces(&mark_name("x", &["y".into()])),
            vec![("File: x".to_string(), false)]
        );
        assert_eq!(files_sql(2).matches("LIKE").count(), 2);
        assert!(files_sql(2).contains("LIKE $5"));
    }

    #[test]
    fn the_probe_is_the_longest_word_unless_one_is_not_ascii() {
        assert_eq!(
            probe(&["the".into(), "deploy".into(), "fix".into()]),
            "deploy"
        );
        assert_eq!(probe(&["deploy".into(), "école".into()]), "");
        assert_eq!(probe(&[]), "");
    }

    #[test]
    fn only_chats_that_could_still_hold_a_newer_hit_are_searched_further() {
        let walked = |hits, upto| Walked { hits, upto };
        let map: HashMap<i64, Walked> = [
            (1, walked(21, Some(500))), // a page of its own: nothing older can beat it
            (2, walked(3, None)),       // its window held the whole chat
            (3, walked(2, Some(900))),  // goes on past 900: may hold hits above 800
            (4, walked(0, Some(700))),  // past 700 only: older than a full page
        ]
        .into_iter()
        .collect();
        let page: Vec<i64> = (0..21).map(|i| 1000 - i * 10).collect(); // 1000 … 800
        let (chats, upto) = chats_to_search_further(&map, &page);
        assert_eq!((chats, upto), (vec![3], vec![900]));
        // Less than a page so far: every chat that goes on, the newest unseen first.
        let (chats, _) = chats_to_search_further(&map, &page[..5]);
        assert_eq!(chats, vec![3, 4]);
    }

    #[test]
    fn plan_rows_reads_the_estimate() {
        assert_eq!(
            plan_rows("Bitmap Heap Scan on messages m  (cost=626.80..23639.47 rows=6171 width=0)"),
            6171
        );
        assert_eq!(plan_rows("Seq Scan on messages"), i64::MAX);
    }

    #[test]
    fn snippets_split_on_the_marks() {
        assert_eq!(
            pieces("say \u{E000}hello\u{E001} to \u{E000}all\u{E001}"),
            vec![
                ("say ".to_string(), false),
                ("hello".to_string(), true),
                (" to ".to_string(), false),
                ("all".to_string(), true)
            ]
        );
    }
}
