05_copy.sql
-- grant:up
COPY t FROM STDIN;
