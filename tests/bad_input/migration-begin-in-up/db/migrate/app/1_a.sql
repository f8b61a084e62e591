-- grant:up
BEGIN;
CREATE TABLE t (id int);
