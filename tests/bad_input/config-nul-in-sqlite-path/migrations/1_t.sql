-- grant:up
CREATE TABLE t (id integer);
