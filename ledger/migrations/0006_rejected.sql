-- 0006: usage rows the team hub refused to store, with its reason. They
-- leave the outbox (they would block it) and stay here, for the member
-- to see, instead of vanishing.
CREATE TABLE rejected (
	seq         INTEGER PRIMARY KEY REFERENCES usage (seq) ON DELETE CASCADE,
	reason      TEXT    NOT NULL,
	rejected_us INTEGER NOT NULL
);
