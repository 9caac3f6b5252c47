//! Fills an empty natter database with a year of a team's history, fast, for the
//! bench's `scale` scenario (issue 31: ten million messages). Not run by CI.
//!
//! ```text
//! cargo run --release --features ssr --example fill -- --database-url sqlite:///tmp/big.db
//! cargo run --release --features ssr --example fill -- --database-url postgres://…/big --messages 10000000
//! ```
//!
//! The shape (every choice from one seeded generator, so two fills are the same):
//! - `--users` people named `u00000`…, all with the password `bench-password`; the first
//!   `--power-users` of them are each a member of exactly 100 chats (the bench signs in
//!   as them: `list_chats` for a user in 100 chats, search, history, resume).
//! - `--chats` chats: two busy channels at natter's group cap (200), 2% large groups
//!   (100–200), 18% medium (15–99), 30% small (3–14), half direct chats.
//! - messages spread over the chats by a Zipf law (the busiest chat, a team room of the
//!   first power user, holds ~13% of them), over a year; senders by a Zipf law within
//!   each chat; bodies of 1–150 words drawn from a Zipf vocabulary (common English chat
//!   words, then a long tail of rare ones), some with Markdown; 8% reply to a recent
//!   message, 3% mention a member, 6% carry reactions; one in 100 000 says `zanzibar`
//!   (the bench's rare word).
//!
//! Rows go in as multi-row statements in large transactions, and the search index is
//! built once at the end (PostgreSQL's definition is read from the database and put
//! back as it was, so this file never repeats the migrations).

use clap::Parser;
use natter::model::validate::GROUP_MAX_MEMBERS;
use natter::server::db::Store;
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sqlx::{Connection, PgConnection, QueryBuilder, SqliteConnection};
use std::collections::{HashSet, VecDeque};
use std::time::Instant;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser)]
#[command(about = "fills an empty natter database with a realistic history")]
struct Args {
    /// `sqlite://FILE` (created) or an empty PostgreSQL database.
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 10_000_000)]
    messages: usize,
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    #[arg(long, default_value_t = 1_000)]
    chats: usize,
    /// Users each in exactly 100 chats.
    #[arg(long, default_value_t = 10)]
    power_users: usize,
    #[arg(long, default_value_t = 31)]
    seed: u64,
}

/// The password of every generated user.
pub const PASSWORD: &str = "bench-password";

/// Common words of a team's chat, most frequent first (the head of the vocabulary).
const WORDS: &str = "the i to you it a and is that we for on this in be have can do not \
    just ok will so what me my with are was but yes if at no think now get it's know about \
    all one there up how like they good thanks out time can't today don't then see here \
    need should would also from an or some when more make sure let going go back did deploy \
    fix build test review merge branch release meeting lunch tomorrow morning afternoon \
    week yesterday later soon done update issue bug error server client database query \
    page log logs team call doc docs link check looks great nice cool sorry please help \
    question idea plan new old because still work working try tried again problem change \
    changes code run running staging production prod config ticket customer email slack \
    message chat file files image screenshot design spec api endpoint latency cache \
    memory cpu disk network timeout retry queue worker job cron alert incident oncall \
    pager rollback hotfix patch version tag commit push pull request pr ci pipeline green \
    red flaky slow fast benchmark metrics dashboard graph spike traffic users login \
    signup password session token auth permission access role admin settings feature \
    flag experiment rollout launch demo notes agenda minutes sync standup retro sprint \
    estimate deadline friday monday weekend holiday vacation coffee thank agree exactly \
    right wrong maybe probably actually really though anyway btw fyi imo lgtm wip eta";

/// Emoji of the generated reactions.
const EMOJI: [&str; 8] = ["👍", "❤️", "😂", "🎉", "👀", "🙏", "🔥", "✅"];

/// Rows per multi-row statement (SQLite allows 32 766 bound values per statement).
const ROWS_PER_STATEMENT: usize = 2_000;
/// Messages per transaction.
const PER_TRANSACTION: usize = 200_000;

enum Db {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// Runs the same code on either connection (as `on_pool!` does in the store).
macro_rules! on_db {
    ($db:expr, $c:ident => $body:expr) => {
        match $db {
            Db::Sqlite($c) => $body,
            Db::Postgres($c) => $body,
        }
    };
}

struct Chat {
    direct: bool,
    members: Vec<i64>,
    /// Zipf weights of who speaks, in the order of `members`.
    speakers: WeightedIndex<f64>,
    last_seq: i64,
    recent: VecDeque<i64>,
}

struct Message {
    id: i64,
    chat: i64,
    seq: i64,
    sender: i64,
    body: String,
    created_at: i64,
    reply_to: Option<i64>,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args = Args::parse();
    let started = Instant::now();
    // The server's own migrations make the schema.
    let store = Store::connect(&args.database_url).await?;
    store.close().await;
    let mut db = if args.database_url.starts_with("postgres") {
        Db::Postgres(PgConnection::connect(&args.database_url).await?)
    } else {
        Db::Sqlite(SqliteConnection::connect(&args.database_url).await?)
    };
    let existing: i64 = on_db!(&mut db, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(c)
            .await?
    });
    if existing > 0 {
        return Err("the database is not empty: give a new file or database".into());
    }
    if let Db::Sqlite(c) = &mut db {
        // A throw-away load: a crash means filling again, so no fsync.
        sqlx::query("PRAGMA synchronous = OFF")
            .execute(&mut *c)
            .await?;
        sqlx::query("PRAGMA cache_size = -262144")
            .execute(&mut *c)
            .await?;
    }
    let mut rng = StdRng::seed_from_u64(args.seed);
    let year_ms: i64 = 365 * 24 * 3600 * 1000;
    let start_ms = natter::server::db::now_ms() - year_ms;

    let hash = natter::server::domain::auth::hash_password(PASSWORD.into()).await?;
    let users: Vec<i64> = (1..=args.users as i64).collect();
    insert_users(&mut db, &users, &hash, start_ms).await?;
    eprintln!("{} users", users.len());

    let mut chats = plan_chats(&args, &users, &mut rng);
    insert_chats(&mut db, &chats, start_ms).await?;
    eprintln!(
        "{} chats, {} memberships",
        chats.len(),
        chats.iter().map(|c| c.members.len()).sum::<usize>()
    );

    let search_index = drop_search_index(&mut db).await?;
    let vocabulary = Vocabulary::new(&mut rng);
    // Which chat each message goes to: Zipf over the chats, the busiest first.
    let chat_weights: Vec<f64> = (0..chats.len()).map(|r| 1.0 / (r as f64 + 1.0)).collect();
    let pick_chat = WeightedIndex::new(&chat_weights)?;
    let mut batch = Vec::with_capacity(ROWS_PER_STATEMENT);
    let mut mentions: Vec<(i64, i64, i64)> = Vec::new();
    let mut reactions: Vec<(i64, i64, &'static str, i64, i64)> = Vec::new();
    begin(&mut db).await?;
    for i in 0..args.messages {
        let id = i as i64 + 1;
        let c = pick_chat.sample(&mut rng);
        let chat_id = c as i64 + 1;
        let chat = &mut chats[c];
        chat.last_seq += 1;
        let sender = chat.members[chat.speakers.sample(&mut rng)];
        let created_at = start_ms + (year_ms as f64 * (i as f64 / args.messages as f64)) as i64;
        let mut body = String::new();
        let roll: f64 = rng.gen();
        if roll < 0.03 && chat.members.len() > 1 {
            let other = *chat.members.choose(&mut rng).unwrap_or(&sender);
            if other != sender {
                body.push_str(&format!("@u{:05} ", other - 1));
                mentions.push((chat_id, chat.last_seq, other));
            }
        }
        vocabulary.body(&mut rng, &mut body);
        // The bench's rare word: about one message in 100 000.
        if rng.gen_bool(0.00001) {
            body.push_str(" zanzibar");
        }
        let reply_to = if rng.gen_bool(0.08) {
            chat.recent
                .get(rng.gen_range(0..chat.recent.len().max(1)))
                .copied()
        } else {
            None
        };
        if rng.gen_bool(0.06) {
            let mut seen = HashSet::new();
            for _ in 0..rng.gen_range(1..=3) {
                let who = *chat.members.choose(&mut rng).unwrap_or(&sender);
                let emoji = EMOJI[rng.gen_range(0..EMOJI.len())];
                if seen.insert((who, emoji)) {
                    reactions.push((id, who, emoji, chat_id, created_at + 60_000));
                }
            }
        }
        chat.recent.push_back(id);
        if chat.recent.len() > 32 {
            chat.recent.pop_front();
        }
        batch.push(Message {
            id,
            chat: chat_id,
            seq: chat.last_seq,
            sender,
            body,
            created_at,
            reply_to,
        });
        if batch.len() == ROWS_PER_STATEMENT {
            insert_messages(&mut db, &batch).await?;
            batch.clear();
            insert_mentions(&mut db, &mentions).await?;
            mentions.clear();
            insert_reactions(&mut db, &reactions).await?;
            reactions.clear();
        }
        if (i + 1) % PER_TRANSACTION == 0 {
            commit(&mut db).await?;
            eprintln!(
                "{} messages, {:.0} s",
                i + 1,
                started.elapsed().as_secs_f64()
            );
            begin(&mut db).await?;
        }
    }
    insert_messages(&mut db, &batch).await?;
    insert_mentions(&mut db, &mentions).await?;
    insert_reactions(&mut db, &reactions).await?;
    commit(&mut db).await?;
    finish_chats(&mut db, &chats, start_ms + year_ms, args.power_users).await?;
    eprintln!(
        "rebuilding the search index, {:.0} s",
        started.elapsed().as_secs_f64()
    );
    restore_search_index(&mut db, &search_index).await?;
    settle(&mut db).await?;
    let busiest = chats.iter().map(|c| c.last_seq).max().unwrap_or(0);
    println!(
        "filled {} with {} users, {} chats, {} messages (busiest chat {busiest}) in {:.0} s",
        redact(&args.database_url),
        args.users,
        chats.len(),
        args.messages,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The URL without a password, for the log.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

/// Who is in which chat. Chat 1 (the busiest) is a medium team room of the first power
/// user; chats 2 and 3 are the channels.
fn plan_chats(args: &Args, users: &[i64], rng: &mut StdRng) -> Vec<Chat> {
    let n = args.chats.max(10);
    let power: Vec<i64> = users.iter().copied().take(args.power_users).collect();
    let ordinary: Vec<i64> = users.iter().copied().skip(args.power_users).collect();
    let mut sizes: Vec<(bool, usize)> = Vec::with_capacity(n);
    // natter's groups hold at most GROUP_MAX_MEMBERS (200): the two busiest "channels"
    // are at the cap (channels beyond it come with issue 34's public channels).
    let cap = GROUP_MAX_MEMBERS;
    sizes.push((false, 40));
    sizes.push((false, cap));
    sizes.push((false, cap));
    let large = n * 2 / 100;
    let medium = n * 18 / 100;
    let small = n * 30 / 100;
    for _ in 0..large {
        sizes.push((false, rng.gen_range(100..=cap)));
    }
    for _ in 0..medium {
        sizes.push((false, rng.gen_range(15..=99)));
    }
    for _ in 0..small {
        sizes.push((false, rng.gen_range(3..=14)));
    }
    while sizes.len() < n {
        sizes.push((true, 2));
    }
    // The busiest stays first; the rest in random order of activity.
    sizes[3..].shuffle(rng);
    let mut members: Vec<Vec<i64>> = vec![Vec::new(); n];
    // Each power user: the team room, both channels, then chats until 100 of them.
    let groups: Vec<usize> = (3..n).filter(|&c| !sizes[c].0).collect();
    let directs: Vec<usize> = (3..n).filter(|&c| sizes[c].0).collect();
    for &p in &power {
        let mut mine: Vec<usize> = vec![0, 1, 2];
        let dm_count = 10.min(directs.len());
        // A direct chat holds at most one power user, so no pair repeats.
        mine.extend(
            directs
                .iter()
                .filter(|&&c| members[c].is_empty())
                .take(dm_count),
        );
        let want_groups = 100usize.saturating_sub(mine.len());
        mine.extend(groups.choose_multiple(rng, want_groups));
        for c in mine {
            members[c].push(p);
        }
    }
    let mut pairs: HashSet<(i64, i64)> = HashSet::new();
    for (c, &(_, size)) in sizes.iter().enumerate() {
        let mut have: HashSet<i64> = members[c].iter().copied().collect();
        // Never more than there are people to draw (a small --users would loop).
        let size = size.min(users.len()).min(ordinary.len() + have.len());
        if size == users.len() {
            members[c] = users.to_vec();
            continue;
        }
        while have.len() < size {
            let u = ordinary[rng.gen_range(0..ordinary.len())];
            if sizes[c].0 && members[c].len() == 1 {
                let pair = (members[c][0].min(u), members[c][0].max(u));
                if members[c][0] == u || !pairs.insert(pair) {
                    continue;
                }
            }
            if have.insert(u) {
                members[c].push(u);
            }
        }
    }
    // Power users are in exactly 100 chats: the big draws above may have added none of
    // them (only `ordinary` users are drawn), so nothing else to fix.
    sizes
        .iter()
        .zip(members)
        .map(|(&(direct, _), members)| {
            let weights: Vec<f64> = (0..members.len()).map(|r| 1.0 / (r as f64 + 1.0)).collect();
            Chat {
                direct,
                speakers: WeightedIndex::new(&weights).unwrap_or_else(|_| {
                    WeightedIndex::new([1.0]).unwrap_or_else(|_| unreachable!())
                }),
                members,
                last_seq: 0,
                recent: VecDeque::new(),
            }
        })
        .collect()
}

/// The words of message bodies: [`WORDS`] first, then a long tail of made-up words
/// (`kestrelo`, `vantrix`…), drawn by a Zipf law over the whole list.
struct Vocabulary {
    words: Vec<String>,
    pick: WeightedIndex<f64>,
}

impl Vocabulary {
    fn new(rng: &mut StdRng) -> Self {
        let mut words: Vec<String> = WORDS.split_whitespace().map(String::from).collect();
        let onsets = [
            "b", "br", "c", "d", "f", "g", "gr", "k", "l", "m", "n", "p", "pl", "r", "s", "st",
            "t", "tr", "v", "z",
        ];
        let vowels = ["a", "e", "i", "o", "u", "ai", "ou"];
        let codas = ["", "n", "r", "x", "s", "l", "m", "nd"];
        'outer: for a in onsets {
            for b in vowels {
                for c in onsets {
                    for d in vowels {
                        for e in codas {
                            words.push(format!("{a}{b}{c}{d}{e}"));
                            if words.len() >= 60_000 {
                                break 'outer;
                            }
                        }
                    }
                }
            }
        }
        let head = WORDS.split_whitespace().count();
        words[head..].shuffle(rng);
        // Exponent 1.15: the common words make ~3/4 of what people write, the rest is a
        // long tail (names, jargon, typos) where most words are rare.
        let weights: Vec<f64> = (0..words.len())
            .map(|r| (r as f64 + 2.7).powf(-1.15))
            .collect();
        let pick = WeightedIndex::new(&weights).unwrap_or_else(|_| unreachable!());
        Vocabulary { words, pick }
    }

    fn body(&self, rng: &mut StdRng, out: &mut String) {
        let roll: f64 = rng.gen();
        let len = if roll < 0.7 {
            rng.gen_range(1..=12)
        } else if roll < 0.95 {
            rng.gen_range(13..=40)
        } else {
            rng.gen_range(41..=150)
        };
        let code = rng.gen_bool(0.02);
        if code {
            out.push_str("```\n");
        }
        for w in 0..len {
            if w > 0 {
                out.push(if !code && rng.gen_bool(0.02) {
                    '\n'
                } else {
                    ' '
                });
            }
            let word = &self.words[self.pick.sample(rng)];
            if !code && rng.gen_bool(0.01) {
                out.push_str("**");
                out.push_str(word);
                out.push_str("**");
            } else {
                out.push_str(word);
            }
        }
        if code {
            out.push_str("\n```");
        } else if rng.gen_bool(0.3) {
            out.push(['.', '?', '!'][rng.gen_range(0..3)]);
        }
    }
}

/// One statement, the same text on both databases.
async fn exec(db: &mut Db, sql: &'static str) -> Result<(), Error> {
    on_db!(db, c => {
        sqlx::query(sql).execute(&mut *c).await?;
    });
    Ok(())
}

async fn begin(db: &mut Db) -> Result<(), Error> {
    exec(db, "BEGIN").await
}

async fn commit(db: &mut Db) -> Result<(), Error> {
    exec(db, "COMMIT").await
}

/// Runs a query builder on either database (the SQL is the same text on both: the
/// builders number PostgreSQL's parameters themselves).
macro_rules! run_builder {
    ($db:expr, $sql:expr, $rows:expr, |$b:ident, $row:ident| $push:expr) => {
        on_db!($db, c => {
            for chunk in $rows.chunks(ROWS_PER_STATEMENT) {
                let mut q = QueryBuilder::new($sql);
                q.push_values(chunk, |mut $b, $row| {
                    $push;
                });
                q.build().execute(&mut *c).await?;
            }
        })
    };
}

async fn insert_users(db: &mut Db, users: &[i64], hash: &str, at: i64) -> Result<(), Error> {
    begin(db).await?;
    run_builder!(
        db,
        "INSERT INTO users (id, username, password_hash, created_at, group_adds) ",
        users,
        |b, id| {
            b.push_bind(*id)
                .push_bind(format!("u{:05}", id - 1))
                .push_bind(hash.to_string())
                .push_bind(at)
                .push_bind("anyone");
        }
    );
    commit(db).await
}

async fn insert_chats(db: &mut Db, chats: &[Chat], at: i64) -> Result<(), Error> {
    begin(db).await?;
    let rows: Vec<(i64, &Chat)> = chats
        .iter()
        .enumerate()
        .map(|(i, c)| (i as i64 + 1, c))
        .collect();
    run_builder!(
        db,
        "INSERT INTO chats (id, kind, title, creator_id, dm_key, last_activity_at, created_at) ",
        &rows,
        |b, row| {
            let (id, chat) = row;
            let creator = chat.members.first().copied().unwrap_or(1);
            let dm_key = chat.direct.then(|| {
                let (a, z) = (
                    chat.members[0].min(chat.members[1]),
                    chat.members[0].max(chat.members[1]),
                );
                format!("{a}:{z}")
            });
            b.push_bind(*id)
                .push_bind(if chat.direct { "direct" } else { "group" })
                .push_bind((!chat.direct).then(|| format!("room {id}")))
                .push_bind(creator)
                .push_bind(dm_key)
                .push_bind(at)
                .push_bind(at);
        }
    );
    let members: Vec<(i64, i64)> = rows
        .iter()
        .flat_map(|(id, c)| c.members.iter().map(move |u| (*id, *u)))
        .collect();
    let accepted = match db {
        Db::Sqlite(_) => ", 1",
        Db::Postgres(_) => ", true",
    };
    run_builder!(
        db,
        "INSERT INTO chat_members (chat_id, user_id, joined_at, accepted) ",
        &members,
        |b, row| {
            b.push_bind(row.0).push_bind(row.1).push_bind(at);
            b.push_unseparated(accepted);
        }
    );
    commit(db).await
}

async fn insert_messages(db: &mut Db, batch: &[Message]) -> Result<(), Error> {
    if batch.is_empty() {
        return Ok(());
    }
    run_builder!(
        db,
        "INSERT INTO messages (id, chat_id, seq, sender_id, client_id, body, created_at, reply_to) ",
        batch,
        |b, m| {
            b.push_bind(m.id)
                .push_bind(m.chat)
                .push_bind(m.seq)
                .push_bind(m.sender)
                .push_bind(format!("f{:x}", m.id))
                .push_bind(m.body.as_str())
                .push_bind(m.created_at)
                .push_bind(m.reply_to);
        }
    );
    Ok(())
}

async fn insert_mentions(db: &mut Db, rows: &[(i64, i64, i64)]) -> Result<(), Error> {
    if rows.is_empty() {
        return Ok(());
    }
    run_builder!(
        db,
        "INSERT INTO mentions (chat_id, seq, user_id) ",
        rows,
        |b, r| {
            b.push_bind(r.0).push_bind(r.1).push_bind(r.2);
        }
    );
    Ok(())
}

async fn insert_reactions(
    db: &mut Db,
    rows: &[(i64, i64, &'static str, i64, i64)],
) -> Result<(), Error> {
    if rows.is_empty() {
        return Ok(());
    }
    run_builder!(
        db,
        "INSERT INTO reactions (message_id, user_id, emoji, chat_id, created_at) ",
        rows,
        |b, r| {
            b.push_bind(r.0)
                .push_bind(r.1)
                .push_bind(r.2)
                .push_bind(r.3)
                .push_bind(r.4);
        }
    );
    Ok(())
}

/// Each chat's newest seq and activity; everyone has read their chats except one
/// membership in ten, some way behind, and the power users, who never read the second
/// channel (chat 3) at all.
async fn finish_chats(
    db: &mut Db,
    chats: &[Chat],
    now: i64,
    power_users: usize,
) -> Result<(), Error> {
    begin(db).await?;
    for (i, chat) in chats.iter().enumerate() {
        let id = i as i64 + 1;
        on_db!(&mut *db, c => {
            sqlx::query("UPDATE chats SET last_seq = $1, last_activity_at = $2 WHERE id = $3")
                .bind(chat.last_seq)
                .bind(now)
                .bind(id)
                .execute(&mut *c)
                .await?;
            sqlx::query(
                "UPDATE chat_members SET last_read_seq = CASE
                   WHEN user_id % 10 = 3 AND $1 > user_id % 500 THEN $1 - user_id % 500
                   WHEN user_id % 10 = 3 THEN 0 ELSE $1 END
                 WHERE chat_id = $2",
            )
            .bind(chat.last_seq)
            .bind(id)
            .execute(&mut *c)
            .await?;
        });
    }
    on_db!(&mut *db, c => {
        sqlx::query(
            "UPDATE chat_members SET last_read_seq = 0 WHERE chat_id = 3 AND user_id <= $1",
        )
        .bind(power_users as i64)
        .execute(&mut *c)
        .await?;
    });
    commit(db).await
}

/// PostgreSQL's search index definition, after dropping it (SQLite indexes after the
/// commit, migrations/sqlite/0010: nothing to drop).
async fn drop_search_index(db: &mut Db) -> Result<String, Error> {
    match db {
        Db::Sqlite(_) => Ok(String::new()),
        Db::Postgres(c) => {
            let sql: String =
                sqlx::query_scalar("SELECT pg_get_indexdef('messages_search'::regclass)")
                    .fetch_one(&mut *c)
                    .await?;
            sqlx::query("DROP INDEX messages_search")
                .execute(&mut *c)
                .await?;
            Ok(sql)
        }
    }
}

/// Indexes everything at once: SQLite's FTS5 table is rebuilt and marked as holding
/// every message; PostgreSQL's index is created again as it was.
async fn restore_search_index(db: &mut Db, definition: &str) -> Result<(), Error> {
    match db {
        Db::Sqlite(c) => {
            // One transaction: the index and its mark agree even if this is killed.
            sqlx::query("BEGIN").execute(&mut *c).await?;
            sqlx::query("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
                .execute(&mut *c)
                .await?;
            sqlx::query(
                "UPDATE search_indexed SET upto = (SELECT COALESCE(MAX(id), 0) FROM messages)",
            )
            .execute(&mut *c)
            .await?;
            sqlx::query("COMMIT").execute(&mut *c).await?;
        }
        Db::Postgres(c) => {
            sqlx::query("SET maintenance_work_mem = '1GB'")
                .execute(&mut *c)
                .await?;
            sqlx::query(sqlx::AssertSqlSafe(definition.to_string()))
                .execute(&mut *c)
                .await?;
        }
    }
    Ok(())
}

/// What a database that has been live for a year has had done to it: statistics, and
/// on PostgreSQL a vacuum (visibility map) and the identity sequences past the rows.
async fn settle(db: &mut Db) -> Result<(), Error> {
    match db {
        Db::Sqlite(c) => {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut *c)
                .await?;
            sqlx::query("ANALYZE").execute(&mut *c).await?;
        }
        Db::Postgres(c) => {
            for sql in [
                "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users))",
                "SELECT setval(pg_get_serial_sequence('chats', 'id'), (SELECT max(id) FROM chats))",
                "SELECT setval(pg_get_serial_sequence('messages', 'id'), (SELECT max(id) FROM messages))",
            ] {
                sqlx::query(sql).execute(&mut *c).await?;
            }
            sqlx::query("VACUUM (ANALYZE)").execute(&mut *c).await?;
        }
    }
    Ok(())
}
