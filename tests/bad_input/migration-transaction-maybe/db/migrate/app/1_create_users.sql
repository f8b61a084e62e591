-- grant:up transaction=maybe
CREATE TABLE users (id integer);
