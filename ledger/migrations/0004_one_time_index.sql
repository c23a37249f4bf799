-- 0004: one index on time, covering the monthly spend by payer, in place
-- of two (usage_time and usage_payer_time): each index is one more B-tree
-- that every row's insert updates.
DROP INDEX usage_payer_time;
DROP INDEX usage_time;
CREATE INDEX usage_time ON usage (time_us, payer, cost_micros, cost_known);
