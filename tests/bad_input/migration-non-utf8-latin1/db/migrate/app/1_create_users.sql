-- grant:up
CREATE TABLE users (name text DEFAULT 'café');
-- grant:down
DROP TABLE users;
