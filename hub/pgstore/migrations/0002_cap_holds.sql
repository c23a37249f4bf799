-- 0002: a relayed call's hold on its member's shared allowance while it
-- is in flight (caps.go): reserved under the member's advisory lock before
-- the call is sent, deleted in the transaction that records its row. A
-- hub killed mid-call leaves its holds to expire.
CREATE TABLE cap_holds (
	member     text   COLLATE "C" NOT NULL,
	id         text   COLLATE "C" NOT NULL,
	amount     bigint NOT NULL,
	expires_us bigint NOT NULL,
	PRIMARY KEY (member, id)
);
