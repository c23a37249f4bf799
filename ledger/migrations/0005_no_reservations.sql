-- 0005: budget reservations live in memory (they hold the estimates of
-- calls in flight, which end with the process), and each key's monthly
-- spend too, so that a call's budget check touches no table.
DROP TABLE reservations;
