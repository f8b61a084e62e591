-- grant:up
CREATE TABLE t (id int);
-- grant:down
DROP TABLE t;
END;
