-- mailops migration 0001: the routing tables Postfix and Dovecot query, and
-- the bookkeeping tables of `mailops apply`.
--
-- Natural keys are unique (domain name; mailbox address; alias source and
-- destination) and compared byte for byte (utf8mb4_bin): mailops writes them
-- lowercase, and its row diff compares them exactly. A domain cannot be
-- deleted while a mailbox or alias still refers to it (ON DELETE RESTRICT).

CREATE TABLE mailops_schema_migrations (
  version INT NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE virtual_domains (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(253) NOT NULL,
  UNIQUE KEY virtual_domains_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE virtual_users (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  domain_id INT NOT NULL,
  email VARCHAR(254) NOT NULL,
  password VARCHAR(255) NOT NULL,
  quota_bytes BIGINT NOT NULL DEFAULT 0,
  name TEXT NULL,
  UNIQUE KEY virtual_users_email (email),
  KEY virtual_users_domain (domain_id),
  CONSTRAINT virtual_users_domain_fk FOREIGN KEY (domain_id)
    REFERENCES virtual_domains (id) ON DELETE RESTRICT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A catch-all alias has the source `@domain`.
CREATE TABLE virtual_aliases (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  domain_id INT NOT NULL,
  source VARCHAR(254) NOT NULL,
  destination VARCHAR(254) NOT NULL,
  UNIQUE KEY virtual_aliases_source_destination (source, destination),
  KEY virtual_aliases_domain (domain_id),
  KEY virtual_aliases_destination (destination),
  CONSTRAINT virtual_aliases_domain_fk FOREIGN KEY (domain_id)
    REFERENCES virtual_domains (id) ON DELETE RESTRICT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per `mailops apply` that changed something.
CREATE TABLE mailops_apply_log (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  mailops_version VARCHAR(64) NOT NULL,
  git_revision VARCHAR(64) NULL,
  plan_hash VARCHAR(80) NOT NULL,
  rows_inserted INT NOT NULL,
  rows_updated INT NOT NULL,
  rows_deleted INT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every migration records itself, so that a file applied by hand counts too.
INSERT INTO mailops_schema_migrations (version, name) VALUES (1, 'routing_tables');
