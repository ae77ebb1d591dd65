-- mailops migration 0007: the apply lock row, for a Galera cluster.
--
-- `GET_LOCK` is node-local on Galera: two applies on two nodes would both
-- hold it. So every apply also updates this one row first thing in its own
-- transaction (`db::lock`). Galera certifies a commit against the write sets
-- committed since the transaction began: two applies that wrote this row
-- concurrently on different nodes conflict, and the later commit is
-- refused (ER_LOCK_DEADLOCK), so exactly one of them is written. On a single
-- server the named lock already serialises applies; the row then only
-- counts them. `generation` counts the applies that took the lock (a
-- rolled-back apply's increment is rolled back with it); `holder` says who
-- took it last.

CREATE TABLE mailops_apply_lock (
  id TINYINT NOT NULL PRIMARY KEY CHECK (id = 1),
  generation BIGINT NOT NULL DEFAULT 0,
  holder VARCHAR(255) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

INSERT INTO mailops_apply_lock (id, generation, holder) VALUES (1, 0, NULL);

-- Every migration records itself, so that a file applied by hand counts too.
INSERT INTO mailops_schema_migrations (version, name) VALUES (7, 'apply_lock');
