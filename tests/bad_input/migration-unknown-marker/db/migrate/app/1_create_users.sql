-- grant:upp
CREATE TABLE users (id integer);
