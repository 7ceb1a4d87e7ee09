"""The SQLite schema as an ordered list of migrations.

Each migration moves the database from version ``i`` to ``i + 1`` (``PRAGMA user_version``)
inside one transaction, so a crash mid-migration leaves the previous version intact.
Migrations are append-only: a released one is never edited.

Times are UTC epoch seconds (REAL). Campaign settings are one JSON document so that a new
setting needs no migration. Call history and do-not-call numbers carry no foreign key to
campaigns on purpose: history outlives a deleted campaign, and a 10-million-row list is
dropped by its own statement rather than by a cascade.
"""

from __future__ import annotations

from typing import Final

MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: campaigns, schedules, contacts, do-not-call, results, agents
    """
    CREATE TABLE campaigns (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        settings TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE business_hours (
        campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
        weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
        start TEXT NOT NULL,
        "end" TEXT NOT NULL
    );
    CREATE INDEX business_hours_campaign ON business_hours(campaign_id);
    CREATE TABLE schedule_exceptions (
        campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
        day TEXT NOT NULL,
        closed INTEGER NOT NULL,
        start TEXT,
        "end" TEXT,
        note TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (campaign_id, day)
    );
    CREATE TABLE run_windows (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
        start TEXT NOT NULL,
        "end" TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX run_windows_campaign ON run_windows(campaign_id);
    CREATE TABLE contacts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        phone TEXT NOT NULL,
        first_name TEXT NOT NULL DEFAULT '',
        last_name TEXT NOT NULL DEFAULT '',
        email TEXT NOT NULL DEFAULT '',
        company TEXT NOT NULL DEFAULT '',
        account TEXT NOT NULL DEFAULT '',
        timezone TEXT NOT NULL DEFAULT '',
        custom TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL
    );
    CREATE INDEX contacts_phone ON contacts(phone);
    CREATE TABLE campaign_contacts (
        campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
        contact_id INTEGER NOT NULL REFERENCES contacts(id),
        dedupe_key TEXT NOT NULL,
        position INTEGER NOT NULL,
        owner TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'new',
        attempts INTEGER NOT NULL DEFAULT 0,
        last_result TEXT NOT NULL DEFAULT '',
        last_call_at REAL,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        claimed_by TEXT,
        claimed_at REAL,
        trashed INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (campaign_id, contact_id)
    );
    CREATE UNIQUE INDEX campaign_contacts_dedupe ON campaign_contacts(campaign_id, dedupe_key);
    CREATE INDEX campaign_contacts_contact ON campaign_contacts(contact_id);
    CREATE INDEX campaign_contacts_queue
        ON campaign_contacts(campaign_id, next_attempt_at, position)
        WHERE trashed = 0 AND status IN ('new', 'retry');
    CREATE TABLE dnc_lists (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        campaign_id INTEGER REFERENCES campaigns(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        numbers INTEGER NOT NULL DEFAULT 0,
        uploaded_at REAL NOT NULL
    );
    CREATE UNIQUE INDEX dnc_lists_name ON dnc_lists(coalesce(campaign_id, 0), name);
    CREATE TABLE dnc_numbers (
        number TEXT NOT NULL,
        list_id INTEGER NOT NULL,
        PRIMARY KEY (number, list_id)
    ) WITHOUT ROWID;
    CREATE TABLE results (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        is_contact INTEGER NOT NULL DEFAULT 0,
        is_complete INTEGER NOT NULL DEFAULT 0,
        is_success INTEGER NOT NULL DEFAULT 0,
        memo TEXT NOT NULL DEFAULT '',
        display_order INTEGER NOT NULL DEFAULT 0,
        UNIQUE (campaign_id, name)
    );
    CREATE TABLE agents (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        email TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    );
    CREATE TABLE agent_campaigns (
        agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
        PRIMARY KEY (agent_id, campaign_id)
    );
    CREATE INDEX agent_campaigns_campaign ON agent_campaigns(campaign_id);
    """,
    # 2: call history and resumable imports
    """
    CREATE TABLE calls (
        id TEXT PRIMARY KEY,
        campaign_id INTEGER NOT NULL,
        contact_id INTEGER NOT NULL,
        number TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        server TEXT NOT NULL DEFAULT '',
        agent_id TEXT,
        state TEXT NOT NULL,
        outcome TEXT,
        result_id INTEGER,
        reason INTEGER,
        dial_status TEXT,
        cause INTEGER,
        created_at REAL NOT NULL,
        answered_at REAL,
        connected_at REAL,
        ended_at REAL,
        memo TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX calls_contact ON calls(contact_id, created_at);
    CREATE INDEX calls_campaign ON calls(campaign_id, created_at);
    CREATE TABLE imports (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        options TEXT NOT NULL,
        state TEXT NOT NULL,
        rows_read INTEGER NOT NULL DEFAULT 0,
        rows_imported INTEGER NOT NULL DEFAULT 0,
        rows_merged INTEGER NOT NULL DEFAULT 0,
        rows_rejected INTEGER NOT NULL DEFAULT 0,
        started_at REAL NOT NULL,
        finished_at REAL
    );
    CREATE INDEX imports_campaign ON imports(campaign_id, fingerprint);
    """,
    # 3: the engine's records: refusals at the gate, and lookups by number and state
    """
    CREATE TABLE refusals (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        campaign_id INTEGER NOT NULL,
        contact_id INTEGER NOT NULL,
        reason TEXT NOT NULL,
        final INTEGER NOT NULL,
        retry_at REAL,
        at REAL NOT NULL
    );
    CREATE INDEX refusals_campaign ON refusals(campaign_id, at);
    CREATE INDEX calls_number ON calls(number, created_at);
    CREATE INDEX calls_open ON calls(state) WHERE state != 'ended';
    """,
    # 4: the owner a preview queue serves, fixed when the list is started or recycled
    """
    ALTER TABLE campaign_contacts ADD COLUMN queue_owner TEXT NOT NULL DEFAULT '';
    UPDATE campaign_contacts SET queue_owner = owner;
    """,
    # 5: a campaign's list order, so that appending a batch finds the last position without
    # reading every member (an import of a million rows was quadratic without it)
    """
    CREATE INDEX campaign_contacts_position ON campaign_contacts(campaign_id, position);
    """,
    # 6: a campaign's live answers by end time, covering what a restarted predictive pacer
    # reads of its regime window (30 days of answers) without visiting every call placed
    """
    CREATE INDEX calls_answered ON calls(campaign_id, ended_at, outcome, connected_at)
        WHERE outcome IN ('answered_agent', 'abandoned');
    """,
    # 7: no query looks contacts up by number (the redial checks read calls.number), and the
    # index cost an insert at a random place per imported contact
    """
    DROP INDEX contacts_phone;
    """,
    # 8: what a restarted predictive pacer needs to count the window's answers as the run
    # that made them did: the agent's verdict on who answered (a machine dismissed is no
    # live answer) and how much an abandon nobody heard was counted as a person; the index
    # of migration 6 covers both
    """
    ALTER TABLE calls ADD COLUMN human INTEGER;
    ALTER TABLE calls ADD COLUMN counted_human REAL;
    DROP INDEX calls_answered;
    CREATE INDEX calls_answered ON calls(campaign_id, ended_at, outcome, connected_at,
        human, counted_human) WHERE outcome IN ('answered_agent', 'abandoned');
    """,
)

SCHEMA_VERSION: Final = len(MIGRATIONS)
