-- mailops migration 0006: relay domains and backup MX.
--
-- A relay tenant keeps its virtual_domains row (its id owns these rows, its
-- state still refuses or accepts its mail) but has no mailboxes: Postfix
-- reads `relay_domains` for relay_domains (and leaves such a domain out of
-- virtual_mailbox_domains) and transport_maps (`nexthop`, Postfix next-hop
-- syntax, e.g. `[mail.client.example]:25`), and `relay_recipients` for
-- relay_recipient_maps (`@domain`: any address). `backup_mx` says that we
-- are the domain's secondary MX; Postfix relays the same way either way.
-- New tables only: an existing database is adopted in place, nothing in it
-- changes.

CREATE TABLE relay_domains (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  domain_id INTEGER NOT NULL UNIQUE REFERENCES virtual_domains (id) ON DELETE RESTRICT,
  nexthop TEXT NOT NULL,
  backup_mx INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE relay_recipients (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  domain_id INTEGER NOT NULL REFERENCES virtual_domains (id) ON DELETE RESTRICT,
  address TEXT NOT NULL UNIQUE
);
CREATE INDEX relay_recipients_domain ON relay_recipients (domain_id);

-- Writes to them raise the domain's edit counter, as writes to its other
-- rows do (0002).
CREATE TRIGGER relay_domains_edited_insert AFTER INSERT ON relay_domains
  BEGIN UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id = NEW.domain_id; END;
CREATE TRIGGER relay_domains_edited_update AFTER UPDATE ON relay_domains
  BEGIN UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id IN (OLD.domain_id, NEW.domain_id); END;
CREATE TRIGGER relay_domains_edited_delete AFTER DELETE ON relay_domains
  BEGIN UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id = OLD.domain_id; END;
CREATE TRIGGER relay_recipients_edited_insert AFTER INSERT ON relay_recipients
  BEGIN UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id = NEW.domain_id; END;
CREATE TRIGGER relay_recipients_edited_update AFTER UPDATE ON relay_recipients
  BEGIN UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id IN (OLD.domain_id, NEW.domain_id); END;
CREATE TRIGGER relay_recipients_edited_delete AFTER DELETE ON relay_recipients
  BEGIN UPDATE mailops_domain_state SET edits = edits + 1 WHERE domain_id = OLD.domain_id; END;

-- Every migration records itself, so that a file applied by hand counts too.
INSERT INTO mailops_schema_migrations (version, name) VALUES (6, 'relay_domains');
