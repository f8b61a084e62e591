-- grant:up lock_timout=5s
CREATE TABLE users (id integer);
