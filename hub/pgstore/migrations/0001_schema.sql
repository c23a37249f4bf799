-- 0001: the hub's schema in PostgreSQL, the same rows as sqlitestore's
-- (times are microseconds since the epoch, UTC, as there). No table holds
-- a secret in the clear: invite codes, device credentials, login codes and
-- session ids are kept as their SHA-256 (hex); shared keys as a name and
-- fingerprint, and their secrets only sealed (sealed_secrets).

CREATE TABLE invites (
	code_hash  text   PRIMARY KEY,
	email      text   NOT NULL,
	created_us bigint NOT NULL,
	expires_us bigint NOT NULL,
	used_us    bigint
);

CREATE TABLE devices (
	id           text   PRIMARY KEY,
	member       text   NOT NULL,
	name         text   NOT NULL DEFAULT '',
	cred_hash    text   NOT NULL UNIQUE,
	created_us   bigint NOT NULL,
	last_seen_us bigint NOT NULL DEFAULT 0,
	revoked_us   bigint
);

CREATE TABLE admins (
	email      text   PRIMARY KEY,
	created_us bigint NOT NULL
);

CREATE TABLE logins (
	code_hash  text   PRIMARY KEY,
	email      text   NOT NULL,
	expires_us bigint NOT NULL,
	used_us    bigint
);

CREATE TABLE sessions (
	hash       text   PRIMARY KEY,
	email      text   NOT NULL,
	expires_us bigint NOT NULL
);

-- usage_keys is the one row per (member, id) that makes ingest idempotent
-- across replicas: a partitioned table cannot hold a unique key that
-- leaves out its partition column, and a call's copies may carry
-- different times (the hub's clock and the device's). It says where the
-- row is (time_us picks the partition) and who wrote it.
CREATE TABLE usage_keys (
	member  text   COLLATE "C" NOT NULL,
	id      text   COLLATE "C" NOT NULL,
	time_us bigint NOT NULL,
	source  text   NOT NULL CHECK (source IN ('hub', 'device')),
	PRIMARY KEY (member, id)
);

-- usage: one row per call, partitioned by UTC month of time_us. The
-- partitions (usage_yYYYYmMM) are made by the store before it writes a
-- month's first row (see partition.go), never by hand.
CREATE TABLE usage (
	member                text    COLLATE "C" NOT NULL,
	id                    text    COLLATE "C" NOT NULL,
	device_id             text    NOT NULL,
	source                text    NOT NULL CHECK (source IN ('hub', 'device')),
	time_us               bigint  NOT NULL,
	service               text    NOT NULL,
	model                 text    NOT NULL DEFAULT '',
	app                   text    NOT NULL DEFAULT '',
	project               text    NOT NULL DEFAULT '',
	credential            text    NOT NULL DEFAULT '',
	payer                 text    NOT NULL DEFAULT '',
	status                integer NOT NULL DEFAULT 0,
	input_tokens          bigint  NOT NULL DEFAULT 0,
	output_tokens         bigint  NOT NULL DEFAULT 0,
	cache_read_tokens     bigint  NOT NULL DEFAULT 0,
	cache_write_5m_tokens bigint  NOT NULL DEFAULT 0,
	cache_write_1h_tokens bigint  NOT NULL DEFAULT 0,
	requests              bigint  NOT NULL DEFAULT 0,
	cost_micros           bigint  NOT NULL DEFAULT 0,
	cost_known            boolean NOT NULL DEFAULT false,
	latency_us            bigint  NOT NULL DEFAULT 0,
	fallback_reason       text    NOT NULL DEFAULT '',
	relayed               boolean NOT NULL DEFAULT false,
	incomplete            boolean NOT NULL DEFAULT false,
	PRIMARY KEY (member, id, time_us)
) PARTITION BY RANGE (time_us);
-- The audit log seeks on (time_us, member, id), in byte order (COLLATE
-- "C", as SQLite compares); reports by member on (member, time_us).
CREATE INDEX usage_time ON usage (time_us, member, id);
CREATE INDEX usage_member_time ON usage (member, time_us);

-- Sums of usage by month and by day, kept by the store in the same
-- transaction as every change to usage (rollup.go), so that the admin
-- view reads a quarter of a large team without summing its rows. A group
-- whose last call went (a device copy replaced by the hub's row) stays
-- with calls = 0.
CREATE TABLE usage_month (
	month_us           bigint NOT NULL,
	member             text   NOT NULL,
	service            text   NOT NULL,
	model              text   NOT NULL,
	payer              text   NOT NULL,
	project            text   NOT NULL,
	credential         text   NOT NULL,
	fallback_reason    text   NOT NULL,
	calls              bigint NOT NULL,
	cost_micros        bigint NOT NULL,
	input_tokens       bigint NOT NULL,
	output_tokens      bigint NOT NULL,
	cache_read_tokens  bigint NOT NULL,
	cache_write_tokens bigint NOT NULL,
	requests           bigint NOT NULL,
	unknown_cost       bigint NOT NULL,
	PRIMARY KEY (month_us, member, service, model, payer, project, credential, fallback_reason)
);

CREATE TABLE usage_day (
	day_us             bigint NOT NULL,
	member             text   NOT NULL,
	service            text   NOT NULL,
	payer              text   NOT NULL,
	calls              bigint NOT NULL,
	cost_micros        bigint NOT NULL,
	input_tokens       bigint NOT NULL,
	output_tokens      bigint NOT NULL,
	cache_read_tokens  bigint NOT NULL,
	cache_write_tokens bigint NOT NULL,
	requests           bigint NOT NULL,
	unknown_cost       bigint NOT NULL,
	PRIMARY KEY (day_us, member, service, payer)
);

CREATE TABLE inventory (
	device_id   text   PRIMARY KEY REFERENCES devices (id),
	reported_us bigint NOT NULL,
	body        text   NOT NULL
);

CREATE TABLE policies (
	version    bigint PRIMARY KEY,
	body       text   NOT NULL,
	created_us bigint NOT NULL
);

CREATE TABLE prices (
	version    bigint PRIMARY KEY,
	body       text   NOT NULL,
	created_us bigint NOT NULL
);

CREATE TABLE shared_keys (
	name        text   PRIMARY KEY,
	service     text   NOT NULL,
	fingerprint text   NOT NULL DEFAULT '',
	created_us  bigint NOT NULL
);

-- One row the relay rewrites to prove, before it sends a call on the
-- team's key, that the database can still take that call's row.
CREATE TABLE probe (
	id    integer PRIMARY KEY CHECK (id = 1),
	at_us bigint  NOT NULL
);
INSERT INTO probe VALUES (1, 0);

-- Shared keys' secrets, AES-256-GCM sealed under the replicas' sealing
-- key with the ref as additional data (secrets.go): never in the clear.
CREATE TABLE sealed_secrets (
	ref        text   PRIMARY KEY,
	nonce      bytea  NOT NULL,
	sealed     bytea  NOT NULL,
	created_us bigint NOT NULL
);
