-- grant:up
CREATE TABLE users (id integer);
