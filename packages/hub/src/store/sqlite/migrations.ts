/**
 * Versioned schema migrations for the SQLite store. Append only: a released migration never changes;
 * a schema change is a new entry with the next version.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        must_change_password INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
      );

      CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX sessions_user ON sessions(user_id);

      CREATE TABLE sites (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );

      CREATE TABLE api_keys (
        id INTEGER PRIMARY KEY,
        site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        label TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER,
        last_used_at INTEGER
      );
      CREATE INDEX api_keys_site ON api_keys(site_id);

      -- Exactly the fields of moat's Rule; rate-limit fields are set only for kind = 'rateLimit'.
      CREATE TABLE rules (
        site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        action TEXT NOT NULL,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        note TEXT,
        mode TEXT NOT NULL,
        expires INTEGER,
        rl_method TEXT,
        rl_path TEXT,
        rl_match TEXT,
        rl_limit INTEGER,
        rl_window_ms INTEGER,
        position INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (site_id, id)
      ) WITHOUT ROWID;

      CREATE TABLE rule_builds (
        site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        format TEXT NOT NULL,
        file_name TEXT NOT NULL,
        hash TEXT NOT NULL,
        built_at INTEGER NOT NULL,
        rule_count INTEGER NOT NULL,
        PRIMARY KEY (site_id, format)
      ) WITHOUT ROWID;

      CREATE TABLE clients (
        site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        hostname TEXT NOT NULL,
        process_id TEXT NOT NULL,
        client TEXT NOT NULL,
        category TEXT NOT NULL,
        api_key_id INTEGER NOT NULL,
        version TEXT NOT NULL,
        framework TEXT NOT NULL,
        format TEXT NOT NULL,
        client_db TEXT NOT NULL,
        served_file TEXT NOT NULL,
        ip TEXT NOT NULL,
        last_seen INTEGER NOT NULL,
        PRIMARY KEY (site_id, hostname, process_id, client, category)
      ) WITHOUT ROWID;

      CREATE TABLE reporters (
        site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        client TEXT NOT NULL,
        version TEXT NOT NULL,
        framework TEXT NOT NULL,
        last_seen INTEGER NOT NULL,
        records INTEGER NOT NULL,
        PRIMARY KEY (site_id, client, version, framework)
      ) WITHOUT ROWID;

      -- Raw reports. treatment: 0 Passed, 1 Allowed, 2 Blocked. Rows are never updated, so the rowid
      -- order is the insertion order the rollup watermark relies on.
      CREATE TABLE reports (
        id INTEGER PRIMARY KEY,
        site_id INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        ip TEXT NOT NULL,
        method TEXT NOT NULL,
        host TEXT NOT NULL,
        path TEXT NOT NULL,
        parameter TEXT NOT NULL,
        user_agent TEXT NOT NULL,
        request_id TEXT NOT NULL,
        treatment INTEGER NOT NULL,
        category TEXT NOT NULL,
        rule TEXT NOT NULL,
        rule_id TEXT,
        monitored TEXT,
        ip_source TEXT,
        country TEXT
      );
      -- One index only: each extra index on random values (such as ip) cut insert speed by two thirds.
      -- Filtered log queries walk hour by hour instead, skipping hours the rollups show to be empty.
      CREATE INDEX reports_site_ts ON reports(site_id, ts);

      CREATE TABLE rollup_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        last_report_id INTEGER NOT NULL
      );
      INSERT INTO rollup_state (id, last_report_id) VALUES (1, 0);

      CREATE TABLE minute_stats (
        site_id INTEGER NOT NULL,
        minute INTEGER NOT NULL,
        total INTEGER NOT NULL,
        blocked INTEGER NOT NULL,
        allowed INTEGER NOT NULL,
        passed INTEGER NOT NULL,
        monitored INTEGER NOT NULL,
        PRIMARY KEY (site_id, minute)
      ) WITHOUT ROWID;

      -- Per-hour counts by dimension value, for the top lists and unique IPs.
      -- dim: ip, path, userAgent, country, rule (category TAB rule), rule_id, match (category TAB rule of
      -- decisions reported without a rule id), monitor (monitored rule id, or category TAB rule).
      CREATE TABLE hour_top (
        site_id INTEGER NOT NULL,
        dim TEXT NOT NULL,
        hour INTEGER NOT NULL,
        value TEXT NOT NULL,
        total INTEGER NOT NULL,
        blocked INTEGER NOT NULL,
        PRIMARY KEY (site_id, dim, hour, value)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'fast unique IPs and top lists over large ranges',
    sql: `
      -- Per hour and site: a HyperLogLog sketch of client IPs, and how many distinct values each
      -- hour_top dimension holds, so queries can tell cheap ranges from expensive ones.
      CREATE TABLE hour_ip_sketch (
        site_id INTEGER NOT NULL,
        hour INTEGER NOT NULL,
        sketch BLOB NOT NULL,
        PRIMARY KEY (site_id, hour)
      ) WITHOUT ROWID;
      CREATE TABLE hour_dim_size (
        site_id INTEGER NOT NULL,
        dim TEXT NOT NULL,
        hour INTEGER NOT NULL,
        distinct_values INTEGER NOT NULL,
        PRIMARY KEY (site_id, dim, hour)
      ) WITHOUT ROWID;
      -- Heavy values of an hour by seek, for the top lists' candidate pass.
      CREATE INDEX hour_top_by_total ON hour_top(site_id, dim, hour, total);
      -- Backfill from existing rollups (no-op on new databases); IP sketches are rebuilt in code.
      INSERT INTO hour_dim_size (site_id, dim, hour, distinct_values)
        SELECT site_id, dim, hour, count(*) FROM hour_top GROUP BY site_id, dim, hour;
    `,
  },
  {
    version: 3,
    name: 'user roles, per-site access and the audit log',
    sql: `
      -- Users created before roles existed were all admins.
      ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'viewer'));
      CREATE TABLE user_sites (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        PRIMARY KEY (user_id, site_id)
      ) WITHOUT ROWID;
      -- No foreign keys: an entry outlives the user and site it names.
      CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        user_id INTEGER,
        user_email TEXT NOT NULL,
        ip TEXT,
        action TEXT NOT NULL,
        site_id INTEGER,
        target TEXT,
        before TEXT,
        after TEXT
      );
      CREATE INDEX audit_log_site ON audit_log(site_id, id);
      CREATE INDEX audit_log_at ON audit_log(at);
      -- Append-only: retention may delete old entries, nothing may rewrite one.
      CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
      BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    `,
  },
  {
    version: 4,
    name: 'upsync batches stored exactly once',
    sql: `
      -- One row per report batch that carried an id: recorded in the transaction that stores its
      -- records, so a retried batch is recognised. stored_rows counts the batch's records stored so far
      -- (a batch stored in several transactions resumes there); done marks it complete.
      CREATE TABLE upsync_batches (
        site_id INTEGER NOT NULL,
        batch_id TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        stored_rows INTEGER NOT NULL,
        done INTEGER NOT NULL,
        PRIMARY KEY (site_id, batch_id)
      );
      CREATE INDEX upsync_batches_received ON upsync_batches(received_at);
    `,
  },
  {
    version: 6,
    name: 'counts of Passed requests',
    sql: `
      -- A reports row with aggregate_count stands for that many Passed requests of one key in its minute,
      -- reported as a number (compact upsync aggregates): counted in the rollups, never in the request log.
      ALTER TABLE reports ADD COLUMN aggregate_count INTEGER;
      -- Of minute_stats.passed, the requests that arrived only as counts ("N shown of M").
      ALTER TABLE minute_stats ADD COLUMN passed_counted INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 7,
    name: 'threshold rules and automatic bans',
    sql: `
      -- Auto-ban: threshold rules over ingested reports, the bans (and monitor-mode would-be bans) they
      -- make, and the events of bans refused by the per-site cap or the per-rule rate. condition is JSON.
      CREATE TABLE threshold_rules (
        id INTEGER PRIMARY KEY,
        site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        condition TEXT NOT NULL,
        window_seconds INTEGER NOT NULL,
        threshold INTEGER NOT NULL,
        key_kind TEXT NOT NULL,
        ban_seconds INTEGER NOT NULL,
        mode TEXT NOT NULL,
        max_bans_per_minute INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX threshold_rules_site ON threshold_rules (site_id, id);
      -- rule_id has no foreign key: a ban outlives the rule that made it.
      CREATE TABLE bans (
        id INTEGER PRIMARY KEY,
        site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        ban_key TEXT NOT NULL,
        reason TEXT NOT NULL,
        rule_id INTEGER,
        source TEXT NOT NULL,
        mode TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        lifted_at INTEGER
      );
      CREATE INDEX bans_site_mode_expiry ON bans (site_id, mode, expires_at);
      CREATE TABLE threshold_events (
        id INTEGER PRIMARY KEY,
        site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        rule_id INTEGER,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL
      );
      CREATE INDEX threshold_events_site ON threshold_events (site_id, id);
    `,
  },
  {
    version: 8,
    name: 'threat-intelligence feeds',
    sql: `
      -- Threat-intelligence feeds: what an admin configured, and the state of the last fetch.
      CREATE TABLE feed_sources (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        format TEXT NOT NULL,
        origin TEXT NOT NULL,
        url TEXT,
        list TEXT NOT NULL,
        refresh_seconds INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        etag TEXT,
        last_modified TEXT,
        checked_at INTEGER,
        changed_at INTEGER,
        entries INTEGER,
        bytes INTEGER,
        sha256 TEXT,
        last_error TEXT,
        failures INTEGER NOT NULL DEFAULT 0
      );
      -- Data files built from the feeds, with the per-list diff to the version before (bounded JSON).
      CREATE TABLE feed_versions (
        version INTEGER PRIMARY KEY,
        built_at INTEGER NOT NULL,
        file_name TEXT NOT NULL,
        ranges INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        diff TEXT NOT NULL
      );
    `,
  },
  {
    version: 9,
    name: 'attack-detection settings per site',
    sql: `
      -- Per-site attack detection (moat-waf's attacks section as JSON). No row: the defaults (monitor).
      CREATE TABLE site_attack_settings (
        site_id INTEGER PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
        settings TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 11,
    name: 'rate limits keyed by header, cookie or user',
    sql: `
      -- moat's RateLimitSpec.key as text (header:<name>, cookie:<name>, user); NULL counts by IP.
      ALTER TABLE rules ADD COLUMN rl_key TEXT;
    `,
  },
  {
    version: 12,
    name: 'verified-bot settings per site',
    sql: `
      -- Per-site bot settings (moat-waf's bots section as JSON: modes by category). No row: bots off.
      CREATE TABLE site_bot_settings (
        site_id INTEGER PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
        settings TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 14,
    name: 'bot catalogue from the feeds',
    sql: `
      -- The bot catalogues a \`bots\` feed offered (validated, canonical JSON; NULL content = the shipped one),
      -- accepted or held for confirmation. The newest accepted entry is compiled into every site's rules file.
      CREATE TABLE bot_catalogues (
        version INTEGER PRIMARY KEY,
        state TEXT NOT NULL,
        content TEXT,
        hash TEXT NOT NULL,
        source TEXT NOT NULL,
        source_id INTEGER,
        fetched_at INTEGER NOT NULL,
        recorded_at INTEGER NOT NULL,
        bots INTEGER NOT NULL,
        edition TEXT NOT NULL,
        diff TEXT NOT NULL
      );
      CREATE INDEX bot_catalogues_state ON bot_catalogues (state, version);
    `,
  },
  {
    version: 15,
    name: 'hashed request keys on stored reports',
    sql: `
      -- The hashes a Moat client reported for the keys threshold rules count by
      -- (\`header:x-api-key=<32 hex> user=<32 hex>\`, validated at ingest; never raw values); NULL when none.
      -- The rule preview counts a keyed rate-limit draft per key with them.
      ALTER TABLE reports ADD COLUMN keys TEXT;
      -- The response status a Moat client reported (100-599, checked at ingest); NULL when none (Wafris
      -- clients, counts, rows stored before this column): the threshold preview's status condition reads it.
      ALTER TABLE reports ADD COLUMN status INTEGER;
    `,
  },
  {
    version: 16,
    name: 'rule hit counts by seek',
    sql: `
      -- Rule hit counts look up the values of the rules shown (their ids, and the entries Wafris clients
      -- report), so values a client made up cannot make the Rules page read them all: a key holder's
      -- million distinct entries in a week took 3 s to aggregate. Only the three rule dimensions.
      CREATE INDEX hour_top_rule_values ON hour_top(site_id, dim, value, hour) WHERE dim IN ('rule_id', 'monitor', 'match');
    `,
  },
  {
    version: 18,
    name: 'client contacts by last seen',
    sql: `
      -- The Clients page lists a site's newest contacts, and the retention pass deletes the oldest: both
      -- seek by last_seen instead of sorting every row one API key may have made.
      CREATE INDEX clients_site_seen ON clients(site_id, last_seen);
      CREATE INDEX clients_seen ON clients(last_seen);
      CREATE INDEX reporters_site_seen ON reporters(site_id, last_seen);
      CREATE INDEX reporters_seen ON reporters(last_seen);
    `,
  },
  {
    version: 19,
    name: 'top lists from each hour\'s and each day\'s largest values',
    sql: `
      -- Top lists over ranges of more than 20,000 hourly rows read each hour's 100 largest values, and a
      -- summary per finished day, instead of every value: one API key could report a million made-up paths
      -- in a week, and every overview then aggregated all of them on the event loop (1.2 s per page).
      -- A day's summary: the 100 largest sums of its hours' 100 largest values per dimension. missed: the
      -- most the value's requests that day may exceed total (hours where it was not among the 100).
      CREATE TABLE day_top (
        site_id INTEGER NOT NULL,
        dim TEXT NOT NULL,
        day INTEGER NOT NULL,
        value TEXT NOT NULL,
        total INTEGER NOT NULL,
        blocked INTEGER NOT NULL,
        missed INTEGER NOT NULL,
        PRIMARY KEY (site_id, dim, day, value)
      ) WITHOUT ROWID;
      -- A row per (site, dimension, day) with counts: floor, the most requests a value left out of day_top
      -- can have had that day; NULL while the day is pending (its hours changed since it was summarised, or
      -- it never was), when a top list reads its hours instead. The rollup summarises pending days once the
      -- site has reports of a later day, a few per call.
      CREATE TABLE day_top_floor (
        site_id INTEGER NOT NULL,
        dim TEXT NOT NULL,
        day INTEGER NOT NULL,
        floor INTEGER,
        PRIMARY KEY (site_id, dim, day)
      ) WITHOUT ROWID;
      CREATE INDEX day_top_pending ON day_top_floor(day) WHERE floor IS NULL;
      INSERT INTO day_top_floor (site_id, dim, day, floor)
        SELECT DISTINCT site_id, dim, hour - hour % 86400, NULL FROM hour_dim_size WHERE dim IN ('ip', 'path', 'userAgent', 'country', 'rule');
      -- An hour's largest values in index order (total, blocked, value, descending), without a table lookup.
      DROP INDEX hour_top_by_total;
      CREATE INDEX hour_top_by_total ON hour_top(site_id, dim, hour, total, blocked);
    `,
  },
  {
    version: 20,
    name: 'client contacts owned by their API key',
    sql: `
      -- A contact row was keyed by what the client says (hostname, process id, client, category), so any
      -- API key of the site could overwrite another client's row (its key id and file). The key that made
      -- the request is now part of the row's key: two keys on one hostname are two clients.
      CREATE TABLE clients_by_key (
        site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        hostname TEXT NOT NULL,
        process_id TEXT NOT NULL,
        client TEXT NOT NULL,
        category TEXT NOT NULL,
        api_key_id INTEGER NOT NULL,
        version TEXT NOT NULL,
        framework TEXT NOT NULL,
        format TEXT NOT NULL,
        client_db TEXT NOT NULL,
        served_file TEXT NOT NULL,
        ip TEXT NOT NULL,
        last_seen INTEGER NOT NULL,
        PRIMARY KEY (site_id, api_key_id, hostname, process_id, client, category)
      ) WITHOUT ROWID;
      INSERT INTO clients_by_key SELECT site_id, hostname, process_id, client, category, api_key_id, version, framework,
        format, client_db, served_file, ip, last_seen FROM clients;
      DROP TABLE clients;
      ALTER TABLE clients_by_key RENAME TO clients;
      CREATE INDEX clients_site_seen ON clients(site_id, last_seen);
      CREATE INDEX clients_seen ON clients(last_seen);
    `,
  },
  {
    version: 21,
    name: 'rules looked up by the values a page shows',
    sql: `
      -- The overview and the IP page read only the rules that may cover the values they show, instead of
      -- every rule of the site (up to 10,000: 30–40 ms a page). An IP rule's range as two keys that
      -- compare as its addresses (store/rule-lookup.ts): the family digit and 32 hex digits. NULL for other
      -- kinds; the hub fills them for IP rules stored before this version when it opens the database.
      ALTER TABLE rules ADD COLUMN ip_lo TEXT;
      ALTER TABLE rules ADD COLUMN ip_hi TEXT;
      CREATE INDEX rules_ip_range ON rules(site_id, ip_lo, ip_hi) WHERE kind = 'ip';
      CREATE INDEX rules_kind_value ON rules(site_id, kind, value);
    `,
  },
];
