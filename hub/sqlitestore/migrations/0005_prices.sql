-- 0005: the team's price table, which the admin keeps on the hub and the
-- hub pushes to every daemon; each change is a new version.
CREATE TABLE prices (
	version    INTEGER PRIMARY KEY,
	body       TEXT    NOT NULL,
	created_us INTEGER NOT NULL
);
