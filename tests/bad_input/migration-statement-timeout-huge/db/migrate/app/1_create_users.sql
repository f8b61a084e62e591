-- grant:up statement_timeout=99999999999999999999h
CREATE TABLE users (id integer);
