-- 0009: the outbox keeps runs of consecutive usage rows, not one row per
-- usage row. New rows extend the last run, so a transaction adds or
-- changes one outbox row however many usage rows it inserts; the row per
-- usage row (with its foreign key check) was a tenth of the ledger's work
-- per call. A run may span seq values that no usage row has (rows a
-- rebuild could not read): the outbox's readers join usage.
CREATE TABLE outbox_runs (
	first_seq INTEGER PRIMARY KEY,
	last_seq  INTEGER NOT NULL CHECK (last_seq >= first_seq)
);
INSERT INTO outbox_runs (first_seq, last_seq)
SELECT min(seq), max(seq) FROM (SELECT seq, seq - row_number() OVER (ORDER BY seq) AS run FROM outbox)
GROUP BY run;
DROP TABLE outbox;
ALTER TABLE outbox_runs RENAME TO outbox;
