020240101120000_create_users.sql
-- grant:up lock_timeout=5s retries=3
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
-- grant:down
DROP TABLE users;
