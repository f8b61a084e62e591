-- grant:up lock_timeout=abc
CREATE TABLE users (id integer);
