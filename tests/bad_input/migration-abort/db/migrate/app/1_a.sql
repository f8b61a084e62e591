-- grant:up
SELECT 1; ABORT;
