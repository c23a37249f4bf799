-- 0002: sums of usage by month and by day, kept by triggers in the same
-- transaction as every change to usage, so that the admin view reads a
-- quarter of a large team without summing its rows one by one (a GROUP BY
-- over 250,000 calls took a second; see docs/BENCHMARKS.md). Times are
-- the UTC start of the month or day, in microseconds. A group whose last
-- call went (a device copy replaced by the hub's row) stays with calls = 0.

CREATE TABLE usage_month (
	month_us        INTEGER NOT NULL,
	member          TEXT    NOT NULL,
	service         TEXT    NOT NULL,
	model           TEXT    NOT NULL,
	payer           TEXT    NOT NULL,
	project         TEXT    NOT NULL,
	credential      TEXT    NOT NULL,
	fallback_reason TEXT    NOT NULL,
	calls           INTEGER NOT NULL,
	cost_micros     INTEGER NOT NULL,
	input_tokens    INTEGER NOT NULL,
	output_tokens   INTEGER NOT NULL,
	cache_read_tokens  INTEGER NOT NULL,
	cache_write_tokens INTEGER NOT NULL,
	requests        INTEGER NOT NULL,
	PRIMARY KEY (month_us, member, service, model, payer, project, credential, fallback_reason)
) WITHOUT ROWID;

CREATE TABLE usage_day (
	day_us          INTEGER NOT NULL,
	member          TEXT    NOT NULL,
	service         TEXT    NOT NULL,
	payer           TEXT    NOT NULL,
	calls           INTEGER NOT NULL,
	cost_micros     INTEGER NOT NULL,
	input_tokens    INTEGER NOT NULL,
	output_tokens   INTEGER NOT NULL,
	cache_read_tokens  INTEGER NOT NULL,
	cache_write_tokens INTEGER NOT NULL,
	requests        INTEGER NOT NULL,
	PRIMARY KEY (day_us, member, service, payer)
) WITHOUT ROWID;

CREATE TRIGGER usage_rollup_insert AFTER INSERT ON usage BEGIN
	INSERT INTO usage_month VALUES (
		unixepoch(NEW.time_us / 1000000, 'unixepoch', 'start of month') * 1000000,
		NEW.member, NEW.service, NEW.model, NEW.payer, NEW.project, NEW.credential, NEW.fallback_reason,
		1, NEW.cost_micros, NEW.input_tokens, NEW.output_tokens, NEW.cache_read_tokens,
		NEW.cache_write_5m_tokens + NEW.cache_write_1h_tokens, NEW.requests)
	ON CONFLICT DO UPDATE SET calls = calls + 1, cost_micros = cost_micros + excluded.cost_micros,
		input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
		cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
		cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens, requests = requests + excluded.requests;
	INSERT INTO usage_day VALUES (
		unixepoch(NEW.time_us / 1000000, 'unixepoch', 'start of day') * 1000000,
		NEW.member, NEW.service, NEW.payer,
		1, NEW.cost_micros, NEW.input_tokens, NEW.output_tokens, NEW.cache_read_tokens,
		NEW.cache_write_5m_tokens + NEW.cache_write_1h_tokens, NEW.requests)
	ON CONFLICT DO UPDATE SET calls = calls + 1, cost_micros = cost_micros + excluded.cost_micros,
		input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
		cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
		cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens, requests = requests + excluded.requests;
END;

CREATE TRIGGER usage_rollup_delete AFTER DELETE ON usage BEGIN
	UPDATE usage_month SET calls = calls - 1, cost_micros = cost_micros - OLD.cost_micros,
		input_tokens = input_tokens - OLD.input_tokens, output_tokens = output_tokens - OLD.output_tokens,
		cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens,
		cache_write_tokens = cache_write_tokens - OLD.cache_write_5m_tokens - OLD.cache_write_1h_tokens,
		requests = requests - OLD.requests
	WHERE month_us = unixepoch(OLD.time_us / 1000000, 'unixepoch', 'start of month') * 1000000
		AND member = OLD.member AND service = OLD.service AND model = OLD.model AND payer = OLD.payer
		AND project = OLD.project AND credential = OLD.credential AND fallback_reason = OLD.fallback_reason;
	UPDATE usage_day SET calls = calls - 1, cost_micros = cost_micros - OLD.cost_micros,
		input_tokens = input_tokens - OLD.input_tokens, output_tokens = output_tokens - OLD.output_tokens,
		cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens,
		cache_write_tokens = cache_write_tokens - OLD.cache_write_5m_tokens - OLD.cache_write_1h_tokens,
		requests = requests - OLD.requests
	WHERE day_us = unixepoch(OLD.time_us / 1000000, 'unixepoch', 'start of day') * 1000000
		AND member = OLD.member AND service = OLD.service AND payer = OLD.payer;
END;

-- Only the fallback reason changes in place (see IngestUsage); other
-- columns never do.
CREATE TRIGGER usage_rollup_reason AFTER UPDATE OF fallback_reason ON usage BEGIN
	UPDATE usage_month SET calls = calls - 1, cost_micros = cost_micros - OLD.cost_micros,
		input_tokens = input_tokens - OLD.input_tokens, output_tokens = output_tokens - OLD.output_tokens,
		cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens,
		cache_write_tokens = cache_write_tokens - OLD.cache_write_5m_tokens - OLD.cache_write_1h_tokens,
		requests = requests - OLD.requests
	WHERE month_us = unixepoch(OLD.time_us / 1000000, 'unixepoch', 'start of month') * 1000000
		AND member = OLD.member AND service = OLD.service AND model = OLD.model AND payer = OLD.payer
		AND project = OLD.project AND credential = OLD.credential AND fallback_reason = OLD.fallback_reason;
	INSERT INTO usage_month VALUES (
		unixepoch(NEW.time_us / 1000000, 'unixepoch', 'start of month') * 1000000,
		NEW.member, NEW.service, NEW.model, NEW.payer, NEW.project, NEW.credential, NEW.fallback_reason,
		1, NEW.cost_micros, NEW.input_tokens, NEW.output_tokens, NEW.cache_read_tokens,
		NEW.cache_write_5m_tokens + NEW.cache_write_1h_tokens, NEW.requests)
	ON CONFLICT DO UPDATE SET calls = calls + 1, cost_micros = cost_micros + excluded.cost_micros,
		input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
		cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
		cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens, requests = requests + excluded.requests;
END;

INSERT INTO usage_month
SELECT unixepoch(time_us / 1000000, 'unixepoch', 'start of month') * 1000000, member, service, model, payer,
	project, credential, fallback_reason, count(*), sum(cost_micros), sum(input_tokens), sum(output_tokens),
	sum(cache_read_tokens), sum(cache_write_5m_tokens + cache_write_1h_tokens), sum(requests)
FROM usage GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

INSERT INTO usage_day
SELECT unixepoch(time_us / 1000000, 'unixepoch', 'start of day') * 1000000, member, service, payer,
	count(*), sum(cost_micros), sum(input_tokens), sum(output_tokens),
	sum(cache_read_tokens), sum(cache_write_5m_tokens + cache_write_1h_tokens), sum(requests)
FROM usage GROUP BY 1, 2, 3, 4;
