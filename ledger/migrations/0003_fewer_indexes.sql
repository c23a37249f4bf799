-- 0003: no query reads usage by credential alone (the budget check uses
-- usage_service_credential_time), and every index is one more page that
-- each commit writes.
DROP INDEX usage_credential_time;
