-- 0002: monthly budgets. A call reserves its estimated cost against its
-- personal key before it is sent; recording the call's usage row deletes
-- the reservation in the same transaction, so the real cost replaces the
-- estimate atomically and open reservations survive restarts.
CREATE TABLE reservations (
	id            TEXT    PRIMARY KEY, -- the call's usage event id
	service       TEXT    NOT NULL,
	credential    TEXT    NOT NULL,
	amount_micros INTEGER NOT NULL,
	created_us    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX reservations_key ON reservations (service, credential);

-- budget_alerts: which thresholds (50, 80, 100 percent) were announced for
-- a key in a month, so each is announced once.
CREATE TABLE budget_alerts (
	service    TEXT    NOT NULL,
	credential TEXT    NOT NULL,
	month      TEXT    NOT NULL, -- YYYY-MM
	percent    INTEGER NOT NULL,
	PRIMARY KEY (service, credential, month, percent)
) WITHOUT ROWID;

-- The budget check sums a key's month by service and credential.
CREATE INDEX usage_service_credential_time ON usage (service, credential, time_us);

-- A member's further choices per service: fall back also when the personal
-- key is only rate-limited or the provider overloaded; and what happens when
-- a personal key reaches its monthly budget (warn, block or shared).
ALTER TABLE prefs ADD COLUMN rate_limit_fallback INTEGER NOT NULL DEFAULT 0 CHECK (rate_limit_fallback IN (0, 1));
ALTER TABLE prefs ADD COLUMN over_budget TEXT NOT NULL DEFAULT 'warn';
