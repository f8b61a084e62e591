-- grant:up
CREATE TABLE users (id integer);
-- grant:up
CREATE TABLE orders (id integer);
