-- grant:up
CREATE TABLE users (id int);
COMMIT;
CREATE INDEX users_id ON users (id);
-- grant:down
DROP TABLE users;
