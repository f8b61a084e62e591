-- grant:up
CREATE TABLE users (id integer);
COPY users (id) FROM stdin;
1
2
\\.
