-- grant:up
SELECT 1; -- â‚