-- First start of the stand-in registry server (empty volume): the image has created the
-- `population` database and the `registry` user (MARIADB_DATABASE / MARIADB_USER); add the
-- legal-entity registry beside it. A real city's registries are separate systems with a
-- read-only account for the hub.
CREATE DATABASE IF NOT EXISTS legal_entity CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
GRANT ALL PRIVILEGES ON legal_entity.* TO 'registry'@'%';
FLUSH PRIVILEGES;
