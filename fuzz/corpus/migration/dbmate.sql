020240102000000_add_index.sql
-- migrate:up transaction:false
CREATE INDEX CONCURRENTLY users_email ON users (email);

-- migrate:down
DROP INDEX users_email;
