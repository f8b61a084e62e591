-- grant:up
CREATE TABLE users (id integer);
-- grant:down
DROP TABLE users;
