-- create the users table
-- grant:down
DROP TABLE users;
