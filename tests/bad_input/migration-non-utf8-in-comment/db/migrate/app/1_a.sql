-- grant:up
-- résumé of the change
SELECT 1;
