-- grant:up
SELECT 'À¯';
