CREATE TABLE users (id integer);
-- grant:up
SELECT 1;
