-- migrate:up
CREATE TABLE t (id int);
COMMIT;
-- migrate:down
DROP TABLE t;
