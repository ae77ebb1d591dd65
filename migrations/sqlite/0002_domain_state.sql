-- mailops migration 0002: what `mailops apply` last wrote, per domain, so
-- that plan and apply read only the rows of domains that may have changed.
--
-- `digest` is the SHA-256 (hex) of the domain's rows as mailops wrote them;
-- `edits` counts every row written to virtual_users or virtual_aliases in the
-- domain, by anyone (the triggers below); `applied_edits` is `edits` as it
-- stood when mailops wrote the digest. A domain whose two counters differ was
-- edited since, by hand or by a tool: mailops reads its rows again. Row counts
-- per domain catch what fires no trigger (triggers dropped, a REPLACE that
-- moves a row to another domain). The state row goes with its domain
-- (ON DELETE CASCADE, with `PRAGMA foreign_keys = ON`).

CREATE TABLE IF NOT EXISTS mailops_domain_state (
  domain_id INTEGER NOT NULL PRIMARY KEY REFERENCES virtual_domains (id) ON DELETE CASCADE,
  digest TEXT NOT NULL,
  edits INTEGER NOT NULL DEFAULT 0,
  applied_edits INTEGER NOT NULL DEFAULT 0
);

CREATE TRIGGER IF NOT EXISTS virtual_users_edited_insert AFTER INSERT ON virtual_users
BEGIN
  UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id = NEW.domain_id;
END;
CREATE TRIGGER IF NOT EXISTS virtual_users_edited_update AFTER UPDATE ON virtual_users
BEGIN
  UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id IN (OLD.domain_id, NEW.domain_id);
END;
CREATE TRIGGER IF NOT EXISTS virtual_users_edited_delete AFTER DELETE ON virtual_users
BEGIN
  UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id = OLD.domain_id;
END;

CREATE TRIGGER IF NOT EXISTS virtual_aliases_edited_insert AFTER INSERT ON virtual_aliases
BEGIN
  UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id = NEW.domain_id;
END;
CREATE TRIGGER IF NOT EXISTS virtual_aliases_edited_update AFTER UPDATE ON virtual_aliases
BEGIN
  UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id IN (OLD.domain_id, NEW.domain_id);
END;
CREATE TRIGGER IF NOT EXISTS virtual_aliases_edited_delete AFTER DELETE ON virtual_aliases
BEGIN
  UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id = OLD.domain_id;
END;

-- Every migration records itself, so that a file applied by hand counts too.
INSERT INTO mailops_schema_migrations (version, name) VALUES (2, 'domain_state');
