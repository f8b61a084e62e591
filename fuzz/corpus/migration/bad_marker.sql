04_bad.sql
-- grant:upp
SELECT 1;
-- grant:down retries=x lock_timeout=forever
