-- Migration {{version}}_{{name}} for database "{{database}}".
-- The up section applies the change; the down section reverts it. Each runs in a transaction;
-- write `-- grant:up transaction=false` for statements such as CREATE INDEX CONCURRENTLY.
-- Other marker options: lock_timeout=5s, statement_timeout=1min, retries=3.

-- grant:up


-- grant:down

