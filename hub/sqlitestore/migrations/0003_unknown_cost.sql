-- 0003: the rollups also count the calls whose cost is unknown (a model
-- without a price, an endpoint byokd does not meter), so that the admin
-- view shows "unknown" where it would otherwise show $0.00. The tables and
-- their triggers are made again from the rows.

DROP TRIGGER usage_rollup_insert;
DROP TRIGGER usage_rollup_delete;
DROP TRIGGER usage_rollup_reason;
DROP TABLE usage_month;
DROP TABLE usage_day;

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
	unknown_cost    INTEGER NOT NULL,
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
	unknown_cost    INTEGER NOT NULL,
	PRIMARY KEY (day_us, member, service, payer)
) WITHOUT ROWID;

CREATE TRIGGER usage_rollup_insert AFTER INSERT ON usage BEGIN
	INSERT INTO usage_month VALUES (
		unixepoch(NEW.time_us / 1000000, 'unixepoch', 'start of month') * 1000000,
		NEW.member, NEW.service, NEW.model, NEW.payer, NEW.project, NEW.credential, NEW.fallback_reason,
		1, NEW.cost_micros, NEW.input_tokens, NEW.output_tokens, NEW.cache_read_tokens,
		NEW.cache_write_5m_tokens + NEW.cache_write_1h_tokens, NEW.requests, NOT NEW.cost_known)
	ON CONFLICT DO UPDATE SET calls = calls + 1, cost_micros = cost_micros + excluded.cost_micros,
		input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
		cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
		cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens, requests = requests + excluded.requests,
		unknown_cost = unknown_cost + excluded.unknown_cost;
	INSERT INTO usage_day VALUES (
		unixepoch(NEW.time_us / 1000000, 'unixepoch', 'start of day') * 1000000,
		NEW.member, NEW.service, NEW.payer,
		1, NEW.cost_micros, NEW.input_tokens, NEW.output_tokens, NEW.cache_read_tokens,
		NEW.cache_write_5m_tokens + NEW.cache_write_1h_tokens, NEW.requests, NOT NEW.cost_known)
	ON CONFLICT DO UPDATE SET calls = calls + 1, cost_micros = cost_micros + excluded.cost_micros,
		input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
		cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
		cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens, requests = requests + excluded.requests,
		unknown_cost = unknown_cost + excluded.unknown_cost;
END;

CREATE TRIGGER usage_rollup_delete AFTER DELETE ON usage BEGIN
	UPDATE usage_month SET calls = calls - 1, cost_micros = cost_micros - OLD.cost_micros,
		input_tokens = input_tokens - OLD.input_tokens, output_tokens = output_tokens - OLD.output_tokens,
		cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens,
		cache_write_tokens = cache_write_tokens - OLD.cache_write_5m_tokens - OLD.cache_write_1h_tokens,
		requests = requests - OLD.requests, unknown_cost = unknown_cost - (NOT OLD.cost_known)
	WHERE month_us = unixepoch(OLD.time_us / 1000000, 'unixepoch', 'start of month') * 1000000
		AND member = OLD.member AND service = OLD.service AND model = OLD.model AND payer = OLD.payer
		AND project = OLD.project AND credential = OLD.credential AND fallback_reason = OLD.fallback_reason;
	UPDATE usage_day SET calls = calls - 1, cost_micros = cost_micros - OLD.cost_micros,
		input_tokens = input_tokens - OLD.input_tokens, output_tokens = output_tokens - OLD.output_tokens,
		cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens,
		cache_write_tokens = cache_write_tokens - OLD.cache_write_5m_tokens - OLD.cache_write_1h_tokens,
		requests = requests - OLD.requests, unknown_cost = unknown_cost - (NOT OLD.cost_known)
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
		requests = requests - OLD.requests, unknown_cost = unknown_cost - (NOT OLD.cost_known)
	WHERE month_us = unixepoch(OLD.time_us / 1000000, 'unixepoch', 'start of month') * 1000000
		AND member = OLD.member AND service = OLD.service AND model = OLD.model AND payer = OLD.payer
		AND project = OLD.project AND credential = OLD.credential AND fallback_reason = OLD.fallback_reason;
	INSERT INTO usage_month VALUES (
		unixepoch(NEW.time_us / 1000000, 'unixepoch', 'start of month') * 1000000,
		NEW.member, NEW.service, NEW.model, NEW.payer, NEW.project, NEW.credential, NEW.fallback_reason,
		1, NEW.cost_micros, NEW.input_tokens, NEW.output_tokens, NEW.cache_read_tokens,
		NEW.cache_write_5m_tokens + NEW.cache_write_1h_tokens, NEW.requests, NOT NEW.cost_known)
	ON CONFLICT DO UPDATE SET calls = calls + 1, cost_micros = cost_micros + excluded.cost_micros,
		input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
		cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
		cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens, requests = requests + excluded.requests,
		unknown_cost = unknown_cost + excluded.unknown_cost;
END;

INSERT INTO usage_month
SELECT unixepoch(time_us / 1000000, 'unixepoch', 'start of month') * 1000000, member, service, model, payer,
	project, credential, fallback_reason, count(*), sum(cost_micros), sum(input_tokens), sum(output_tokens),
	sum(cache_read_tokens), sum(cache_write_5m_tokens + cache_write_1h_tokens), sum(requests), sum(NOT cost_known)
FROM usage GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

INSERT INTO usage_day
SELECT unixepoch(time_us / 1000000, 'unixepoch', 'start of day') * 1000000, member, service, payer,
	count(*), sum(cost_micros), sum(input_tokens), sum(output_tokens),
	sum(cache_read_tokens), sum(cache_write_5m_tokens + cache_write_1h_tokens), sum(requests), sum(NOT cost_known)
FROM usage GROUP BY 1, 2, 3, 4;
