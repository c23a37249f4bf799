-- 0006: two smaller rollups beside usage_month and usage_day (see
-- sqlstore.Rollups): the team's days by service and payer, and each
-- member's months by service, model and payer. The overview of a quarter
-- of a large team reads a few thousand of their rows instead of the
-- hundreds of thousands of usage_month's and usage_day's. Neither holds
-- the fallback reason, the one column that changes in place, so inserts
-- and deletes are all that change them.

CREATE TABLE usage_day_total (
	day_us          INTEGER NOT NULL,
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
	PRIMARY KEY (day_us, service, payer)
) WITHOUT ROWID;

CREATE TABLE usage_month_member (
	month_us        INTEGER NOT NULL,
	member          TEXT    NOT NULL,
	service         TEXT    NOT NULL,
	model           TEXT    NOT NULL,
	payer           TEXT    NOT NULL,
	calls           INTEGER NOT NULL,
	cost_micros     INTEGER NOT NULL,
	input_tokens    INTEGER NOT NULL,
	output_tokens   INTEGER NOT NULL,
	cache_read_tokens  INTEGER NOT NULL,
	cache_write_tokens INTEGER NOT NULL,
	requests        INTEGER NOT NULL,
	unknown_cost    INTEGER NOT NULL,
	PRIMARY KEY (month_us, member, service, model, payer)
) WITHOUT ROWID;

CREATE TRIGGER usage_rollup_small_insert AFTER INSERT ON usage BEGIN
	INSERT INTO usage_day_total VALUES (unixepoch(NEW.time_us / 1000000, 'unixepoch', 'start of day') * 1000000, NEW.service, NEW.payer,
		1, NEW.cost_micros, NEW.input_tokens, NEW.output_tokens, NEW.cache_read_tokens,
		NEW.cache_write_5m_tokens + NEW.cache_write_1h_tokens, NEW.requests, NOT NEW.cost_known)
	ON CONFLICT DO UPDATE SET calls = calls + 1, cost_micros = cost_micros + excluded.cost_micros,
		input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
		cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
		cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens, requests = requests + excluded.requests,
		unknown_cost = unknown_cost + excluded.unknown_cost;
	INSERT INTO usage_month_member VALUES (unixepoch(NEW.time_us / 1000000, 'unixepoch', 'start of month') * 1000000, NEW.member, NEW.service, NEW.model, NEW.payer,
		1, NEW.cost_micros, NEW.input_tokens, NEW.output_tokens, NEW.cache_read_tokens,
		NEW.cache_write_5m_tokens + NEW.cache_write_1h_tokens, NEW.requests, NOT NEW.cost_known)
	ON CONFLICT DO UPDATE SET calls = calls + 1, cost_micros = cost_micros + excluded.cost_micros,
		input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
		cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
		cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens, requests = requests + excluded.requests,
		unknown_cost = unknown_cost + excluded.unknown_cost;
END;

CREATE TRIGGER usage_rollup_small_delete AFTER DELETE ON usage BEGIN
	UPDATE usage_day_total SET calls = calls - 1, cost_micros = cost_micros - OLD.cost_micros,
		input_tokens = input_tokens - OLD.input_tokens, output_tokens = output_tokens - OLD.output_tokens,
		cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens,
		cache_write_tokens = cache_write_tokens - OLD.cache_write_5m_tokens - OLD.cache_write_1h_tokens,
		requests = requests - OLD.requests, unknown_cost = unknown_cost - (NOT OLD.cost_known)
	WHERE day_us = unixepoch(OLD.time_us / 1000000, 'unixepoch', 'start of day') * 1000000 AND service = OLD.service AND payer = OLD.payer;
	UPDATE usage_month_member SET calls = calls - 1, cost_micros = cost_micros - OLD.cost_micros,
		input_tokens = input_tokens - OLD.input_tokens, output_tokens = output_tokens - OLD.output_tokens,
		cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens,
		cache_write_tokens = cache_write_tokens - OLD.cache_write_5m_tokens - OLD.cache_write_1h_tokens,
		requests = requests - OLD.requests, unknown_cost = unknown_cost - (NOT OLD.cost_known)
	WHERE month_us = unixepoch(OLD.time_us / 1000000, 'unixepoch', 'start of month') * 1000000 AND member = OLD.member AND service = OLD.service
		AND model = OLD.model AND payer = OLD.payer;
END;

INSERT INTO usage_day_total
SELECT day_us, service, payer, sum(calls), sum(cost_micros), sum(input_tokens), sum(output_tokens),
	sum(cache_read_tokens), sum(cache_write_tokens), sum(requests), sum(unknown_cost)
FROM usage_day GROUP BY 1, 2, 3;

INSERT INTO usage_month_member
SELECT month_us, member, service, model, payer, sum(calls), sum(cost_micros), sum(input_tokens), sum(output_tokens),
	sum(cache_read_tokens), sum(cache_write_tokens), sum(requests), sum(unknown_cost)
FROM usage_month GROUP BY 1, 2, 3, 4, 5;
