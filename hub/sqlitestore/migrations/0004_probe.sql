-- 0004: one row the relay rewrites to prove, before it sends a call on
-- the team's key, that the database can still take that call's row.
CREATE TABLE probe (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	at_us INTEGER NOT NULL
);
INSERT INTO probe VALUES (1, 0);
