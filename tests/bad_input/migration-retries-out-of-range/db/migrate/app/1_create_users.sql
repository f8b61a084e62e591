-- grant:up retries=1000
CREATE TABLE users (id integer);
