-- grant:up
CREATE TABLE t (id int);
/* done */ Commit And Chain;
CREATE TABLE u (id int);
