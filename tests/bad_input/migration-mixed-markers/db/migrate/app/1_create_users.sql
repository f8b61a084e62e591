-- grant:up
CREATE TABLE users (id integer);
-- migrate:down
DROP TABLE users;
