-- grant:up
CREATE TABLE t (id int);
  rollback work;
