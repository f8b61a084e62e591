-- grant:up
SELECT 'ÿ';
