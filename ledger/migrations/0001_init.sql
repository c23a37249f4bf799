-- 0001: the first schema. No table holds key material: keys keep a name and
-- fingerprint, app tokens only their SHA-256.

-- usage: one row per proxied call. seq is the insertion order; id is the
-- globally unique event id the hub deduplicates on.
CREATE TABLE usage (
	seq                   INTEGER PRIMARY KEY,
	id                    TEXT    NOT NULL UNIQUE,
	time_us               INTEGER NOT NULL, -- unix microseconds
	service               TEXT    NOT NULL,
	model                 TEXT    NOT NULL DEFAULT '',
	app                   TEXT    NOT NULL DEFAULT '',
	project               TEXT    NOT NULL DEFAULT '',
	credential            TEXT    NOT NULL DEFAULT '',
	payer                 TEXT    NOT NULL DEFAULT '',
	member                TEXT    NOT NULL DEFAULT '',
	status                INTEGER NOT NULL DEFAULT 0,
	input_tokens          INTEGER NOT NULL DEFAULT 0,
	output_tokens         INTEGER NOT NULL DEFAULT 0,
	cache_read_tokens     INTEGER NOT NULL DEFAULT 0,
	cache_write_5m_tokens INTEGER NOT NULL DEFAULT 0,
	cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0,
	requests              INTEGER NOT NULL DEFAULT 0,
	cost_micros           INTEGER NOT NULL DEFAULT 0,
	cost_known            INTEGER NOT NULL DEFAULT 0 CHECK (cost_known IN (0, 1)),
	latency_us            INTEGER NOT NULL DEFAULT 0,
	fallback_reason       TEXT    NOT NULL DEFAULT '',
	relayed               INTEGER NOT NULL DEFAULT 0 CHECK (relayed IN (0, 1)),
	incomplete            INTEGER NOT NULL DEFAULT 0 CHECK (incomplete IN (0, 1))
);
CREATE INDEX usage_time ON usage (time_us);
CREATE INDEX usage_payer_time ON usage (payer, time_us);
CREATE INDEX usage_credential_time ON usage (credential, time_us);

-- outbox: usage rows not yet acknowledged by the team hub.
CREATE TABLE outbox (
	seq INTEGER PRIMARY KEY REFERENCES usage (seq) ON DELETE CASCADE
);

-- keys: personal key metadata. The secret lives in the OS keychain.
CREATE TABLE keys (
	service       TEXT    NOT NULL,
	name          TEXT    NOT NULL,
	fingerprint   TEXT    NOT NULL DEFAULT '',
	budget_micros INTEGER NOT NULL DEFAULT 0,
	is_primary    INTEGER NOT NULL DEFAULT 0 CHECK (is_primary IN (0, 1)),
	created_us    INTEGER NOT NULL,
	PRIMARY KEY (service, name)
) WITHOUT ROWID;
CREATE UNIQUE INDEX keys_one_primary ON keys (service) WHERE is_primary = 1;

-- app_tokens: local app tokens, by the SHA-256 of the token.
CREATE TABLE app_tokens (
	name       TEXT    PRIMARY KEY,
	project    TEXT    NOT NULL DEFAULT '',
	hash       BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
	created_us INTEGER NOT NULL,
	revoked_us INTEGER
);

-- prefs: the member's preference per service.
CREATE TABLE prefs (
	service    TEXT    PRIMARY KEY,
	preference TEXT    NOT NULL,
	fallback   INTEGER NOT NULL DEFAULT 0 CHECK (fallback IN (0, 1))
) WITHOUT ROWID;

-- meta: small values such as the install id and the cached team policy.
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;
