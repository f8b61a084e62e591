-- Migration {{version}}_{{name}} for database "{{database}}".
-- The up section applies the change; the down section reverts it. Each runs in a transaction;
-- write `-- grant:up transaction=false` for statements such as CREATE INDEX CONCURRENTLY.

-- grant:up


-- grant:down

