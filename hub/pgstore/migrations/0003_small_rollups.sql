-- 0003: two smaller rollups beside usage_month and usage_day (see
-- sqlstore.Rollups), kept by rollup.go like them: the team's days by
-- service and payer, and each member's months by service, model and
-- payer. The overview of a quarter of a large team reads a few thousand
-- of their rows instead of the hundreds of thousands of usage_month's and
-- usage_day's.
CREATE TABLE usage_day_total (
	day_us             bigint NOT NULL,
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
	PRIMARY KEY (day_us, service, payer)
);

CREATE TABLE usage_month_member (
	month_us           bigint NOT NULL,
	member             text   NOT NULL,
	service            text   NOT NULL,
	model              text   NOT NULL,
	payer              text   NOT NULL,
	calls              bigint NOT NULL,
	cost_micros        bigint NOT NULL,
	input_tokens       bigint NOT NULL,
	output_tokens      bigint NOT NULL,
	cache_read_tokens  bigint NOT NULL,
	cache_write_tokens bigint NOT NULL,
	requests           bigint NOT NULL,
	unknown_cost       bigint NOT NULL,
	PRIMARY KEY (month_us, member, service, model, payer)
);

INSERT INTO usage_day_total
SELECT day_us, service, payer, sum(calls), sum(cost_micros), sum(input_tokens), sum(output_tokens),
	sum(cache_read_tokens), sum(cache_write_tokens), sum(requests), sum(unknown_cost)
FROM usage_day GROUP BY 1, 2, 3;

INSERT INTO usage_month_member
SELECT month_us, member, service, model, payer, sum(calls), sum(cost_micros), sum(input_tokens), sum(output_tokens),
	sum(cache_read_tokens), sum(cache_write_tokens), sum(requests), sum(unknown_cost)
FROM usage_month GROUP BY 1, 2, 3, 4, 5;
