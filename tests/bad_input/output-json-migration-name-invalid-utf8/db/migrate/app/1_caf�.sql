-- grant:up
SELECT 1;
