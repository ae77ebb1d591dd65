-- mailops migration 0002: what `mailops apply` last wrote, per domain, so
-- that plan and apply read only the rows of domains that may have changed.
--
-- `digest` is the SHA-256 (hex) of the domain's rows as mailops wrote them;
-- `edits` counts every row written to virtual_users or virtual_aliases in the
-- domain, by anyone (the triggers below); `applied_edits` is `edits` as it
-- stood when mailops wrote the digest. A domain whose two counters differ was
-- edited since, by hand or by a tool: mailops reads its rows again. Row counts
-- per domain catch what fires no trigger (TRUNCATE, triggers dropped).
--
-- Each trigger body is a single statement, so this file needs no DELIMITER
-- and applies with the plain `mysql` client too. Creating triggers needs the
-- TRIGGER privilege (and, with binary logging on, SUPER or
-- log_bin_trust_function_creators = 1).

CREATE TABLE IF NOT EXISTS mailops_domain_state (
  domain_id INT NOT NULL PRIMARY KEY,
  digest VARCHAR(80) NOT NULL,
  edits BIGINT NOT NULL DEFAULT 0,
  applied_edits BIGINT NOT NULL DEFAULT 0,
  CONSTRAINT mailops_domain_state_domain_fk FOREIGN KEY (domain_id)
    REFERENCES virtual_domains (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

DROP TRIGGER IF EXISTS virtual_users_edited_insert;
CREATE TRIGGER virtual_users_edited_insert AFTER INSERT ON virtual_users FOR EACH ROW
  UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id = NEW.domain_id;
DROP TRIGGER IF EXISTS virtual_users_edited_update;
CREATE TRIGGER virtual_users_edited_update AFTER UPDATE ON virtual_users FOR EACH ROW
  UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id IN (OLD.domain_id, NEW.domain_id);
DROP TRIGGER IF EXISTS virtual_users_edited_delete;
CREATE TRIGGER virtual_users_edited_delete AFTER DELETE ON virtual_users FOR EACH ROW
  UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id = OLD.domain_id;

DROP TRIGGER IF EXISTS virtual_aliases_edited_insert;
CREATE TRIGGER virtual_aliases_edited_insert AFTER INSERT ON virtual_aliases FOR EACH ROW
  UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id = NEW.domain_id;
DROP TRIGGER IF EXISTS virtual_aliases_edited_update;
CREATE TRIGGER virtual_aliases_edited_update AFTER UPDATE ON virtual_aliases FOR EACH ROW
  UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id IN (OLD.domain_id, NEW.domain_id);
DROP TRIGGER IF EXISTS virtual_aliases_edited_delete;
CREATE TRIGGER virtual_aliases_edited_delete AFTER DELETE ON virtual_aliases FOR EACH ROW
  UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id = OLD.domain_id;

-- Every migration records itself, so that a file applied by hand counts too.
INSERT INTO mailops_schema_migrations (version, name) VALUES (2, 'domain_state');
