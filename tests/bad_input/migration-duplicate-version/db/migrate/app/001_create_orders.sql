-- grant:up
CREATE TABLE orders (id integer);
