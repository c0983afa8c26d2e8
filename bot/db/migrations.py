"""The database schema, as numbered migrations applied in order at start-up.

A migration is never edited once released: change the schema by appending a new one. The
version applied last is kept in SQLite's ``user_version``. Before an existing database is
migrated, :meth:`bot.jobs.store.Store.open` copies it to ``<db>.before-v<N>.bak`` beside it
(:func:`bot.db.backup.backup_before_migrating`).
"""

from __future__ import annotations

import aiosqlite

MIGRATIONS: list[str] = [
    # 1: drafts with revisions, jobs, and a key-value table for secrets and markers.
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE drafts (
        id              TEXT PRIMARY KEY,
        guild_id        INTEGER,
        channel_id      INTEGER,
        author_id       INTEGER,
        card_message_id INTEGER,
        thread_id       INTEGER,
        image_path      TEXT,
        revision        INTEGER NOT NULL DEFAULT 0,
        state           TEXT NOT NULL DEFAULT 'active',
        created_at      REAL NOT NULL,
        updated_at      REAL NOT NULL
    );
    CREATE TABLE draft_revisions (
        draft_id    TEXT NOT NULL REFERENCES drafts(id) ON DELETE CASCADE,
        revision    INTEGER NOT NULL,
        storyboard  TEXT NOT NULL,
        editor_id   INTEGER,
        note        TEXT NOT NULL DEFAULT '',
        created_at  REAL NOT NULL,
        PRIMARY KEY (draft_id, revision)
    );
    CREATE TABLE jobs (
        id                TEXT PRIMARY KEY,
        origin            TEXT NOT NULL DEFAULT 'cli',
        owner_id          INTEGER,
        guild_id          INTEGER,
        channel_id        INTEGER,
        draft_id          TEXT REFERENCES drafts(id) ON DELETE SET NULL,
        revision          INTEGER,
        card_message_id   INTEGER,
        status_message_id INTEGER,
        result_message_id INTEGER,
        model             TEXT NOT NULL,
        storyboard        TEXT NOT NULL,
        image_path        TEXT NOT NULL,
        image_url         TEXT,
        task_id           TEXT,
        state             TEXT NOT NULL,
        kie_state         TEXT,
        progress          INTEGER,
        fail_code         TEXT,
        fail_msg          TEXT,
        result_url        TEXT,
        video_path        TEXT,
        video_bytes       INTEGER,
        out_path          TEXT,
        delivery          TEXT NOT NULL DEFAULT 'pending',
        reads             INTEGER NOT NULL DEFAULT 0,
        created_at        REAL NOT NULL,
        submitted_at      REAL,
        finished_at       REAL,
        deadline_at       REAL NOT NULL,
        next_check_at     REAL,
        updated_at        REAL NOT NULL
    );
    CREATE INDEX jobs_due ON jobs(next_check_at) WHERE next_check_at IS NOT NULL;
    CREATE INDEX jobs_owner ON jobs(guild_id, owner_id, created_at);
    CREATE INDEX jobs_task ON jobs(task_id);
    """,
    # 2: what a job costs and which model took it after a fallback; quotas: the usage each job
    # reserved (written before its job row exists, so no foreign key), per-guild overrides of
    # the [quota] defaults, and the log of who changed which setting.
    """
    ALTER TABLE jobs ADD COLUMN credits INTEGER;
    ALTER TABLE jobs ADD COLUMN fallback_from TEXT;
    CREATE TABLE usage (
        job_id     TEXT PRIMARY KEY,
        guild_id   INTEGER,
        user_id    INTEGER,
        channel_id INTEGER,
        model      TEXT NOT NULL,
        credits    INTEGER NOT NULL,
        state      TEXT NOT NULL DEFAULT 'reserved',
        outcome    TEXT,
        exempt     INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        settled_at REAL
    );
    CREATE INDEX usage_guild_time ON usage(guild_id, created_at);
    CREATE INDEX usage_user_time ON usage(guild_id, user_id, created_at);
    CREATE INDEX usage_running ON usage(guild_id, user_id) WHERE state = 'reserved';
    CREATE TABLE quota_settings (
        guild_id INTEGER NOT NULL,
        name     TEXT NOT NULL,
        value    TEXT NOT NULL,
        PRIMARY KEY (guild_id, name)
    );
    CREATE TABLE quota_changes (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id   INTEGER NOT NULL,
        actor_id   INTEGER,
        setting    TEXT NOT NULL,
        old        TEXT,
        new        TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX quota_changes_guild ON quota_changes(guild_id, id);
    """,
    # 3: thread editing. A revision remembers what it was derived from (``parent``: undo walks
    # back along it), the revision it restores (an undo), whether it changed the shot
    # numbering, the reference image it used, and the Discord message or interaction that
    # made it (snowflakes order revisions and messages on Discord's own clock);
    # members the author let edit; whether a thread was told that plain replies are not read.
    """
    ALTER TABLE draft_revisions ADD COLUMN parent INTEGER;
    ALTER TABLE draft_revisions ADD COLUMN copies INTEGER;
    ALTER TABLE draft_revisions ADD COLUMN source_id INTEGER;
    ALTER TABLE draft_revisions ADD COLUMN renumbers INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE draft_revisions ADD COLUMN image_path TEXT;
    ALTER TABLE drafts ADD COLUMN content_notice INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE draft_editors (
        draft_id   TEXT NOT NULL REFERENCES drafts(id) ON DELETE CASCADE,
        user_id    INTEGER NOT NULL,
        added_by   INTEGER,
        created_at REAL NOT NULL,
        PRIMARY KEY (draft_id, user_id)
    );
    CREATE INDEX drafts_thread ON drafts(thread_id) WHERE thread_id IS NOT NULL;
    CREATE INDEX drafts_card ON drafts(card_message_id) WHERE card_message_id IS NOT NULL;
    """,
    # 4: why a job ended, in parts a member's language can render (``fail_code`` names the
    # reason, ``fail_params`` holds its values as JSON; ``fail_msg`` stays the operator's
    # detail), and a job held back because a kie.ai host cannot be reached (``stall``: JSON
    # with the host, the setting naming it, since when and until when it is retried).
    """
    ALTER TABLE jobs ADD COLUMN fail_params TEXT;
    ALTER TABLE jobs ADD COLUMN stall TEXT;
    """,
    # 5: what each member stores: their drafts in a guild are looked up when they make a draft
    # or add an image (their jobs already are, by jobs_owner).
    """
    CREATE INDEX drafts_author ON drafts(guild_id, author_id, state);
    """,
    # 6: long storyboards made as a chain of segments. The parent job keeps the whole
    # storyboard, the reservation and the delivery, and ``chain`` (JSON: the segments' plan,
    # their jobs, the frame being handed on); each segment is a job of its own with
    # ``parent_id`` and its index in ``segment``; ``segments`` is the chain's length.
    """
    ALTER TABLE jobs ADD COLUMN parent_id TEXT;
    ALTER TABLE jobs ADD COLUMN segment INTEGER;
    ALTER TABLE jobs ADD COLUMN segments INTEGER;
    ALTER TABLE jobs ADD COLUMN chain TEXT;
    CREATE INDEX jobs_parent ON jobs(parent_id, segment) WHERE parent_id IS NOT NULL;
    """,
    # 7: how long each model took to make a video, by length and resolution (bot.jobs.history,
    # behind the learned polling schedule): ``seconds`` from submission to the task's end,
    # ``noticed`` when the bot saw it. Seeded from the videos already made, by when they were
    # noticed; their resolution was not stored ("": right for models without one).
    """
    CREATE TABLE generation_times (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        model       TEXT NOT NULL,
        length      INTEGER NOT NULL,
        resolution  TEXT NOT NULL DEFAULT '',
        seconds     REAL NOT NULL,
        noticed     REAL NOT NULL,
        finished_at REAL NOT NULL
    );
    CREATE INDEX generation_times_kind ON generation_times(model, length, resolution, id);
    INSERT INTO generation_times (model, length, resolution, seconds, noticed, finished_at)
        SELECT model, json_extract(storyboard, '$.length'), '', finished_at - submitted_at,
               finished_at - submitted_at, finished_at
        FROM jobs
        WHERE result_url IS NOT NULL AND chain IS NULL AND submitted_at IS NOT NULL
          AND finished_at >= submitted_at
          AND CASE WHEN json_valid(storyboard) THEN json_type(storyboard, '$.length') END
              = 'integer'
          AND state IN ('succeeded', 'fetched', 'posting', 'delivered', 'undeliverable')
        ORDER BY finished_at;
    """,
    # 8: a job's place in the submit queue (bot.jobs.fairness), given once when it joins the
    # queue: its member's turn and its guild's slot within that turn. Jobs already queued get
    # theirs when the queue is next read.
    """
    ALTER TABLE jobs ADD COLUMN queue_turn INTEGER;
    ALTER TABLE jobs ADD COLUMN queue_slot INTEGER;
    CREATE INDEX jobs_queue ON jobs(queue_turn, queue_slot, created_at, id)
        WHERE state = 'queued';
    CREATE INDEX jobs_turns ON jobs(queue_turn, guild_id) WHERE queue_turn IS NOT NULL;
    """,
]

LATEST = len(MIGRATIONS)


class MigrationError(Exception):
    pass


async def schema_version(db: aiosqlite.Connection) -> int:
    async with db.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def migrate(db: aiosqlite.Connection, target: int = LATEST) -> int:
    """Apply every migration after the current version up to ``target``; return the version."""
    current = await schema_version(db)
    if current > LATEST:
        raise MigrationError(
            f"the database is at schema version {current}, newer than this bot ({LATEST}); "
            "upgrade the bot"
        )
    for version in range(current + 1, target + 1):
        script = MIGRATIONS[version - 1]
        # One transaction per migration: a crash leaves the previous version intact.
        try:
            await db.executescript(
                f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;"
            )
        except BaseException:
            # executescript stops at the failing statement and leaves the transaction open;
            # the next statement (or executescript's implicit COMMIT) would keep half of it.
            if db.in_transaction:
                await db.rollback()
            raise
    return await schema_version(db)
