-- 0008: the budget's monthly sum of a key reads the time index too, once
-- per key and month (the month is kept in memory after that), so the index
-- on (service, credential, time_us) goes: it was one more B-tree that every
-- row's insert updated, for a query that runs once per month.
DROP INDEX usage_service_credential_time;
DROP INDEX usage_time;
CREATE INDEX usage_time ON usage (time_us, payer, cost_micros, cost_known, service, credential);
