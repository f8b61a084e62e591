-- migrate:up
CREATE TABLE t (id int);
-- migrate:down
BEGIN;
DROP TABLE t;
COMMIT;
