-- 0001: the hub's first schema. No table holds key material or a secret:
-- invite codes, device credentials, login codes and session ids are kept
-- as their SHA-256 (hex); shared keys keep a name and fingerprint.

CREATE TABLE invites (
	code_hash  TEXT    PRIMARY KEY,
	email      TEXT    NOT NULL,
	created_us INTEGER NOT NULL,
	expires_us INTEGER NOT NULL,
	used_us    INTEGER
) WITHOUT ROWID;

CREATE TABLE devices (
	id           TEXT    PRIMARY KEY,
	member       TEXT    NOT NULL,
	name         TEXT    NOT NULL DEFAULT '',
	cred_hash    TEXT    NOT NULL UNIQUE,
	created_us   INTEGER NOT NULL,
	last_seen_us INTEGER NOT NULL DEFAULT 0,
	revoked_us   INTEGER
) WITHOUT ROWID;

CREATE TABLE admins (
	email      TEXT    PRIMARY KEY,
	created_us INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE logins (
	code_hash  TEXT    PRIMARY KEY,
	email      TEXT    NOT NULL,
	expires_us INTEGER NOT NULL,
	used_us    INTEGER
) WITHOUT ROWID;

CREATE TABLE sessions (
	hash       TEXT    PRIMARY KEY,
	email      TEXT    NOT NULL,
	expires_us INTEGER NOT NULL
) WITHOUT ROWID;

-- usage: one row per call, keyed by (member, id) so that one member's ids
-- cannot pre-empt another's. source says who wrote the row: 'hub' for the
-- hub's own metering of a relayed call, 'device' for a synced copy.
CREATE TABLE usage (
	member                TEXT    NOT NULL,
	id                    TEXT    NOT NULL,
	device_id             TEXT    NOT NULL,
	source                TEXT    NOT NULL CHECK (source IN ('hub', 'device')),
	time_us               INTEGER NOT NULL,
	service               TEXT    NOT NULL,
	model                 TEXT    NOT NULL DEFAULT '',
	app                   TEXT    NOT NULL DEFAULT '',
	project               TEXT    NOT NULL DEFAULT '',
	credential            TEXT    NOT NULL DEFAULT '',
	payer                 TEXT    NOT NULL DEFAULT '',
	status                INTEGER NOT NULL DEFAULT 0,
	input_tokens          INTEGER NOT NULL DEFAULT 0,
	output_tokens         INTEGER NOT NULL DEFAULT 0,
	cache_read_tokens     INTEGER NOT NULL DEFAULT 0,
	cache_write_5m_tokens INTEGER NOT NULL DEFAULT 0,
	cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0,
	requests              INTEGER NOT NULL DEFAULT 0,
	cost_micros           INTEGER NOT NULL DEFAULT 0,
	cost_known            INTEGER NOT NULL DEFAULT 0,
	latency_us            INTEGER NOT NULL DEFAULT 0,
	fallback_reason       TEXT    NOT NULL DEFAULT '',
	relayed               INTEGER NOT NULL DEFAULT 0,
	incomplete            INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (member, id)
) WITHOUT ROWID;
CREATE INDEX usage_time ON usage (time_us);
CREATE INDEX usage_member_time ON usage (member, time_us);

CREATE TABLE inventory (
	device_id   TEXT    PRIMARY KEY REFERENCES devices (id),
	reported_us INTEGER NOT NULL,
	body        TEXT    NOT NULL
) WITHOUT ROWID;

CREATE TABLE policies (
	version    INTEGER PRIMARY KEY,
	body       TEXT    NOT NULL,
	created_us INTEGER NOT NULL
);

CREATE TABLE shared_keys (
	name        TEXT    PRIMARY KEY,
	service     TEXT    NOT NULL,
	fingerprint TEXT    NOT NULL DEFAULT '',
	created_us  INTEGER NOT NULL
) WITHOUT ROWID;
