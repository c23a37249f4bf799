-- 0007: the batch results files whose cost is in the ledger. A batch is
-- billed when its results are downloaded whole for the first time; a later
-- download of the same file finds it here and costs nothing twice.
CREATE TABLE counted_batches (
	key        TEXT    PRIMARY KEY, -- "openai file-abc", "anthropic msgbatch_01"
	counted_us INTEGER NOT NULL
) WITHOUT ROWID;
