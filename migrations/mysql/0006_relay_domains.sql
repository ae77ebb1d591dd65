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
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  domain_id INT NOT NULL,
  nexthop VARCHAR(300) NOT NULL,
  backup_mx TINYINT NOT NULL DEFAULT 0,
  mailops_changed_at DATETIME(6) NOT NULL
    DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  UNIQUE KEY relay_domains_domain (domain_id),
  KEY relay_domains_domain_changed (domain_id, mailops_changed_at),
  CONSTRAINT relay_domains_domain_fk FOREIGN KEY (domain_id)
    REFERENCES virtual_domains (id) ON DELETE RESTRICT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE relay_recipients (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  domain_id INT NOT NULL,
  address VARCHAR(254) NOT NULL,
  mailops_changed_at DATETIME(6) NOT NULL
    DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  UNIQUE KEY relay_recipients_address (address),
  KEY relay_recipients_domain_changed (domain_id, mailops_changed_at),
  CONSTRAINT relay_recipients_domain_fk FOREIGN KEY (domain_id)
    REFERENCES virtual_domains (id) ON DELETE RESTRICT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every migration records itself, so that a file applied by hand counts too.
INSERT INTO mailops_schema_migrations (version, name) VALUES (6, 'relay_domains');
