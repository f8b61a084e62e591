-- grant:up
CREATE TABLE t (a int);
-- grant:down
DROP TABLE t; -- €
