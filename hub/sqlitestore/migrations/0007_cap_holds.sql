-- 0007: a relayed call's hold on its member's shared allowance while it
-- is in flight (sqlstore.ReserveShared), as on PostgreSQL: concurrent
-- calls of one member can no longer pass the cap together. Deleted in the
-- transaction that records the call's row; a hub killed mid-call leaves
-- its holds to expire.
CREATE TABLE cap_holds (
	member     TEXT    NOT NULL,
	id         TEXT    NOT NULL,
	amount     INTEGER NOT NULL,
	expires_us INTEGER NOT NULL,
	PRIMARY KEY (member, id)
) WITHOUT ROWID;
